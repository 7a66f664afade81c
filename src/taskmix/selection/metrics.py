"""Retrieval metrics with binary relevance: precision@k and nDCG@k."""

from __future__ import annotations

import math
from typing import Sequence


def precision_at_k(relevant: Sequence[bool], k: int) -> float:
    """Fraction of the first ``k`` ranked items that are relevant (missing ranks count as misses)."""
    if k < 1:
        raise ValueError("k must be >= 1")
    return sum(1 for r in list(relevant)[:k] if r) / k


def ndcg_at_k(relevant: Sequence[bool], k: int, n_relevant: int) -> float:
    """nDCG@k: DCG of the ranking over the ideal DCG with ``min(k, n_relevant)`` relevant items first.

    Gain 1 for a relevant item at rank ``r`` (1-based), discounted by ``log2(r + 1)``.
    Returns 0.0 when nothing is relevant.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    dcg = sum(1.0 / math.log2(r + 2) for r, rel in enumerate(list(relevant)[:k]) if rel)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(k, n_relevant)))
    return dcg / ideal if ideal > 0 else 0.0
