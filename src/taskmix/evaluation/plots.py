"""Plots of an evaluation run (matplotlib, Agg backend, written atomically as PNG)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..fileio import atomic_write_bytes
from ..records import Score
from .summary import AVERAGE, Diagnostics, run_diagnostics


class PlottedRun(Protocol):
    """What the plots read of an evaluation run."""

    model: str
    scores: Sequence[Score]  # one per (dataset, setting)
    averages: Sequence[Score]  # one per setting, over the datasets
    predictions: Iterable[Any]  # for the diagnostics of runs that do not carry them


def ordered(values: Iterable[str]) -> list[str]:
    """Unique values in first-seen order."""
    return list(dict.fromkeys(values))

CHANCE_STYLE = dict(color="black", linestyle="--", linewidth=1.0)

BY_SETTING, BY_DATASET = "accuracy_by_setting.png", "accuracy_by_dataset.png"
PLOT_FILES = (BY_SETTING, BY_DATASET)


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def draw_chance(ax: Any, chance: Sequence[float | None], half_width: float = 0.45) -> bool:
    """A dashed random-guess segment over each group ``i`` with a baseline (``None``: none);
    labelled once for the legend. Returns whether anything was drawn."""
    drawn = False
    for i, c in enumerate(chance):
        if c is None:
            continue
        ax.hlines(100 * c, i - half_width, i + half_width, label=None if drawn else "random guess", **CHANCE_STYLE)
        drawn = True
    return drawn


def write_plots(out: str | Path, run: PlottedRun, diagnostics: Mapping[tuple[str, str], Diagnostics] | None = None) -> list[Path]:
    """``accuracy_by_setting.png`` (average per setting with intervals) and
    ``accuracy_by_dataset.png`` (grouped bars: dataset x setting with intervals), each with
    the random-guess baseline as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if diagnostics is None:
        diagnostics = run_diagnostics(run.scores, run.averages, run.predictions)
    out = Path(out)
    written: list[Path] = []
    settings = ordered(s.setting for s in run.scores)
    tasks = ordered(s.task for s in run.scores)
    by_key = {(s.task, s.setting): s for s in run.scores}

    def chance(task: str, setting: str | None = None) -> float | None:
        found = [d.chance for (t, st), d in diagnostics.items() if t == task and setting in (None, st)]
        return next((c for c in found if c is not None), None)

    if run.averages:
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(run.averages)), 3.5))
        xs = range(len(run.averages))
        acc = [100 * s.accuracy for s in run.averages]
        err = [[100 * max(0.0, s.accuracy - s.ci_low) for s in run.averages],
               [100 * max(0.0, s.ci_high - s.accuracy) for s in run.averages]]
        ax.bar(xs, acc, yerr=err, capsize=4, color="#4C72B0")
        if draw_chance(ax, [chance(AVERAGE, s.setting) for s in run.averages]):
            ax.legend(fontsize=7)
        ax.set_xticks(list(xs), [s.setting for s in run.averages], rotation=20, ha="right")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{run.model}: average over {len(tasks)} datasets")
        _save(fig, out / BY_SETTING)
        plt.close(fig)
        written.append(out / BY_SETTING)

    if tasks:
        width = 0.8 / max(1, len(settings))
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(tasks) * max(1, len(settings)) * 0.35 + 2), 4))
        for j, setting in enumerate(settings):
            xs, acc, lo, hi = [], [], [], []
            for i, task in enumerate(tasks):
                s = by_key.get((task, setting))
                if s is None:
                    continue
                xs.append(i + (j - (len(settings) - 1) / 2) * width)
                acc.append(100 * s.accuracy)
                lo.append(100 * max(0.0, s.accuracy - s.ci_low))
                hi.append(100 * max(0.0, s.ci_high - s.accuracy))
            ax.bar(xs, acc, width=width, yerr=[lo, hi], capsize=2, label=setting)
        draw_chance(ax, [chance(task) for task in tasks])
        ax.set_xticks(list(range(len(tasks))), tasks, rotation=30, ha="right")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(f"{run.model}: accuracy per dataset")
        _save(fig, out / BY_DATASET)
        plt.close(fig)
        written.append(out / BY_DATASET)
    return written
