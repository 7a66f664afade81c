"""Compare two evaluation runs: accuracy and balanced-accuracy differences with paired
cluster bootstrap intervals.

Predictions pair up by (seed, task, setting, example uid), seeds pooled; runs with other
seed lists pair on the seeds both evaluated (a seed's prompts depend on that seed alone).
Both runs must have been shown the same prompts (same prompt-shaping config, and every
pair the same answer options, format, exemplar count and demonstration set); otherwise,
or when nothing pairs, :func:`compare_runs` refuses in one line. For every (dataset,
setting) the difference B - A has a 95% interval that resamples demonstration sets
(clusters) and uses them for both runs; per setting, the average difference over datasets
resamples them within each dataset (:func:`taskmix.evaluation.stats.paired_cluster_bootstrap`).
With one query per demonstration set this is the per-example paired bootstrap. Beside
the differences, each row says how often the two runs gave the same answer (``agree``):
near 1 for the same model under another dtype or back-end, lower where tuning changed it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import TaskmixError
from ..seeding import derive_seed
from .results import AVERAGE, PREDICTIONS_FILE, EvalRun, ordered, read_run
from .stats import DEFAULT_BOOTSTRAP, Outcomes, balanced_accuracy, cluster_index, paired_cluster_bootstrap

#: Config fields that shape the prompts: runs differing in one were shown other prompts
#: (the seeds say which prompts a run holds; compare pairs the seeds two runs share).
PROMPT_FIELDS = ("seed", "seeds", "k", "format", "block_size", "effective_block_size", "shared_demos", "max_examples", "eval_split",
                 "text_field", "label_field")
#: The fields of :data:`PROMPT_FIELDS` that list a run's seeds (``seeds``, else ``seed``).
SEED_FIELDS = ("seed", "seeds")
#: Per-prediction fields that must agree between the two predictions of a pair.
PAIR_FIELDS = ("answer", "target", "candidates", "format_name", "n_exemplars", "dropped_exemplars", "demo_set")


@dataclass(frozen=True)
class Difference:
    """Run B minus run A on ``n`` paired queries, with 95% intervals: accuracy, and (for
    classification; ``None`` otherwise) balanced accuracy. ``clusters``: demonstration sets."""

    task: str
    setting: str
    n: int
    acc_a: float
    acc_b: float
    diff: float
    ci_low: float
    ci_high: float
    bal_a: float | None = None
    bal_b: float | None = None
    bal_diff: float | None = None
    bal_low: float | None = None
    bal_high: float | None = None
    clusters: int = 0
    no_interval: bool = False  # a dataset's queries all share one demonstration set (intervals -1 .. 1)
    agree: float = 0.0  # share of the paired queries both runs answered alike (label index or generated text)

    @property
    def excludes_zero(self) -> bool:
        return not self.no_interval and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def bal_excludes_zero(self) -> bool:
        return (not self.no_interval and self.bal_low is not None and self.bal_high is not None
                and (self.bal_low > 0 or self.bal_high < 0))


def check_same_prompts(a: EvalRun, b: EvalRun) -> None:
    """Refuse (one line) two runs whose configs differ in a prompt-shaping field other than
    their seeds (pairs are matched by seed, and every pair is checked on its own)."""
    changed = [k for k in PROMPT_FIELDS if k not in SEED_FIELDS and a.config.get(k) != b.config.get(k)]
    if changed:
        k = changed[0]
        raise TaskmixError(f"the runs were shown different prompts ({k}: {a.config.get(k)!r} vs {b.config.get(k)!r}); "
                           "compare pairs two models evaluated with the same protocol")
    if not set(a.run_seeds) & set(b.run_seeds):
        raise TaskmixError(f"the runs share no seed ({', '.join(map(str, a.run_seeds))} vs "
                           f"{', '.join(map(str, b.run_seeds))}); compare pairs queries made with the same seed")


def prompts_digest(run: EvalRun) -> str:
    """A short hash of what a run was shown: its prompt-shaping config and, per prediction in
    pair-key order, the fields two paired predictions must share. Two runs with the same digest
    pair up as :func:`compare_runs` pairs them; any other model's run on the same prompts has it too."""
    rows = sorted(((_pair_key(p), _shown(p)) for p in run.predictions), key=lambda r: r[0])
    config = [(k, run.config.get(k)) for k in PROMPT_FIELDS]
    return hashlib.sha256(repr((config, rows)).encode()).hexdigest()[:16]


