"""Report figures (matplotlib, Agg): PNG bytes, so the HTML can inline them."""

from __future__ import annotations

import io
from typing import Any, Mapping, Sequence

from ..evaluation.plots import draw_chance
from ..records import Score

COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _chance(ax: Any, groups: Sequence[str], chance: Mapping[str, float | None] | None) -> None:
    """A dashed random-guess segment over each group that has a baseline."""
    if chance:
        draw_chance(ax, [chance.get(g) for g in groups])


def _bars(ax: Any, groups: Sequence[str], runs: dict[str, dict[str, Score]], names: Mapping[str, str] | None = None) -> None:
    width = 0.8 / max(1, len(runs))
    for j, (label, by_group) in enumerate(runs.items()):
        xs, acc, lo, hi = [], [], [], []
        for i, g in enumerate(groups):
            s = by_group.get(g)
            if s is None:
                continue
            xs.append(i + (j - (len(runs) - 1) / 2) * width)
            acc.append(100 * s.accuracy)
            lo.append(100 * max(0.0, s.accuracy - s.ci_low))
            hi.append(100 * max(0.0, s.ci_high - s.accuracy))
        ax.bar(xs, acc, width=width, yerr=[lo, hi], capsize=3, label=label, color=COLORS[j % len(COLORS)])
    labels = [(names or {}).get(g, g) for g in groups]
    ax.set_xticks(list(range(len(groups))), labels, rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.grid(axis="y", alpha=0.3)


def accuracy_by_setting(runs: dict[str, Sequence[Score]], chance: Mapping[str, float | None] | None = None) -> bytes:
    """Average accuracy per setting, one bar per model run, with 95% intervals, and the
    random-guess baseline per setting (``chance``: setting -> baseline) as a dashed line."""
    plt = _pyplot()
    settings = list(dict.fromkeys(s.setting for scores in runs.values() for s in scores))
    by_run = {label: {s.setting: s for s in scores} for label, scores in runs.items()}
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(settings)), 3.6))
    _bars(ax, settings, by_run)
    _chance(ax, settings, chance)
    ax.set_title("Average accuracy per setting")
    ax.legend(fontsize=8)
    data = _png(fig)
    plt.close(fig)
    return data


def accuracy_by_dataset(
    runs: dict[str, Sequence[Score]],
    settings: Sequence[str],
    chance: Mapping[str, float | None] | None = None,
    names: Mapping[str, str] | None = None,
) -> bytes:
    """One panel per setting: accuracy per dataset, one bar per model run, the random-guess
    baseline per dataset (``chance``: task -> baseline) dashed; ``names``: display names."""
    plt = _pyplot()
    tasks = list(dict.fromkeys(s.task for scores in runs.values() for s in scores))
    n = max(1, len(settings))
    fig, axes = plt.subplots(n, 1, figsize=(max(6.0, 0.9 * len(tasks) + 2), 2.8 * n), squeeze=False)
    for ax, setting in zip(axes[:, 0], settings):
        by_run = {label: {s.task: s for s in scores if s.setting == setting} for label, scores in runs.items()}
        _bars(ax, tasks, by_run, names)
        _chance(ax, tasks, chance)
        ax.set_title(setting, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    data = _png(fig)
    plt.close(fig)
    return data


def loss_curve(rows: Sequence[dict[str, Any]]) -> bytes:
    """Training loss per optimizer step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1.2, color=COLORS[0])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("target-token loss")
    ax.grid(alpha=0.3)
    ax.set_title("Training loss")
    data = _png(fig)
    plt.close(fig)
    return data
