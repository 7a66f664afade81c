"""Render an experiment report as Markdown (with PNG files beside it) and as one
self-contained HTML file (images inlined as base64, no external resources).

Sections: first, in words, what changed (tuned vs base per setting, with the 95% interval
and whether it excludes 0) and which cells give one answer to most queries; then average
accuracy and balanced accuracy per setting for each evaluated model with the
tuned-minus-base differences (paired cluster bootstrap intervals) and the random-guess
baseline, accuracy per dataset for every setting (flagging cells where one answer exceeds
80% of the queries), the training loss curve, the selected tasks with their scores, and
the exact config and package versions.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import TaskmixError
from ..evaluation.compare import compare_runs, describe, headline, interval_text
from ..evaluation.results import INTERVALS_NOTE, format_score, read_run
from ..evaluation.summary import AVERAGE, mean_chance, run_diagnostics
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
    baseline the others are compared against. ``display_names`` optionally maps task
    names to the short names the dataset tables and plots show.
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
    display_names: Mapping[str, str] | None = None  # task name -> short name (e.g. the paper's abbreviation)


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

    def bullets(self, items: Sequence[str]) -> None:
        self.md += [f"- {t}" for t in items] + [""]
        self.html.append("<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>")

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


@dataclass(frozen=True)
class _Evals:
    """The evaluation runs of a report, their diagnostics and the comparisons with the first."""

    runs: dict[str, Any]
    diagnostics: dict[str, dict[tuple[str, str], Any]]
    diffs: dict[str, dict[tuple[str, str], Any]]
    refused: dict[str, str]  # label -> why it could not be compared with the first


def _load_evals(evals: Sequence[tuple[str, Path]]) -> _Evals:

    runs = {label: read_run(path) for label, path in evals}
    diagnostics = {label: run_diagnostics(r.scores, r.averages, r.predictions) for label, r in runs.items()}
    labels = list(runs)
    diffs, refused = {}, {}
    for other in labels[1:]:
        try:
            diffs[other] = {(d.task, d.setting): d for d in compare_runs(runs[labels[0]], runs[other])}
        except TaskmixError as e:  # a report is never worth failing over: say why instead
            refused[other] = str(e)
    return _Evals(runs, diagnostics, diffs, refused)


def _summary(doc: _Doc, ev: _Evals, names: Mapping[str, str]) -> None:
    """The report's first lines: what changed, in words, and cells stuck on one answer."""

    labels = list(ev.runs)
    lines = []
    for other, by_key in ev.diffs.items():
        lines += describe(list(by_key.values()), labels[0], other, names)
    for other, why in ev.refused.items():
        lines.append(f"{other} vs {labels[0]}: not compared ({why}).")
    if len(labels) == 1:
        lines.append(f"One evaluated model ({labels[0]}): nothing to compare.")
    for label, run in ev.runs.items():
        flagged = sum(1 for s in run.scores if (d := ev.diagnostics[label].get((s.task, s.setting))) and d.one_answer)
        if flagged:
            lines.append(f"{label}: {flagged} of {len(run.scores)} dataset x setting cells give one answer to more "
                         "than 80% of their queries; their accuracy mostly measures that default answer.")
    doc.heading("What changed")
    doc.bullets(lines)


def _setting_score(run: Any, setting: str) -> Score | None:
    s = next((a for a in run.averages if a.setting == setting), None)
    if s is None:  # a single dataset: its own score is the average
        only = [x for x in run.scores if x.setting == setting]
        s = only[0] if len(only) == 1 else None
    return s


def _diff_cell(d: Any, balanced: bool = False) -> str:

    return "n/a" if d is None else interval_text(d, balanced)


def _eval_section(doc: _Doc, folder: Path, ev: _Evals, names: Mapping[str, str]) -> None:

    runs = ev.runs
    labels = list(runs)
    settings = list(dict.fromkeys(s.setting for r in runs.values() for s in r.averages + r.scores))
    doc.heading("Accuracy per setting")
    doc.para(INTERVALS_NOTE + " Differences use a paired bootstrap over the examples both models saw, "
             "resampling demonstration sets.")
    first = ev.diagnostics[labels[0]]
    chance, n_chance = mean_chance(first)
    if chance is not None:
        doc.para(f"Random-guess baseline: {100 * chance:.1f}% on average over {n_chance} classification datasets.")
    heads = {other: headline(list(by_key.values())) for other, by_key in ev.diffs.items()}
    header = (["setting", "random"] + labels + [f"{o} - {labels[0]} (pp)" for o in heads]
              + [f"bal. {o} - {labels[0]} (pp)" for o in heads])
    rows = []
    chance_by_setting: dict[str, float | None] = {}
    for st in settings:
        s0 = _setting_score(runs[labels[0]], st)
        d0 = None if s0 is None else first.get((s0.task, s0.setting))
        chance_by_setting[st] = None if d0 is None else d0.chance
        row = [st, "" if chance_by_setting[st] is None else f"{100 * chance_by_setting[st]:.1f}"]
        for label in labels:
            s = _setting_score(runs[label], st)
            row.append(format_score(s, None if s is None else ev.diagnostics[label].get((s.task, s.setting))))
        row += [_diff_cell(h.get(st)) for h in heads.values()]
        row += [_diff_cell(h.get(st), balanced=True) for h in heads.values()]
        rows.append(row)
    doc.table(header, rows)
    avg_scores = {label: r.averages or r.scores for label, r in runs.items()}
    doc.image(folder, "report_accuracy_by_setting.png", plots.accuracy_by_setting(avg_scores, chance_by_setting),
              "accuracy per setting")
    doc.heading("Accuracy per dataset")
    tasks = list(dict.fromkeys(s.task for r in runs.values() for s in r.scores))
    task_chance = {t: d.chance for (t, _), d in first.items() if t != AVERAGE and d.chance is not None}
    for st in settings:
        by = {label: {s.task: s for s in r.scores if s.setting == st} for label, r in runs.items()}
        rows = [[names.get(t, t), "" if t not in task_chance else f"{100 * task_chance[t]:.1f}"]
                + [format_score(by[label].get(t), ev.diagnostics[label].get((t, st))) for label in labels]
                for t in tasks if any(t in by[x] for x in labels)]
        if rows:
            doc.heading(st, 3)
            doc.table(["dataset", "random"] + labels, rows)
    doc.image(folder, "report_accuracy_by_dataset.png",
              plots.accuracy_by_dataset({k: r.scores for k, r in runs.items()}, settings, task_chance, names),
              "accuracy per dataset")


def write_report(report: ReportInput, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (+ PNGs) and ``report.html`` into ``out_dir``; returns both paths."""

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    doc = _Doc()
    doc.heading(report.title, 1)
    evals = _load_evals(report.evals) if report.evals else None
    names = report.display_names or {}
    if evals is not None:
        _summary(doc, evals, names)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc.para(f"Run folder: {report.run_dir} - written {stamp}")
    if report.stages:
        doc.table(["stage", "seconds", "status"], [[n, f"{s:.1f}", "reused" if skipped else "ran"] for n, s, skipped in report.stages])
    if evals is not None:
        _eval_section(doc, folder, evals, names)
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
