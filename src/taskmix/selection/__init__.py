"""Instruction-only task selection (INSTA): pools, embedding indexes, ranking, metrics.

Heavy libraries (numpy, torch, sentence-transformers) are imported only inside functions.
"""

from .index import POOLS, Index, Pool, PoolTask, build_index, build_pool
from .rank import SelectedTask, rank_tasks, select_by_instruction, select_for_task

__all__ = [
    "POOLS", "Index", "Pool", "PoolTask", "build_index", "build_pool",
    "SelectedTask", "rank_tasks", "select_by_instruction", "select_for_task",
]
