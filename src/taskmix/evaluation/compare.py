"""Compare two evaluation runs: accuracy differences with paired bootstrap intervals.

For every (dataset, setting) scored by both runs, the difference B - A is computed on the
examples both runs scored (matched by example uid) with a seeded paired bootstrap
interval; per setting, the average difference over shared datasets uses a stratified
paired bootstrap (:func:`taskmix.evaluation.stats.paired_bootstrap_difference`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..seeding import derive_seed
from .results import AVERAGE, EvalRun, ordered, read_run
from .stats import DEFAULT_BOOTSTRAP, paired_bootstrap_difference


@dataclass(frozen=True)
class Difference:
    """Accuracy of run B minus run A on ``n`` shared examples, with a 95% interval."""

    task: str
    setting: str
    n: int
    acc_a: float
    acc_b: float
    diff: float
    ci_low: float
    ci_high: float


def _outcomes(run: EvalRun) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    for p in run.predictions:
        out.setdefault((p.task, p.setting), {})[p.example_uid] = float(p.correct)
    return out


def compare_runs(a: EvalRun, b: EvalRun, seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP) -> tuple[Difference, ...]:
    """Differences per shared (dataset, setting), then an ``average`` row per setting."""
    oa, ob = _outcomes(a), _outcomes(b)
    keys = [k for k in ordered(list(oa) + list(ob)) if k in oa and k in ob]
    rows: list[Difference] = []
    per_setting: dict[str, tuple[list, list]] = {}
    for task, setting in keys:
        uids = sorted(set(oa[(task, setting)]) & set(ob[(task, setting)]))
        if not uids:
            continue
        xa = [oa[(task, setting)][u] for u in uids]
        xb = [ob[(task, setting)][u] for u in uids]
        d, lo, hi = paired_bootstrap_difference([xa], [xb], derive_seed(seed, task, setting) % 2**32, n_boot)
        rows.append(Difference(task, setting, len(uids), sum(xa) / len(xa), sum(xb) / len(xb), d, lo, hi))
        ga, gb = per_setting.setdefault(setting, ([], []))
        ga.append(xa)
        gb.append(xb)
    for setting, (ga, gb) in per_setting.items():
        if len(ga) < 2:
            continue
        d, lo, hi = paired_bootstrap_difference(ga, gb, derive_seed(seed, AVERAGE, setting) % 2**32, n_boot)
        acc_a = sum(sum(g) / len(g) for g in ga) / len(ga)
        acc_b = sum(sum(g) / len(g) for g in gb) / len(gb)
        rows.append(Difference(AVERAGE, setting, sum(len(g) for g in ga), acc_a, acc_b, d, lo, hi))
    return tuple(rows)


def compare_folders(folder_a: str | Path, folder_b: str | Path, seed: int = 0) -> tuple[EvalRun, EvalRun, tuple[Difference, ...]]:
    a, b = read_run(folder_a), read_run(folder_b)
    return a, b, compare_runs(a, b, seed)


def format_differences(rows: tuple[Difference, ...], name_a: str, name_b: str) -> str:
    """A plain-text table of the differences (percentage points)."""
    if not rows:
        return "no (dataset, setting) pair was scored by both runs\n"
    head = f"{'dataset':<32} {'setting':<16} {'n':>5} {'A %':>6} {'B %':>6} {'B-A (pp) [95% CI]':>26}"
    lines = [f"A = {name_a}", f"B = {name_b}", head, "-" * len(head)]
    for r in rows:
        mark = " *" if r.ci_low > 0 or r.ci_high < 0 else ""
        lines.append(
            f"{r.task:<32} {r.setting:<16} {r.n:>5} {100 * r.acc_a:>6.1f} {100 * r.acc_b:>6.1f} "
            f"{100 * r.diff:>+8.1f} [{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}]{mark}"
        )
    if any(r.ci_low > 0 or r.ci_high < 0 for r in rows):
        lines.append("* the 95% paired bootstrap interval excludes 0")
    return "\n".join(lines) + "\n"