def _pair_key(p: Any) -> tuple:
    return p.seed, p.task, p.setting, p.example_uid


def _shown(p: Any) -> tuple:
    """What a prediction's prompt showed that its pair must share (:data:`PAIR_FIELDS`)."""
    return tuple(getattr(p, f) for f in PAIR_FIELDS)


def _signature(p: Any) -> int:
    return hash(_shown(p))


def _given(p: Any) -> Any:
    """The answer a prediction gave: the label index, or the generated text."""
    return p.prediction if p.prediction is not None else p.generated


def _refuse_mismatch(a: EvalRun, q: Any) -> None:
    """The one-line refusal for a pair shown different prompts, naming the first field."""
    p = next(p for p in a.predictions if _pair_key(p) == _pair_key(q))
    field = next(f for f in PAIR_FIELDS if getattr(p, f) != getattr(q, f))
    raise TaskmixError(f"the runs were shown different prompts: {q.task} / {q.setting} example {q.example_uid!r} "
                       f"(seed {q.seed}) has {field} {getattr(p, field)!r} vs {getattr(q, field)!r}")


def _paired_cells(a: EvalRun, b: EvalRun) -> dict[tuple[str, str], list[tuple]]:
    """Per (task, setting), in A's order: sorted ``(seed, uid, correct A, correct B, answer,
    demo_set, same answer)`` of every pair; refuses pairs that were not shown the same prompt."""
    first: dict[tuple, tuple] = {}  # pair key -> (correct, answer, demo_set, signature, given): A is read once
    cells: dict[tuple[str, str], list[tuple]] = {}
    for p in a.predictions:
        first[_pair_key(p)] = (p.correct, p.answer, p.demo_set, _signature(p), _given(p))
        cells.setdefault((p.task, p.setting), [])
    for q in b.predictions:
        found = first.get(_pair_key(q))
        if found is None:
            continue
        correct, answer, demo_set, signature, given = found
        if signature != _signature(q):
            _refuse_mismatch(a, q)
        cells[(q.task, q.setting)].append((q.seed, q.example_uid, correct, q.correct, answer, demo_set, given == _given(q)))
    cells = {k: sorted(v) for k, v in cells.items() if v}
    if not cells:
        raise TaskmixError("the runs share no scored example (pairs are matched by seed, task, setting and "
                           "example uid): nothing to compare")
    return cells


@dataclass(frozen=True)
class _PairedCell:
    """One (dataset, setting)'s paired outcomes: A's and B's, and the share answered alike."""

    a: Outcomes
    b: Outcomes
    agree: float


def _paired_cell(rows: Sequence[tuple]) -> _PairedCell:
    import numpy as np

    keys = [f"{seed}\x1f{demo}" if demo else f"\x1e{i}" for i, (seed, _, _, _, _, demo, _) in enumerate(rows)]
    clusters = cluster_index(keys)
    classified = all(r[4] is not None for r in rows)
    answers = np.array([r[4] for r in rows], dtype=np.int64) if classified else None
    ca = np.array([r[2] for r in rows], dtype=float)
    cb = np.array([r[3] for r in rows], dtype=float)
    agree = sum(r[6] for r in rows) / len(rows)
    return _PairedCell(Outcomes(ca, clusters, answers), Outcomes(cb, clusters, answers), agree)


