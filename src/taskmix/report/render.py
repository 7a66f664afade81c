"""Render an experiment report as Markdown (with PNG files beside it) and as one
self-contained HTML file (images inlined as base64, no external resources).

Sections: a summary of average accuracy per setting for each evaluated model with the
tuned-minus-base difference (paired bootstrap interval), accuracy per dataset for every
setting, the training loss curve, the selected tasks with their scores, and the exact
config and package versions.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..evaluation.compare import compare_runs
from ..evaluation.results import read_run
from ..fileio import atomic_write_bytes, atomic_write_text
from ..records import Score
from ..training.rundir import read_loss_log
from . import plots


@dataclass(frozen=True)
class SelectionRow:
    rank: int
    name: str
    score: float
    category: str | None = None
    source_dataset: str | None = None


@dataclass(frozen=True)
class ReportInput:
    """Everything a report shows; paths point at the stages' own outputs.

    ``evals`` are (label, evaluation run folder) pairs in display order; the first is the
    baseline the others are compared against.
    """

    title: str
    run_dir: Path
    config_yaml: str
    versions: tuple[tuple[str, str], ...] = ()
    evals: tuple[tuple[str, Path], ...] = ()
    loss_log: Path | None = None
    selection_target: str | None = None
    selection: tuple[SelectionRow, ...] = ()
    stages: tuple[tuple[str, float, bool], ...] = ()  # (name, seconds, skipped)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _cell(s: Score | None) -> str:
    return "n/a" if s is None else f"{_pct(s.accuracy)} [{_pct(s.ci_low)}, {_pct(s.ci_high)}]"


class _Doc:
    """Builds the Markdown and the HTML of the report side by side."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.md += ["#" * level + " " + text, ""]
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def para(self, text: str) -> None:
        self.md += [text, ""]
        self.html.append(f"<p>{html.escape(text)}</p>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.md.append("| " + " | ".join(header) + " |")
        self.md.append("|" + "---|" * len(header))
        self.md += ["| " + " | ".join(r) + " |" for r in rows]
        self.md.append("")
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        self.html.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def image(self, folder: Path, name: str, png: bytes, alt: str) -> None:
        atomic_write_bytes(folder / name, png)
        self.md += [f"![{alt}]({name})", ""]
        data = base64.b64encode(png).decode("ascii")
        self.html.append(f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>')

    def code(self, text: str) -> None:
        self.md += ["```yaml", text.rstrip("\n"), "```", ""]
        self.html.append(f"<pre>{html.escape(text)}</pre>")


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #4C72B0;padding-bottom:.2em}h2{margin-top:1.6em;color:#2b4a7a}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#eef2f8}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
.meta{color:#666;font-size:.9em}
"""


def _eval_section(doc: _Doc, folder: Path, evals: Sequence[tuple[str, Path]]) -> None:
    runs = {label: read_run(path) for label, path in evals}
    labels = list(runs)
    settings = list(dict.fromkeys(s.setting for r in runs.values() for s in r.averages + r.scores))
    doc.heading("Accuracy per setting")
    doc.para(
        "Accuracy (%) with 95% intervals: Wilson per dataset; averages are unweighted means over "
        "datasets with a stratified bootstrap interval. Differences use a paired bootstrap over the "
        "examples both models saw."
    )
    diffs = {}
    if len(labels) >= 2:
        base = runs[labels[0]]
        for other in labels[1:]:
            diffs[other] = {(d.task, d.setting): d for d in compare_runs(base, runs[other])}
    header = ["setting"] + labels + [f"{o} - {labels[0]} (pp)" for o in diffs]
    rows = []
    for st in settings:
        row = [st]
        for label in labels:
            s = next((a for a in runs[label].averages if a.setting == st), None)
            if s is None:  # a single dataset: its own score is the average
                only = [x for x in runs[label].scores if x.setting == st]
                s = only[0] if len(only) == 1 else None
            row.append(_cell(s))
        for other, by_key in diffs.items():
            d = by_key.get(("average", st))
            if d is None:
                tasks = [k for k in by_key if k[1] == st]
                d = by_key[tasks[0]] if len(tasks) == 1 else None
            row.append("n/a" if d is None else f"{100 * d.diff:+.1f} [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}]")
        rows.append(row)
    doc.table(header, rows)
    avg_scores = {label: r.averages or r.scores for label, r in runs.items()}
    doc.image(folder, "report_accuracy_by_setting.png", plots.accuracy_by_setting(avg_scores), "accuracy per setting")
    doc.heading("Accuracy per dataset")
    tasks = list(dict.fromkeys(s.task for r in runs.values() for s in r.scores))
    for st in settings:
        by = {label: {s.task: s for s in r.scores if s.setting == st} for label, r in runs.items()}
        rows = [[t] + [_cell(by[label].get(t)) for label in labels] for t in tasks if any(t in by[x] for x in labels)]
        if rows:
            doc.heading(st, 3)
            doc.table(["dataset"] + labels, rows)
    doc.image(folder, "report_accuracy_by_dataset.png", plots.accuracy_by_dataset({k: r.scores for k, r in runs.items()}, settings), "accuracy per dataset")


def write_report(report: ReportInput, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (+ PNGs) and ``report.html`` into ``out_dir``; returns both paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    doc = _Doc()
    doc.heading(report.title, 1)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc.para(f"Run folder: {report.run_dir} - written {stamp}")
    if report.stages:
        doc.table(["stage", "seconds", "status"], [[n, f"{s:.1f}", "reused" if skipped else "ran"] for n, s, skipped in report.stages])
    if report.evals:
        _eval_section(doc, folder, report.evals)
    if report.loss_log is not None and Path(report.loss_log).is_file():
        rows = read_loss_log(Path(report.loss_log).parent)
        if rows:
            doc.heading("Training")
            first, last = rows[0], rows[-1]
            doc.para(f"{len(rows)} logged steps; loss {first['loss']:.4f} at step {first['step']} -> {last['loss']:.4f} at step {last['step']}.")
            doc.image(folder, "report_loss.png", plots.loss_curve(rows), "training loss")
    if report.selection:
        doc.heading("Selected tasks")
        if report.selection_target:
            doc.para(f"Target: {report.selection_target}")
        doc.table(
            ["rank", "task", "score", "category", "source dataset"],
            [[str(r.rank), r.name, f"{r.score:.4f}", r.category or "", r.source_dataset or ""] for r in report.selection],
        )
    doc.heading("Config")
    doc.code(report.config_yaml)
    if report.versions:
        doc.heading("Versions")
        doc.table(["package", "version"], [list(v) for v in report.versions])
    md_path = atomic_write_text(folder / "report.md", "\n".join(doc.md) + "\n")
    body = "\n".join(doc.html)
    page = (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(report.title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
    html_path = atomic_write_text(folder / "report.html", page)
    return md_path, html_path
