"""From per-prompt outcomes to the scores of a run: accuracy with its interval, and the
numbers that cannot hide a default answer.

The evaluation appends each (task, setting)'s predictions to a :class:`CellOutcomes` (a
few bytes per prompt: outcome, gold class, prediction, demonstration set, exemplars
dropped; seeds pooled), then :func:`summarize_cell` makes its :class:`Score` and
:func:`average_cells` the per-setting averages over datasets.

Every score carries, beside accuracy, in ``Score.extra`` (read back with
:meth:`Diagnostics.of`):

* ``balanced_accuracy`` (+ ``balanced_ci_low``/``balanced_ci_high``): the mean recall
  per gold class, over the classes present among the gold answers (classification);
* ``top_prediction_share``: the share of the most frequent prediction (free-form: of the
  most frequent normalised generated answer); over :data:`ONE_ANSWER_SHARE` the cell
  mostly measures which answer the model defaults to, and reports flag it;
* ``chance``: the random-guess baseline, 1 / number of classes (classification);
* ``classes``, ``clusters`` (demonstration sets) and ``largest_cluster`` (most queries
  sharing one).

Intervals (95%): a query's cluster is its ``(seed, task, setting, demo_set)``; a
prediction without a ``demo_set`` is a cluster of its own. When every cluster holds one
query, a cell keeps the Wilson interval and averages the stratified per-example
bootstrap (the numbers of earlier runs); otherwise both resample clusters
(:func:`taskmix.evaluation.stats.cluster_bootstrap`). A cell whose queries all share one
demonstration set has no interval (``0 .. 1``): one draw of exemplars says nothing about
another; evaluate more seeds.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

from ..records import Score
from ..seeding import derive_seed
from ..prompts.builder import SINGLE_QUERY_SET
from .stats import DEFAULT_BOOTSTRAP, Outcomes, balanced_accuracy, cluster_bootstrap, wilson_interval

AVERAGE = "average"
ONE_ANSWER_SHARE = 0.8  # a cell where one answer exceeds this share of the queries is flagged
_MASK63 = (1 << 63) - 1


def _key63(*parts: object) -> int:
    """A stable non-negative 63-bit key (Python's ``hash`` of a str changes per process)."""
    h = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode("utf-8"), digest_size=8)
    return int.from_bytes(h.digest(), "big") & _MASK63


class CellOutcomes:
    """The per-prompt outcomes of one (task, setting), over all seeds, in compact arrays
    (about 15 bytes a prompt): what the evaluation keeps in memory instead of predictions.
    Clusters are numbered as they are first seen; a query with fresh exemplars (a
    demonstration set id starting with ``q:``, see :class:`taskmix.prompts.builder.DemoProtocol`)
    or without a set is a cluster of its own, so only sets of several queries are remembered.

    ``add(predictions)`` appends; :func:`summarize_cell` reads. For a free-form task the
    prediction is kept as a 63-bit key of the normalised generated answer.
    """

    def __init__(self, task: str, setting: str):
        self.task = task
        self.setting = setting
        self.correct = bytearray()  # 1/0
        self.answers = array("h")  # gold class index; -1 for a free-form task
        self.predictions = array("i")  # predicted class index, or a 31-bit key of the generated answer
        self.clusters = array("i")  # cluster index, numbered in first-seen order
        self._sets: dict[tuple[int, str], int] = {}  # (seed, demo_set) -> cluster, for sets of several queries
        self._singles = 0  # clusters of one query (fresh exemplars, or no demo_set)
        self.dropped = array("I")  # exemplars dropped to fit the context
        self.classes = 0  # answer options per prompt (classification); 0 for a free-form task

    def __len__(self) -> int:
        return len(self.correct)

    @property
    def is_classification(self) -> bool:
        return self.classes > 0

    def add(self, predictions: Iterable[Any]) -> None:
        """Append :class:`~taskmix.evaluation.results.Prediction` s of this cell."""
        for p in predictions:
            if p.task != self.task or p.setting != self.setting:
                raise ValueError(f"prediction of {p.task}/{p.setting} added to {self.task}/{self.setting}")
            seed, demo_set = p.seed, p.demo_set
            self.correct.append(1 if p.correct else 0)
            if p.answer is not None:
                # answer options: the candidates shown (at least every index seen)
                self.classes = max(self.classes, len(p.candidates), p.answer + 1, (p.prediction or 0) + 1)
                self.answers.append(p.answer)
                self.predictions.append(-1 if p.prediction is None else p.prediction)
            else:
                self.answers.append(-1)
                self.predictions.append(_key63(p.generated or "") & 0x7FFFFFFF)
            if not demo_set or demo_set.startswith(SINGLE_QUERY_SET):  # a cluster of its own
                self.clusters.append(len(self._sets) + self._singles)
                self._singles += 1
            else:
                self.clusters.append(self._sets.setdefault((seed, demo_set), len(self._sets) + self._singles))
            self.dropped.append(p.dropped_exemplars)

    @classmethod
    def from_predictions(cls, predictions: Iterable[Any]) -> dict[tuple[str, str], "CellOutcomes"]:
        """One accumulator per (task, setting), in first-seen order (e.g. a stored run's)."""
        cells: dict[tuple[str, str], CellOutcomes] = {}
        for p in predictions:
            key = (p.task, p.setting)
            if key not in cells:
                cells[key] = cls(*key)
            cells[key].add((p,))
        return cells

    def outcomes(self) -> Outcomes:
        """The arrays the interval functions take."""
        import numpy as np

        answers = np.frombuffer(self.answers, dtype=np.int16).astype(np.int64) if self.is_classification else None
        return Outcomes(np.frombuffer(bytes(self.correct), dtype=np.uint8), np.frombuffer(self.clusters, dtype=np.int32).astype(np.int64), answers)

    def diagnostics(self) -> "Diagnostics":
        """The point values (no intervals) of :class:`Diagnostics`."""
        import numpy as np

        n = len(self)
        if not n:
            return Diagnostics()
        o = self.outcomes()
        _, counts = np.unique(np.frombuffer(self.predictions, dtype=np.int32), return_counts=True)
        balanced = chance = None
        if self.is_classification:
            balanced = balanced_accuracy(o.correct, o.answers)
            chance = 1.0 / self.classes
        return Diagnostics(balanced, None, float(counts.max()) / n, chance, self.classes, o.n_clusters, o.largest_cluster)


