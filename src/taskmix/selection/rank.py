"""Ranking a pool's tasks by instruction similarity to a target (INSTA selection).

A task's score is an aggregate of the cosines between every query instruction and every
instruction of the task: the mean by default, the max as an option. The target task is
always excluded; tasks sharing its source dataset can be excluded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from ..catalogue import load_task
from ..errors import TaskmixError
from .index import Index

Aggregate = Literal["mean", "max"]
AGGREGATES = ("mean", "max")


@dataclass(frozen=True)
class SelectedTask:
    """One selected task: ``rank`` starts at 1; ``score`` is the aggregated cosine."""

    name: str
    score: float
    rank: int
    category: str | None
    source_dataset: str | None


def task_scores(index: Index, query: Any, aggregate: Aggregate = "mean") -> Any:
    """Aggregated cosine of ``query`` (``m x dim``, normalised) against every task of the index."""
    import numpy as np

    if aggregate not in AGGREGATES:
        raise TaskmixError(f"unknown aggregate {aggregate!r} (known: {', '.join(AGGREGATES)})")
    query = np.atleast_2d(np.asarray(query, dtype=np.float32))
    sims = index.vectors @ query.T  # (n_texts, m)
    n_tasks = len(index.pool)
    if aggregate == "mean":
        per_text = sims.mean(axis=1)
        totals = np.bincount(index.owners, weights=per_text, minlength=n_tasks)
        counts = np.bincount(index.owners, minlength=n_tasks)
        return totals / np.maximum(counts, 1)
    per_text = sims.max(axis=1)
    out = np.full(n_tasks, -np.inf)
    np.maximum.at(out, index.owners, per_text)
    return out


def rank_tasks(
    index: Index,
    query: Any,
    k: int,
    aggregate: Aggregate = "mean",
    exclude: Sequence[str] = (),
    exclude_sources: Sequence[str] = (),
) -> tuple[SelectedTask, ...]:
    """The ``k`` best tasks for ``query`` embeddings, skipping ``exclude`` names and ``exclude_sources`` datasets.

    Ties are broken by task name so the order is deterministic.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise TaskmixError(f"k must be a positive integer, got {k!r}")
    excluded_names = set(exclude)
    excluded_sources = {s for s in exclude_sources if s}
    candidates = [
        i for i, t in enumerate(index.pool.tasks)
        if t.name not in excluded_names and not (t.source_dataset and t.source_dataset in excluded_sources)
    ]
    if k > len(candidates):
        raise TaskmixError(f"k={k} is larger than the {len(candidates)} selectable tasks of the {index.pool.name} pool")
    scores = task_scores(index, query, aggregate)
    order = sorted(candidates, key=lambda i: (-float(scores[i]), index.pool.tasks[i].name))[:k]
    return tuple(
        SelectedTask(
            name=index.pool.tasks[i].name,
            score=float(scores[i]),
            rank=r,
            category=index.pool.tasks[i].category,
            source_dataset=index.pool.tasks[i].source_dataset,
        )
        for r, i in enumerate(order, start=1)
    )


def check_instruction(text: str) -> str:
    """A usable query instruction (stripped); empty or whitespace-only text is an error."""
    if not isinstance(text, str) or not text.strip():
        raise TaskmixError("the instruction is empty: give a non-blank --instruction")
    return text.strip()


def select_by_instruction(
    index: Index, encoder: Any, instruction: str, k: int, aggregate: Aggregate = "mean", exclude: Sequence[str] = ()
) -> tuple[SelectedTask, ...]:
    """Rank the pool for a free-text instruction."""
    query = encoder.encode([check_instruction(instruction)])
    return rank_tasks(index, query, k, aggregate, exclude=exclude)


def select_for_task(
    index: Index,
    encoder: Any,
    target: str,
    k: int,
    aggregate: Aggregate = "mean",
    exclude_same_source: bool = False,
    root: Any = None,
) -> tuple[SelectedTask, ...]:
    """Rank the pool for a named target task (its instructions are the query; it is never selected).

    A target in the pool uses its indexed instructions; otherwise it is loaded from the
    catalogue and its instructions are embedded.
    """
    names = {t.name: i for i, t in enumerate(index.pool.tasks)}
    if target in names:
        entry = index.pool.tasks[names[target]]
        query = index.task_vectors(names[target])
        source = entry.source_dataset
    else:
        task = load_task(target, root)
        texts = [t for t in task.instructions if t.strip()]
        if not texts:
            raise TaskmixError(f"task {target!r} has no instruction to select with")
        query = encoder.encode(texts)
        source = task.source_dataset
    return rank_tasks(
        index, query, k, aggregate, exclude=(target,), exclude_sources=(source,) if exclude_same_source and source else ()
    )
