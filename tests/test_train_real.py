"""Training pieces against real data and the real SmolLM2-135M (golden equivalences)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from taskmix.mixture.build import build_symbol_mixture
from taskmix.mixture.config import MixtureConfig
from taskmix.symbols import symbol_pool
from taskmix.training import TrainConfig
from taskmix.training.data import collate, read_examples, tokenise
from taskmix.training.loss import target_loss
from taskmix.training.model import load_for_training

pytestmark = pytest.mark.slow  # loads SST-2/TREC from the mirror and runs SmolLM2 (minutes on a busy CPU)


@pytest.fixture(scope="module")
def real_mixture(mirror, smollm2_dir, tmp_path_factory):
    """Eight symbol prompts from SST-2 and TREC of the mirror, lengths in SmolLM2 tokens."""
    from transformers import AutoTokenizer

    config = MixtureConfig(tasks=("sst2", "trec"), per_task_cap=4, max_length=320, tokenizer=str(smollm2_dir))
    out = tmp_path_factory.mktemp("real") / "mix"
    build_symbol_mixture(config, out, tokenizer=AutoTokenizer.from_pretrained(smollm2_dir))
    return out


def test_real_symbol_prompts_fit_and_hide_natural_labels(real_mixture, smollm2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    rows = [json.loads(line) for line in (real_mixture / "prompts.jsonl").read_text().splitlines()]
    assert [r["task"] for r in rows] == ["sst2"] * 4 + ["trec"] * 4
    tuning = set(symbol_pool("tuning"))
    for r in rows:
        assert len(tok(r["prompt"] + r["target"])["input_ids"]) <= 320
        assert r["target"].strip() in tuning


def test_target_only_loss_equals_hf_loss_on_smollm2(real_mixture, smollm2_dir):
    model, tok = load_for_training(smollm2_dir, TrainConfig())
    data = tokenise(read_examples(real_mixture), tok, 320)
    b = collate(data, np.arange(4), tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    with torch.no_grad():
        ours = target_loss(model)(b.input_ids, b.attention_mask, b.positions, b.labels) / b.n_targets
        labels = torch.full_like(b.input_ids, -100)
        labels.view(-1)[b.positions + 1] = b.labels
        ref = model(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=labels).loss
    assert float(ours) == pytest.approx(float(ref), abs=1e-4)
    assert 0.0 < float(ours) < 10.0
