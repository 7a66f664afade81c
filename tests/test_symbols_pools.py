"""Symbol pools: sizes, disjointness, safety, determinism, sampling."""

from __future__ import annotations

import random

import pytest

from taskmix.errors import TaskmixError
from taskmix.prompts.formats import FORMATS
from taskmix.symbols import (
    EVAL_PER_KIND,
    KINDS,
    TUNING_PER_KIND,
    is_safe_symbol,
    pool_sizes,
    sample_symbols,
    symbol_kind,
    symbol_pool,
)


def test_pool_sizes_match_the_paper():
    assert pool_sizes("tuning") == {k: 10_000 for k in KINDS}
    assert pool_sizes("eval") == {k: 90_000 for k in KINDS}
    assert len(symbol_pool("tuning")) == 30_000
    assert len(symbol_pool("eval")) == 270_000
    assert TUNING_PER_KIND * 3 == 30_000 and EVAL_PER_KIND * 3 == 270_000


def test_pools_are_disjoint_and_have_no_duplicates():
    tuning, evaluation = symbol_pool("tuning"), symbol_pool("eval")
    assert len(set(tuning)) == len(tuning)
    assert len(set(evaluation)) == len(evaluation)
    assert not set(tuning) & set(evaluation)
    # case-insensitively too (letters are upper case, words lower case)
    assert not {s.lower() for s in tuning} & {s.lower() for s in evaluation}


def test_every_symbol_is_safe_and_of_its_kind():
    separators = {f.input_prefix for f in FORMATS} | {f.output_prefix for f in FORMATS}
    for pool in ("tuning", "eval"):
        for kind in KINDS:
            for s in symbol_pool(pool, kind):
                assert is_safe_symbol(s), s
                assert s == s.strip() and " " not in s and "\n" not in s and ":" not in s
                assert symbol_kind(s) == kind
    assert "Output:" in separators  # the separators contain characters symbols never have


def test_pools_are_deterministic_and_varied():
    assert symbol_pool("eval", "integer")[:3] == ("86564", "2499", "87240")  # pinned: the same on every machine
    letters = symbol_pool("tuning", "letters")
    assert {len(s) for s in letters} <= {2, 3, 4}
    words = symbol_pool("eval", "word")
    assert all(3 <= len(w) <= 12 for w in words)
    # a fixed-seed shuffle, not sorted order
    assert list(words[:100]) != sorted(words[:100])


def test_known_first_symbols_are_stable():
    # Golden values: changing the generation silently would change every symbol prompt.
    assert symbol_pool("tuning", "integer")[:3] == GOLDEN_INT
    assert symbol_pool("eval", "letters")[:2] == GOLDEN_LETTERS


GOLDEN_INT = ("67619", "58876", "65962")
GOLDEN_LETTERS = ("WMUZ", "VDDW")


def test_sample_symbols_distinct_deterministic_and_excluding():
    a = sample_symbols("eval", 50, random.Random(3))
    b = sample_symbols("eval", 50, random.Random(3))
    assert a == b and len(set(a)) == 50
    assert set(a) <= set(symbol_pool("eval"))
    c = sample_symbols("eval", 5, random.Random(4), kind="word")
    assert all(symbol_kind(s) == "word" for s in c)
    banned = sample_symbols("eval", 200, random.Random(5), kind="word")
    d = sample_symbols("eval", 200, random.Random(5), kind="word", exclude=[w.upper() for w in banned[:100]])
    assert not set(d) & set(banned[:100])


def test_bad_pool_and_kind_are_one_line_errors():
    with pytest.raises(TaskmixError, match="unknown symbol pool"):
        symbol_pool("train")
    with pytest.raises(TaskmixError, match="unknown symbol kind"):
        symbol_pool("eval", "emoji")
    with pytest.raises(TaskmixError):
        sample_symbols("eval", -1, random.Random(0))
