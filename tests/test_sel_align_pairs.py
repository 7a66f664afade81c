"""The paper's alignment pairs on a hand-made promptsource-like template set, with hand-set
base-encoder vectors: positives are two templates of one dataset, negatives templates of
other datasets whose base cosine is below 0.3."""

from __future__ import annotations

import numpy as np
import pytest

from taskmix.errors import ConfigError
from taskmix.selection.align import ALIGNMENTS, POSITIVE_RULES, AlignConfig, p3_names_of, positive_pairs, training_pairs
from taskmix.selection.index import Pool, PoolTask

# three datasets, as build_pool("p3") makes them: one task per dataset, its templates' instructions
POOL = Pool("p3", (
    PoolTask("p3/ds1", ("A1", "A2", "A3"), None, "ds1"),
    PoolTask("p3/ds2", ("B1", "B2"), None, "ds2"),
    PoolTask("p3/ds3", ("C1",), None, "ds3"),
))
# base-encoder rows in POOL.texts order (A1 A2 A3 B1 B2 C1); cosines are dot products
VECTORS = np.array([
    [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0],  # A*: one direction
    [0.6, 0.8, 0.0],  # B1: cosine 0.6 to every A (too close to be a negative of one)
    [0.0, 1.0, 0.0],  # B2: cosine 0 to A, 0.8 to B1
    [0.0, 0.0, 1.0],  # C1: cosine 0 to everything
], dtype=np.float32)


def _as_texts(pairs):
    return {(POOL.texts[i], POOL.texts[j]) for i, j in pairs}


def test_positives_are_two_templates_of_one_dataset():
    assert _as_texts(positive_pairs(POOL, rule="same_task")) == {("A1", "A2"), ("A1", "A3"), ("A2", "A3"), ("B1", "B2")}
    assert _as_texts(positive_pairs(POOL, holdout=("p3/ds1",), rule="same_task")) == {("B1", "B2")}


def test_same_task_never_pairs_two_tasks_that_share_source_and_category():
    niv2_like = Pool("toy", (PoolTask("x", ("X",), "Sentiment", "s"), PoolTask("y", ("Y",), "Sentiment", "s")))
    assert _as_texts_of(niv2_like, positive_pairs(niv2_like, rule="source_category")) == {("X", "Y")}
    assert positive_pairs(niv2_like, rule="same_task") == []


def _as_texts_of(pool, pairs):
    return {(pool.texts[i], pool.texts[j]) for i, j in pairs}


def test_negatives_are_other_datasets_below_the_threshold():
    pairs = training_pairs(POOL, VECTORS, AlignConfig(positives="same_task", seed=0))
    positives = {(p.a, p.b) for p in pairs if p.label == 1.0}
    negatives = [(p.a, p.b) for p in pairs if p.label == 0.0]
    assert positives == {("A1", "A2"), ("A1", "A3"), ("A2", "A3"), ("B1", "B2")}
    # one negative per positive anchor: A anchors may take B2 or C1 (cosine 0), never B1 (0.6);
    # the B1 anchor may take only C1 (A is at 0.6, B2 is its own dataset)
    assert len(negatives) == 4
    for a, b in negatives:
        assert b[0] != a[0]
        assert (a, b) not in {("A1", "B1"), ("A2", "B1"), ("A3", "B1"), ("B1", "A1"), ("B1", "A2"), ("B1", "A3")}
        if a.startswith("A"):
            assert b in {"B2", "C1"}
        else:
            assert (a, b) == ("B1", "C1")
    assert training_pairs(POOL, VECTORS, AlignConfig(positives="same_task", seed=0)) == pairs  # seeded


def test_held_out_datasets_are_in_no_pair_and_a_lower_threshold_removes_negatives():
    pairs = training_pairs(POOL, VECTORS, AlignConfig(positives="same_task", seed=1), holdout=("p3/ds3",))
    assert all("C1" not in (p.a, p.b) for p in pairs)
    assert {(p.a, p.b) for p in pairs if p.label == 0.0} <= {("A1", "B2"), ("A2", "B2"), ("A3", "B2")}
    strict = training_pairs(POOL, VECTORS, AlignConfig(positives="same_task", neg_threshold=-0.5, seed=0))
    assert all(p.label == 1.0 for p in strict)


def test_alignment_recipes_and_p3_holdout_names():
    assert ALIGNMENTS["promptsource"] == ("p3", "same_task") and ALIGNMENTS["niv2-category"] == ("niv2", "category")
    assert all(rule in POSITIVE_RULES for _, rule in ALIGNMENTS.values())
    assert set(p3_names_of(["cb", "rte"])) == {"p3/super_glue/cb", "p3/glue/rte", "p3/super_glue/rte"}
    assert p3_names_of(["subj"]) == ()
    with pytest.raises(ConfigError, match="positives must be one of"):
        AlignConfig(positives="templates")
