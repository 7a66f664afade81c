"""Intervals for accuracies and their differences.

* Per dataset: the Wilson score interval (95%) of ``correct / n``.
* Average over datasets (the unweighted mean of per-dataset accuracies, as the paper
  reports): a seeded *stratified* bootstrap -- every replicate resamples the examples of
  each dataset with replacement, keeping the datasets fixed -- and takes the 2.5% and
  97.5% quantiles of the replicated means.
* Difference between two runs: a seeded *paired* bootstrap over the examples both runs
  scored (resampled together, stratified by dataset for averages).

Queries that share a demonstration set are not independent. :func:`cluster_bootstrap` and
:func:`paired_cluster_bootstrap` resample demonstration sets (clusters) instead of
examples -- within each dataset for averages -- for accuracy and balanced accuracy; with
one prompt per cluster they give exactly the per-example numbers above.

All bootstraps use ``numpy.random.default_rng(seed)``: same inputs and seed, same interval.

For ranking runs against each other (does a development set order candidates as the
evaluation suite does?): :func:`spearman`, its exact permutation p-value
:func:`spearman_exact_p`, and :func:`spearman_p`, exact up to 9 runs and a seeded Monte Carlo
permutation test beyond; and :func:`pairwise_reliability`, the share of the runs' pairwise
differences that is not sampling noise (its square root roughly bounds how well the runs'
ranking can be expected to agree with another measure).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

Z95 = 1.959963984540054
DEFAULT_BOOTSTRAP = 2000


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``correct`` successes out of ``n`` (``(0, 1)`` if n=0)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= correct <= n:
        raise ValueError(f"correct={correct} outside 0..{n}")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # clamp: rounding can put a bound a hair past p at p = 0 or 1
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


BOOTSTRAP_BLOCK = 1 << 16  # resampled indices drawn at once (512 KiB of int64)


def _quantiles(values, alpha: float = 0.05) -> tuple[float, float]:
    import numpy as np

    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def stratified_bootstrap_mean(
    groups: Sequence[Sequence[float]], seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP
) -> tuple[float, float, float]:
    """``(mean, low, high)`` for the unweighted mean over groups of per-group means.

    Each replicate resamples every group's values with replacement (groups stay fixed).
    Empty groups are ignored. Replicates are drawn in blocks of at most
    ``BOOTSTRAP_BLOCK`` indices (the same random numbers as one draw), so memory stays
    bounded however large a group is.
    """
    import numpy as np

    arrays = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not arrays:
        return 0.0, 0.0, 1.0
    point = float(np.mean([a.mean() for a in arrays]))
    rng = np.random.default_rng(seed)
    reps = np.zeros(n_boot)
    for a in arrays:
        rows = max(1, BOOTSTRAP_BLOCK // len(a))
        for start in range(0, n_boot, rows):
            stop = min(n_boot, start + rows)
            idx = rng.integers(0, len(a), size=(stop - start, len(a)))
            reps[start:stop] += a[idx].mean(axis=1)
    reps /= len(arrays)
    lo, hi = _quantiles(reps)
    return point, lo, hi


def paired_bootstrap_difference(
    groups_a: Sequence[Sequence[float]],
    groups_b: Sequence[Sequence[float]],
    seed: int = 0,
    n_boot: int = DEFAULT_BOOTSTRAP,
) -> tuple[float, float, float]:
    """``(difference, low, high)`` of mean(B) - mean(A), averaged over groups.

    ``groups_a[i][j]`` and ``groups_b[i][j]`` are the same example scored by the two runs;
    replicates resample example indices within each group and use them for both runs.
    With one group this is the ordinary paired bootstrap for one dataset.
    """
    import numpy as np

    pairs = []
    for a, b in zip(groups_a, groups_b):
        if len(a) != len(b):
            raise ValueError("paired groups must have the same length")
        if len(a):
            pairs.append(np.asarray(b, dtype=float) - np.asarray(a, dtype=float))
    if not pairs:
        return 0.0, 0.0, 0.0
    # the per-example differences, bootstrapped like any stratified mean
    return stratified_bootstrap_mean(pairs, seed, n_boot)


# ---------------------------------------------------------------------------
# Cluster bootstrap: queries that share a demonstration set are not independent
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Outcomes:
    """One dataset's per-prompt outcomes, with the demonstration set (cluster) of each.

    ``correct``: 1/0 per prompt. ``clusters``: the cluster index of each prompt,
    ``0 .. C-1`` (:func:`cluster_index` makes them from any keys). ``answers``: the gold
    class index of each prompt (classification only; needed for balanced accuracy).
    """

    correct: Any
    clusters: Any
    answers: Any = None

    def __len__(self) -> int:
        return len(self.correct)

    @property
    def n_clusters(self) -> int:
        return int(self.clusters.max()) + 1 if len(self.clusters) else 0

    @property
    def largest_cluster(self) -> int:
        import numpy as np

        return int(np.bincount(self.clusters).max()) if len(self.clusters) else 0

    @property
    def one_block(self) -> bool:
        """All prompts share one demonstration set (no spread between sets to resample)."""
        return self.n_clusters == 1 and len(self) > 1


def balanced_accuracy(correct: Any, answers: Any) -> float:
    """Mean recall per class: the accuracy on the prompts of each gold class present in
    ``answers``, averaged over those classes."""
    import numpy as np

    correct, answers = np.asarray(correct, dtype=float), np.asarray(answers)
    return float(np.mean([correct[answers == c].mean() for c in np.unique(answers)]))


def cluster_index(keys: Any) -> Any:
    """Cluster index per prompt (``0 .. C-1``, numbered in first-seen order) from any
    per-prompt keys; with all keys distinct it is ``0, 1, 2, ...``."""
    import numpy as np

    keys = np.asarray(keys)
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def _per_cluster(clusters: Any, n_clusters: int, values: Any) -> Any:
    import numpy as np

    return np.bincount(clusters, weights=np.asarray(values, dtype=float), minlength=n_clusters)


def _per_cluster_class(clusters: Any, n_clusters: int, answers: Any, k: int, values: Any) -> Any:
    """``(C, k)`` sums of ``values`` per (cluster, gold class)."""
    import numpy as np

    flat = np.asarray(clusters) * k + np.asarray(answers)
    return np.bincount(flat, weights=np.asarray(values, dtype=float), minlength=n_clusters * k).reshape(n_clusters, k)


def _accuracy_table(o: Outcomes, other: Outcomes | None = None) -> Any:
    """Per cluster: [hits, prompts], or [hits of other - hits of o, prompts] when paired."""
    import numpy as np

    c = o.n_clusters
    ones = np.ones(len(o))
    hits = _per_cluster(o.clusters, c, o.correct)
    if other is not None:
        hits = _per_cluster(o.clusters, c, other.correct) - hits
    return np.column_stack([hits, _per_cluster(o.clusters, c, ones)])


def _accuracy_stat(sums: Any) -> Any:
    return sums[:, 0] / sums[:, 1]


def _balanced_table(o: Outcomes, other: Outcomes | None = None) -> Any:
    """Per cluster and class: [hits (k) | prompts (k)], or [hits of o | hits of other |
    prompts] when paired."""
    import numpy as np

    if o.answers is None:
        raise ValueError("balanced accuracy needs the gold class of every prompt")
    answers = np.asarray(o.answers, dtype=np.int64)
    c, k = o.n_clusters, int(answers.max()) + 1
    cols = [_per_cluster_class(o.clusters, c, answers, k, o.correct)]
    if other is not None:
        cols.append(_per_cluster_class(o.clusters, c, answers, k, other.correct))
    cols.append(_per_cluster_class(o.clusters, c, answers, k, np.ones(len(o))))
    return np.hstack(cols)


def _mean_recall(hits: Any, counts: Any) -> Any:
    """Mean over the classes present (count > 0) of hits / count, row by row."""
    import numpy as np

    present = counts > 0
    recall = np.divide(hits, counts, out=np.zeros_like(hits), where=present)
    return recall.sum(axis=1) / present.sum(axis=1)


def _balanced_stat(sums: Any) -> Any:
    k = sums.shape[1] // 2
    return _mean_recall(sums[:, :k], sums[:, k:])


def _paired_balanced_stat(sums: Any) -> Any:
    k = sums.shape[1] // 3
    counts = sums[:, 2 * k :]
    return _mean_recall(sums[:, k : 2 * k], counts) - _mean_recall(sums[:, :k], counts)


def _stratified_clusters(tables: Sequence[Any], stat: Any, seed: int, n_boot: int) -> tuple[float, float, float]:
    """``(point, low, high)`` of the unweighted mean over groups of ``stat`` (a function of
    summed per-cluster rows). Each replicate resamples every group's clusters (rows of its
    table) with replacement; groups stay fixed. The random numbers are those of
    :func:`stratified_bootstrap_mean` with one value per cluster, in the same blocks, so
    with one prompt per cluster both give the same interval."""
    import numpy as np

    point = float(np.mean([stat(t.sum(axis=0, keepdims=True))[0] for t in tables]))
    rng = np.random.default_rng(seed)
    reps = np.zeros(n_boot)
    for table in tables:
        c = len(table)
        rows = max(1, BOOTSTRAP_BLOCK // c)
        for start in range(0, n_boot, rows):
            stop = min(n_boot, start + rows)
            idx = rng.integers(0, c, size=(stop - start, c))
            # draws per cluster, row by row: (rows, c) counts instead of (rows, c, columns) copies
            flat = (idx + c * np.arange(stop - start)[:, None]).ravel()
            weights = np.bincount(flat, minlength=(stop - start) * c).reshape(stop - start, c)
            reps[start:stop] += stat(weights.astype(float) @ table)
    reps /= len(tables)
    lo, hi = _quantiles(reps)
    return point, lo, hi


def cluster_bootstrap(
    groups: Sequence[Outcomes], seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP, balanced: bool = False
) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the unweighted mean over groups (datasets) of their accuracy
    (``balanced``: balanced accuracy, the mean recall over the gold classes present),
    with a 95% interval that resamples demonstration sets (clusters) within each group.

    A group's replicate pools the prompts of its resampled clusters. With one prompt per
    cluster this is :func:`stratified_bootstrap_mean` (same numbers for the same seed).
    Empty groups are ignored; no group gives ``(0, 0, 1)``. Callers decide what to do
    with a group of one cluster (:attr:`Outcomes.one_block`): it adds no spread.
    """
    groups = [g for g in groups if len(g)]
    if not groups:
        return 0.0, 0.0, 1.0
    if balanced:
        return _stratified_clusters([_balanced_table(g) for g in groups], _balanced_stat, seed, n_boot)
    return _stratified_clusters([_accuracy_table(g) for g in groups], _accuracy_stat, seed, n_boot)