@dataclass(frozen=True)
class Diagnostics:
    """What accuracy alone can hide, for a cell or an average (see the module docstring).

    Averages: the unweighted mean over datasets (balanced accuracy and chance over the
    classification datasets); ``clusters`` is their sum, ``largest_cluster`` their max.
    """

    balanced_accuracy: float | None = None
    balanced_ci: tuple[float, float] | None = None
    top_share: float | None = None
    chance: float | None = None
    classes: int = 0
    clusters: int = 0
    largest_cluster: int = 0

    @property
    def one_answer(self) -> bool:
        """One answer exceeds :data:`ONE_ANSWER_SHARE` of the queries."""
        return self.top_share is not None and self.top_share > ONE_ANSWER_SHARE

    def to_extra(self) -> tuple[tuple[str, str], ...]:
        out = []
        if self.balanced_accuracy is not None:
            out.append(("balanced_accuracy", repr(self.balanced_accuracy)))
        if self.balanced_ci is not None:
            out += [("balanced_ci_low", repr(self.balanced_ci[0])), ("balanced_ci_high", repr(self.balanced_ci[1]))]
        if self.top_share is not None:
            out.append(("top_prediction_share", repr(self.top_share)))
        if self.chance is not None:
            out.append(("chance", repr(self.chance)))
        out += [("classes", str(self.classes)), ("clusters", str(self.clusters)), ("largest_cluster", str(self.largest_cluster))]
        return tuple(out)

    @classmethod
    def of(cls, score: Score) -> "Diagnostics | None":
        """The diagnostics in ``score.extra``; ``None`` for a score written before them."""
        extra = dict(score.extra)
        if "top_prediction_share" not in extra:
            return None

        def num(key: str) -> float | None:
            return float(extra[key]) if key in extra else None

        ci = (float(extra["balanced_ci_low"]), float(extra["balanced_ci_high"])) if "balanced_ci_low" in extra else None
        return cls(num("balanced_accuracy"), ci, num("top_prediction_share"), num("chance"),
                   int(extra.get("classes", 0)), int(extra.get("clusters", 0)), int(extra.get("largest_cluster", 0)))


NO_INTERVAL = "none (one demonstration set)"


def has_interval(score: Score) -> bool:
    """False when the score's queries all share one demonstration set (``ci`` is 0 .. 1)."""
    return dict(score.extra).get("interval") != NO_INTERVAL


def _bootstrap_seed(seed: int, *parts: str) -> int:
    return derive_seed(seed, "bootstrap", *parts) % 2**32


def _interval_name(groups: Sequence[Outcomes], n_boot: int, stratified: bool) -> str:
    if any(g.one_block for g in groups):
        return NO_INTERVAL
    clustered = any(g.largest_cluster > 1 for g in groups)
    kind = ("stratified " if stratified else "") + ("cluster bootstrap" if clustered else "bootstrap")
    return f"{kind} ({n_boot})"


