"""Intervals for accuracies and their differences.

* Per dataset: the Wilson score interval (95%) of ``correct / n``.
* Average over datasets (the unweighted mean of per-dataset accuracies, as the paper
  reports): a seeded *stratified* bootstrap -- every replicate resamples the examples of
  each dataset with replacement, keeping the datasets fixed -- and takes the 2.5% and
  97.5% quantiles of the replicated means.
* Difference between two runs: a seeded *paired* bootstrap over the examples both runs
  scored (resampled together, stratified by dataset for averages).

All bootstraps use ``numpy.random.default_rng(seed)``: same inputs and seed, same interval.
"""

from __future__ import annotations

import math
from typing import Sequence

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