def paired_cluster_bootstrap(
    groups_a: Sequence[Outcomes],
    groups_b: Sequence[Outcomes],
    seed: int = 0,
    n_boot: int = DEFAULT_BOOTSTRAP,
    balanced: bool = False,
) -> tuple[float, float, float]:
    """``(difference, low, high)`` of B - A, averaged over groups, accuracy or (``balanced``)
    balanced accuracy. ``groups_a[i]`` and ``groups_b[i]`` hold the same prompts in the same
    order (B's clusters and answers are A's); replicates resample clusters within each
    group and use them for both runs. With one prompt per cluster the accuracy version is
    :func:`paired_bootstrap_difference` (same numbers for the same seed)."""
    pairs = []
    for a, b in zip(groups_a, groups_b):
        if len(a) != len(b):
            raise ValueError("paired groups must have the same length")
        if len(a):
            pairs.append((a, b))
    if not pairs:
        return 0.0, 0.0, 0.0
    if balanced:
        return _stratified_clusters([_balanced_table(a, b) for a, b in pairs], _paired_balanced_stat, seed, n_boot)
    return _stratified_clusters([_accuracy_table(a, b) for a, b in pairs], _accuracy_stat, seed, n_boot)


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values``; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start:end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's r of the average ranks); ``None`` with fewer
    than two values or when either side has only one distinct value."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} values against {len(y)}")
    if len(x) < 2:
        return None
    return _rank_correlation(average_ranks(x), average_ranks(y))