def _difference(task: str, setting: str, cells: Sequence[_PairedCell], seed: int, n_boot: int) -> Difference:
    ga, gb = [c.a for c in cells], [c.b for c in cells]
    d, lo, hi = paired_cluster_bootstrap(ga, gb, seed, n_boot)
    none = any(a.one_block for a in ga)
    if none:  # one demonstration set: no spread between sets to resample
        lo, hi = -1.0, 1.0
    acc_a = sum(float(a.correct.mean()) for a in ga) / len(ga)
    acc_b = sum(float(b.correct.mean()) for b in gb) / len(gb)
    bal: dict[str, Any] = {}
    cls = [(a, b) for a, b in zip(ga, gb) if a.answers is not None]
    if cls:
        bd, blo, bhi = paired_cluster_bootstrap([a for a, _ in cls], [b for _, b in cls], seed, n_boot, balanced=True)
        if none:
            blo, bhi = -1.0, 1.0
        bal = dict(bal_a=sum(balanced_accuracy(a.correct, a.answers) for a, _ in cls) / len(cls),
                   bal_b=sum(balanced_accuracy(b.correct, b.answers) for _, b in cls) / len(cls),
                   bal_diff=bd, bal_low=blo, bal_high=bhi)
    return Difference(task, setting, sum(len(a) for a in ga), acc_a, acc_b, d, lo, hi,
                      clusters=sum(a.n_clusters for a in ga), no_interval=none,
                      agree=sum(c.agree for c in cells) / len(cells), **bal)


#: Pooled rows :func:`compare_runs` can add: name -> the settings averaged together.
SYMBOLS_MEAN = {"symbols_mean": ("instr_symbols", "noinstr_symbols")}


def compare_runs(a: EvalRun, b: EvalRun, seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP,
                 pools: Mapping[str, Sequence[str]] | None = None) -> tuple[Difference, ...]:
    """Differences per shared (dataset, setting), then an ``average`` row per setting with
    two or more datasets. ``pools`` (e.g. :data:`SYMBOLS_MEAN`) adds an ``average`` row per
    name: the unweighted mean over every (dataset, setting) cell of its settings, with one
    paired cluster bootstrap over all of them (each cell resampled within itself), so the
    mean of the two symbol settings gets its own interval; a pool is left out unless every
    one of its settings was compared. Raises :class:`TaskmixError` when the runs were
    shown different prompts or share no example."""
    check_same_prompts(a, b)
    cells = _paired_cells(a, b)
    rows: list[Difference] = []
    per_setting: dict[str, list[_PairedCell]] = {}
    for (task, setting), pairs in cells.items():
        cell = _paired_cell(pairs)
        rows.append(_difference(task, setting, [cell], derive_seed(seed, task, setting) % 2**32, n_boot))
        per_setting.setdefault(setting, []).append(cell)
    for setting, groups in per_setting.items():
        if len(groups) >= 2:
            rows.append(_difference(AVERAGE, setting, groups, derive_seed(seed, AVERAGE, setting) % 2**32, n_boot))
    for name, settings in (pools or {}).items():
        if settings and all(s in per_setting for s in settings):
            groups = [g for s in settings for g in per_setting[s]]
            rows.append(_difference(AVERAGE, name, groups, derive_seed(seed, AVERAGE, name) % 2**32, n_boot))
    return tuple(rows)


def compare_folders(folder_a: str | Path, folder_b: str | Path, seed: int = 0) -> tuple[EvalRun, EvalRun, tuple[Difference, ...]]:
    runs = []
    for folder in (folder_a, folder_b):
        run = read_run(folder)
        if not (Path(folder) / PREDICTIONS_FILE).is_file():
            raise TaskmixError(f"{folder}: no {PREDICTIONS_FILE} (compare pairs the runs' predictions)")
        runs.append(run)
    a, b = runs
    return a, b, compare_runs(a, b, seed)


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def interval_text(r: Difference, balanced: bool = False) -> str:
    """``+d [low, high]`` in percentage points (``balanced``: of balanced accuracy)."""
    d, lo, hi = (r.bal_diff, r.bal_low, r.bal_high) if balanced else (r.diff, r.ci_low, r.ci_high)
    if d is None:
        return "n/a"
    if r.no_interval:
        return f"{_pp(d)} [no interval]"
    return f"{_pp(d)} [{_pp(lo)}, {_pp(hi)}]"


