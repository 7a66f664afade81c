"""Selection accuracy on NIV2: do the retrieved tasks share the target's category?

For a target task, the candidates are every other pool task **not built from the target's
source dataset**; a candidate is relevant when its category equals the target's. A
method is a function from a target's pool position to one score per pool task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..seeding import rng_for
from .index import Pool
from .metrics import ndcg_at_k, precision_at_k

ScoreFn = Callable[[int], Any]


@dataclass(frozen=True)
class RetrievalScores:
    """Mean precision@5, precision@10 and nDCG@10 over ``n_targets`` targets."""

    p_at_5: float
    p_at_10: float
    ndcg_at_10: float
    n_targets: int


@dataclass(frozen=True)
class TargetResult:
    target: str
    relevant: tuple[bool, ...]  # relevance of the top-10 candidates, in rank order
    n_relevant: int


def candidates_for(pool: Pool, target: int) -> list[int]:
    """Pool positions that may be retrieved for ``target`` (not itself, not its source dataset)."""
    t = pool.tasks[target]
    return [
        i for i, c in enumerate(pool.tasks)
        if i != target and not (t.source_dataset and c.source_dataset == t.source_dataset)
    ]


def evaluable_targets(pool: Pool) -> list[int]:
    """Targets with a category and at least one relevant candidate."""
    out = []
    for i, t in enumerate(pool.tasks):
        if t.category and any(pool.tasks[j].category == t.category for j in candidates_for(pool, i)):
            out.append(i)
    return out


def judge(pool: Pool, target: int, scores: Any, k: int = 10) -> TargetResult:
    """Rank the candidates of ``target`` by ``scores`` (ties by name) and mark the top ``k``."""
    cands = candidates_for(pool, target)
    cat = pool.tasks[target].category
    order = sorted(cands, key=lambda i: (-float(scores[i]), pool.tasks[i].name))[:k]
    relevant = tuple(pool.tasks[i].category == cat for i in order)
    return TargetResult(pool.tasks[target].name, relevant, sum(1 for i in cands if pool.tasks[i].category == cat))


def summarise(results: Sequence[TargetResult]) -> RetrievalScores:
    """Mean metrics over per-target results."""
    n = len(results)
    if n == 0:
        return RetrievalScores(0.0, 0.0, 0.0, 0)
    return RetrievalScores(
        p_at_5=sum(precision_at_k(r.relevant, 5) for r in results) / n,
        p_at_10=sum(precision_at_k(r.relevant, 10) for r in results) / n,
        ndcg_at_10=sum(ndcg_at_k(r.relevant, 10, r.n_relevant) for r in results) / n,
        n_targets=n,
    )


def evaluate(pool: Pool, score_fn: ScoreFn, targets: Sequence[int]) -> list[TargetResult]:
    return [judge(pool, t, score_fn(t)) for t in targets]


def random_scores(pool: Pool, seed: int = 0) -> ScoreFn:
    """A seeded random score per (target, task)."""

    def fn(target: int) -> list[float]:
        rng = rng_for("random-baseline", seed, pool.tasks[target].name)
        return [rng.random() for _ in pool.tasks]

    return fn


def cosine_scores(task_vectors: Any) -> ScoreFn:
    """Scores from one normalised vector per task (mean of its instruction embeddings)."""

    def fn(target: int) -> Any:
        return task_vectors @ task_vectors[target]

    return fn


def bm25_scores(pool: Pool, texts: Sequence[str] | None = None) -> ScoreFn:
    """BM25 (rank-bm25 Okapi) of the target's instruction against every task's instructions."""
    from rank_bm25 import BM25Okapi

    docs = list(texts) if texts is not None else [" ".join(t.instructions) for t in pool.tasks]
    tokens = [re.findall(r"[a-z0-9]+", d.lower()) for d in docs]
    bm25 = BM25Okapi(tokens)

    def fn(target: int) -> Any:
        return bm25.get_scores(tokens[target])

    return fn


def task_vectors(pool: Pool, vectors: Any) -> Any:
    """One L2-normalised vector per task: the mean of its instruction rows (``pool.texts`` order)."""
    import numpy as np

    owners = np.asarray(pool.owners)
    out = np.stack([vectors[owners == i].mean(axis=0) for i in range(len(pool))])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def folds(items: Sequence[str], k: int, seed: int, salt: str) -> list[set[str]]:
    """Split ``items`` into ``k`` seeded folds of (nearly) equal size."""
    order = sorted(set(items))
    rng_for("folds", salt, seed).shuffle(order)
    return [set(order[f::k]) for f in range(k)]
