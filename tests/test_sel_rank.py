"""Ranking, metrics and evaluation on hand-built pools and vectors (no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from taskmix.errors import TaskmixError
from taskmix.selection.evaluate import (
    bm25_scores, candidates_for, evaluable_targets, evaluate, folds, judge, random_scores, summarise,
)
from taskmix.selection.index import Index, Pool, PoolTask
from taskmix.selection.metrics import ndcg_at_k, precision_at_k
from taskmix.selection.rank import SelectedTask, check_instruction, rank_tasks, task_scores


def _unit(*xs):
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture()
def index():
    pool = Pool("toy", (
        PoolTask("a", ("a1", "a2"), "cat1", "d1"),
        PoolTask("b", ("b1",), "cat1", "d2"),
        PoolTask("c", ("c1",), "cat2", "d1"),
    ))
    vectors = np.stack([_unit(1, 0), _unit(0, 1), _unit(1, 1), _unit(-1, 0)])
    return Index(pool, vectors, np.array(pool.owners), "fp")


def test_mean_and_max_aggregation_hand_values(index):
    q = _unit(1, 0)[None, :]
    mean = task_scores(index, q, "mean")
    mx = task_scores(index, q, "max")
    assert mean[0] == pytest.approx(0.5)  # (1 + 0) / 2
    assert mx[0] == pytest.approx(1.0)
    assert mean[1] == pytest.approx(math.sqrt(0.5)) and mean[2] == pytest.approx(-1.0)
    two = np.stack([_unit(1, 0), _unit(0, 1)])
    assert task_scores(index, two, "mean")[0] == pytest.approx(0.5)  # mean of 1, 0, 0, 1


def test_rank_tasks_excludes_and_orders(index):
    q = _unit(1, 0)[None, :]
    out = rank_tasks(index, q, 2)
    assert [s.name for s in out] == ["b", "a"] and [s.rank for s in out] == [1, 2]
    assert isinstance(out[0], SelectedTask) and out[0].category == "cat1"
    assert [s.name for s in rank_tasks(index, q, 2, "max")] == ["a", "b"]
    assert [s.name for s in rank_tasks(index, q, 2, exclude=("b",))] == ["a", "c"]
    assert [s.name for s in rank_tasks(index, q, 1, exclude_sources=("d2",))] == ["a"]
    with pytest.raises(TaskmixError, match="larger than"):
        rank_tasks(index, q, 3, exclude=("a",))
    with pytest.raises(TaskmixError, match="positive integer"):
        rank_tasks(index, q, 0)
    with pytest.raises(TaskmixError, match="unknown aggregate"):
        task_scores(index, q, "median")


def test_check_instruction():
    assert check_instruction("  hi ") == "hi"
    for bad in ("", "   \n\t"):
        with pytest.raises(TaskmixError, match="empty"):
            check_instruction(bad)


def test_metrics_hand_values():
    rel = [True, False, True, False, False]
    assert precision_at_k(rel, 5) == pytest.approx(0.4)
    assert precision_at_k(rel, 10) == pytest.approx(0.2)  # missing ranks are misses
    dcg = 1 + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(rel, 10, 2) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([True, True], 10, 2) == pytest.approx(1.0)
    assert ndcg_at_k([False], 10, 0) == 0.0


def test_evaluation_skips_same_source_and_scores_category():
    pool = Pool("toy", (
        PoolTask("t", ("x",), "A", "s1"),
        PoolTask("same_source", ("x",), "A", "s1"),
        PoolTask("rel", ("x",), "A", "s2"),
        PoolTask("irrel", ("x",), "B", "s3"),
        PoolTask("lonely", ("x",), "C", "s4"),
    ))
    assert candidates_for(pool, 0) == [2, 3, 4]
    assert evaluable_targets(pool) == [0, 1, 2]  # B and C have no relevant candidate
    r = judge(pool, 0, [9, 9, 1, 2, 0])
    assert r.relevant == (False, True, False) and r.n_relevant == 1
    s = summarise([r])
    assert s.p_at_5 == pytest.approx(0.2) and s.ndcg_at_10 == pytest.approx(1 / math.log2(3))
    rs = evaluate(pool, random_scores(pool, 0), [0, 1])
    assert rs == evaluate(pool, random_scores(pool, 0), [0, 1])
    assert summarise([]).n_targets == 0


def test_bm25_prefers_word_overlap():
    pool = Pool("toy", (
        PoolTask("q", ("classify movie review sentiment",), "A", "s1"),
        PoolTask("x", ("movie review sentiment polarity",), "A", "s2"),
        PoolTask("y", ("translate german sentence english",), "B", "s3"),
        PoolTask("z", ("count the words",), "C", "s4"),
        PoolTask("w", ("answer the question",), "C", "s5"),
        PoolTask("v", ("summarize the article",), "C", "s6"),
    ))
    scores = bm25_scores(pool)(0)
    assert scores[1] > scores[2]


def test_folds_partition_and_are_seeded():
    items = [f"t{i}" for i in range(11)]
    fs = folds(items, 3, 0, "x")
    assert set().union(*fs) == set(items) and sum(map(len, fs)) == 11
    assert fs == folds(items, 3, 0, "x") and fs != folds(items, 3, 1, "x")
