"""Evaluation and mixture prompts stay byte-identical to the pinned digests (see tests/golden_prompts.py)."""

from __future__ import annotations

import json

import pytest

from tests.golden_prompts import EVAL_FILE, MIXTURE_FILE, counter_for, eval_records, mixture_records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tokenizer(smollm2_dir, mirror):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_dir))


def _diff(expected: list[dict], actual: list[dict]) -> str:
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            return f"record {i}: expected {e}, got {a}"
    return f"expected {len(expected)} records, got {len(actual)}"


def test_evaluation_prompts_are_byte_identical(tokenizer):
    expected = json.loads(EVAL_FILE.read_text(encoding="utf-8"))
    actual = list(eval_records(counter_for(tokenizer)))
    assert len(expected) > 1000 and any(r.get("dropped") for r in expected)
    assert actual == expected, _diff(expected, actual)


def test_mixture_prompts_are_byte_identical(tokenizer):
    expected = json.loads(MIXTURE_FILE.read_text(encoding="utf-8"))
    actual = list(mixture_records(tokenizer))
    assert len(expected) > 300
    assert actual == expected, _diff(expected, actual)