def _rank_correlation(rx: Sequence[float], ry: Sequence[float]) -> float | None:
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(rx, ry)) / math.sqrt(sxx * syy)


def spearman_exact_p(x: Sequence[float], y: Sequence[float], max_n: int = 9) -> float | None:
    """Two-sided exact permutation p-value of :func:`spearman`: the share of the n!
    orderings of ``y`` whose |rho| reaches the observed |rho| (within 1e-12). ``None`` when
    rho is undefined or n > ``max_n`` (9! = 362,880 orderings)."""
    observed = spearman(x, y)
    if observed is None or len(x) > max_n:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    hits = total = 0
    for perm in itertools.permutations(ry):  # the ranks of y, reordered: rho needs no re-ranking
        total += 1
        hits += abs(_rank_correlation(rx, perm)) >= abs(observed) - 1e-12
    return hits / total


#: Orderings drawn by :func:`spearman_p`'s Monte Carlo test beyond ``max_exact`` runs.
DEFAULT_PERMUTATIONS = 100_000
#: :func:`spearman_p` is exact up to this many runs (9! = 362,880 orderings).
SPEARMAN_EXACT_UP_TO = 9


def spearman_p(x: Sequence[float], y: Sequence[float], max_exact: int = SPEARMAN_EXACT_UP_TO,
               n_perm: int = DEFAULT_PERMUTATIONS, seed: int = 0) -> tuple[float | None, str | None]:
    """Two-sided permutation p-value of :func:`spearman` and how it was found: ``exact``
    (every ordering, :func:`spearman_exact_p`) up to ``max_exact`` runs, else ``monte carlo``:
    ``n_perm`` random orderings of ``y``'s ranks from ``numpy.random.default_rng(seed)``,
    p = (1 + hits) / (1 + n_perm) (never 0; the same inputs and seed give the same p).
    ``(None, None)`` when rho is undefined."""
    observed = spearman(x, y)
    if observed is None:
        return None, None
    if len(x) <= max_exact:
        return spearman_exact_p(x, y, max_n=max_exact), "exact"
    import numpy as np

    rx = np.asarray(average_ranks(x), dtype=float)
    ry = np.asarray(average_ranks(y), dtype=float)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rng, scale = np.random.default_rng(seed), math.sqrt(float(rx @ rx) * float(ry @ ry))
    hits, left = 0, n_perm
    while left:  # in blocks of about BOOTSTRAP_BLOCK ranks, so memory stays bounded
        rows = min(left, max(1, BOOTSTRAP_BLOCK // len(x)))
        rhos = rng.permuted(np.tile(ry, (rows, 1)), axis=1) @ rx / scale
        hits += int(np.count_nonzero(np.abs(rhos) >= abs(observed) - 1e-12))
        left -= rows
    return (1 + hits) / (1 + n_perm), "monte carlo"


def pairwise_reliability(differences: Sequence[float], standard_errors: Sequence[float]) -> float | None:
    """How much of the spread among runs is real: 1 - mean(se^2) / mean(d^2) over pairs of
    runs, with ``d`` each pair's measured difference and ``se`` its (paired) standard error,
    floored at 0. 1: every pair's difference is far beyond its noise; 0: the differences are
    no larger than the noise alone would make them (a negative estimate is floored). Like a
    test-retest reliability, its square root roughly bounds the correlation to expect between
    the runs' ranking here and any other measure of them (a sample correlation can exceed it).
    ``None`` without pairs or when every difference is 0."""
    if len(differences) != len(standard_errors):
        raise ValueError(f"pairwise_reliability: {len(differences)} differences against {len(standard_errors)} errors")
    if not differences:
        return None
    mean_d2 = sum(d * d for d in differences) / len(differences)
    if mean_d2 == 0:
        return None
    mean_se2 = sum(e * e for e in standard_errors) / len(standard_errors)
    return max(0.0, 1.0 - mean_se2 / mean_d2)