def headline(rows: Sequence[Difference]) -> dict[str, Difference]:
    """Per setting, the row that sums it up: its average over datasets, or its only dataset."""
    out: dict[str, Difference] = {}
    for setting in ordered(r.setting for r in rows):
        of = [r for r in rows if r.setting == setting]
        avg = [r for r in of if r.task == AVERAGE]
        if avg or len(of) == 1:
            out[setting] = (avg or of)[0]
    return out


def describe(rows: Sequence[Difference], name_a: str, name_b: str, names: Mapping[str, str] | None = None) -> list[str]:
    """One sentence per setting saying what changed from A to B and whether the 95%
    interval excludes 0 (accuracy, then balanced accuracy); ``names``: task display names."""
    out = []
    for setting, r in headline(rows).items():
        n_tasks = sum(1 for x in rows if x.setting == setting and x.task != AVERAGE)
        where = f"mean over {n_tasks} datasets" if r.task == AVERAGE else (names or {}).get(r.task, r.task)
        verdict = (f"excludes 0 ({name_b} {'better' if r.diff > 0 else 'worse'})" if r.excludes_zero
                   else "includes 0 (no difference shown)")
        text = (f"{setting} ({where}): {name_b} - {name_a} = {_pp(r.diff)} pp accuracy "
                f"({100 * r.acc_a:.1f} -> {100 * r.acc_b:.1f}), ")
        if r.no_interval:
            out.append(text + "no interval: the queries share one demonstration set per dataset, so nothing is "
                       "shown beyond that one draw of exemplars (evaluate more seeds).")
            continue
        text += f"95% interval [{_pp(r.ci_low)}, {_pp(r.ci_high)}] {verdict}"
        if r.bal_diff is not None:
            bal_verdict = "excludes 0" if r.bal_excludes_zero else "includes 0"
            text += (f"; balanced accuracy {_pp(r.bal_diff)} pp ({100 * r.bal_a:.1f} -> {100 * r.bal_b:.1f}), "
                     f"[{_pp(r.bal_low)}, {_pp(r.bal_high)}] {bal_verdict}")
        out.append(text + ".")
    return out


def format_differences(rows: tuple[Difference, ...], name_a: str, name_b: str) -> str:
    """A plain-text table of the differences (percentage points), after one sentence per
    setting (:func:`describe`)."""
    if not rows:
        return "no (dataset, setting) pair was scored by both runs\n"
    head = (f"{'dataset':<32} {'setting':<16} {'n':>5} {'A %':>6} {'B %':>6} {'same %':>6} {'B-A (pp) [95% CI]':>26}"
            f" {'bal. B-A (pp) [95% CI]':>28}")
    lines = [f"A = {name_a}", f"B = {name_b}", ""] + describe(rows, "A", "B") + ["", head, "-" * len(head)]
    for r in rows:
        mark = " *" if r.excludes_zero else "  "
        bal = "" if r.bal_diff is None else f"{interval_text(r, True):>26}" + (" *" if r.bal_excludes_zero else "")
        lines.append(
            f"{r.task:<32} {r.setting:<16} {r.n:>5} {100 * r.acc_a:>6.1f} {100 * r.acc_b:>6.1f} {100 * r.agree:>6.1f} "
            f"{interval_text(r):>24}{mark} {bal}".rstrip()
        )
    lines.append("same %: the share of paired queries both runs answered alike")
    if any(r.excludes_zero or r.bal_excludes_zero for r in rows):
        lines.append("* the 95% paired bootstrap interval excludes 0")
    return "\n".join(lines) + "\n"