def summarize_cell(cell: CellOutcomes, seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP, metric: str | None = None) -> Score:
    """The :class:`Score` of one (task, setting): accuracy with its 95% interval (Wilson
    when every demonstration set holds one query, else a cluster bootstrap; ``0 .. 1``
    when all share one), dropped-exemplar counts and :class:`Diagnostics`.
    ``seed`` is the evaluation's seed (the bootstrap's is derived from it)."""
    n = len(cell)
    hits = sum(cell.correct)
    acc = hits / n if n else 0.0
    o = cell.outcomes()
    bseed = _bootstrap_seed(seed, cell.task, cell.setting)
    if o.one_block:
        lo, hi, interval = 0.0, 1.0, NO_INTERVAL
    elif o.largest_cluster <= 1:
        (lo, hi), interval = wilson_interval(hits, n), "wilson"
    else:
        _, lo, hi = cluster_bootstrap([o], bseed, n_boot)
        interval = f"cluster bootstrap ({n_boot})"
    diag = cell.diagnostics()
    if cell.is_classification and n:
        ci = (0.0, 1.0) if o.one_block else cluster_bootstrap([o], bseed, n_boot, balanced=True)[1:]
        diag = replace(diag, balanced_ci=ci)
    extra = (
        ("metric", metric or ("accuracy" if cell.is_classification else "exact_match")),
        ("interval", interval),
        ("dropped_exemplars", str(sum(cell.dropped))),
        ("prompts_with_dropped", str(sum(1 for d in cell.dropped if d))),
    ) + diag.to_extra()
    return Score(cell.task, cell.setting, n, hits, acc, lo, hi, extra)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def average_diagnostics(diags: Sequence[Diagnostics]) -> Diagnostics:
    """Point diagnostics of an average over datasets (see :class:`Diagnostics`)."""
    return Diagnostics(
        balanced_accuracy=_mean([d.balanced_accuracy for d in diags if d.balanced_accuracy is not None]),
        top_share=_mean([d.top_share for d in diags if d.top_share is not None]),
        chance=_mean([d.chance for d in diags if d.chance is not None]),
        clusters=sum(d.clusters for d in diags),
        largest_cluster=max((d.largest_cluster for d in diags), default=0),
    )


def average_cells(cells: Sequence[CellOutcomes], seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP) -> tuple[Score, ...]:
    """Per setting (first-seen order): the unweighted mean over datasets of accuracy, with a
    stratified (cluster) bootstrap interval, and of balanced accuracy (classification
    datasets), top-answer share and chance. With one query per demonstration set these
    are exactly the earlier per-example averages."""
    out = []
    for setting in dict.fromkeys(c.setting for c in cells):
        group = [c for c in cells if c.setting == setting and len(c)]
        if not group:
            continue
        outcomes = [c.outcomes() for c in group]
        bseed = _bootstrap_seed(seed, setting)
        mean, lo, hi = cluster_bootstrap(outcomes, bseed, n_boot)
        interval = _interval_name(outcomes, n_boot, stratified=True)
        if interval == NO_INTERVAL:
            lo, hi = 0.0, 1.0
        diag = average_diagnostics([c.diagnostics() for c in group])
        classified = [o for c, o in zip(group, outcomes) if c.is_classification]
        if classified:
            ci = (0.0, 1.0) if interval == NO_INTERVAL else cluster_bootstrap(classified, bseed, n_boot, balanced=True)[1:]
            diag = replace(diag, balanced_ci=ci)
        extra = (("datasets", str(len(group))), ("interval", interval)) + diag.to_extra()
        n = sum(len(c) for c in group)
        out.append(Score(AVERAGE, setting, n, sum(sum(c.correct) for c in group), mean, lo, hi, extra))
    return tuple(out)


def run_diagnostics(scores: Sequence[Score], averages: Sequence[Score], predictions: Iterable[Any]) -> dict[tuple[str, str], Diagnostics]:
    """:class:`Diagnostics` per (task, setting) and per (``average``, setting): from the
    scores when they carry them, else (runs written before them) point values computed
    from the predictions (read once; empty if there are none)."""
    out = {(s.task, s.setting): d for s in tuple(scores) + tuple(averages) if (d := Diagnostics.of(s)) is not None}
    if all((s.task, s.setting) in out for s in scores):
        return out
    cells = CellOutcomes.from_predictions(predictions)
    for key, cell in cells.items():
        out.setdefault(key, cell.diagnostics())
    for setting in dict.fromkeys(s.setting for s in scores):
        diags = [out[(s.task, setting)] for s in scores if s.setting == setting and (s.task, setting) in out]
        if diags:
            out.setdefault((AVERAGE, setting), average_diagnostics(diags))
    return out


def mean_chance(diagnostics: Mapping[tuple[str, str], Diagnostics]) -> tuple[float | None, int]:
    """The random-guess baseline averaged over datasets (each counted once), and how many
    datasets have one (classification)."""
    per_task: dict[str, float] = {}
    for (task, _), d in diagnostics.items():
        if task != AVERAGE and d.chance is not None:
            per_task.setdefault(task, d.chance)
    return _mean(list(per_task.values())), len(per_task)
