"""The training loop on a tiny random Llama: loss equivalence, exact resume, accumulation,
LoRA merge, bf16."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from taskmix.training import TrainConfig, train
from taskmix.training.data import collate, read_examples, tokenise
from taskmix.training.loss import target_loss
from taskmix.training.model import load_for_training
from taskmix.training.rundir import read_loss_log

FAST = dict(lr=5e-3, batch_size=4, warmup_steps=2, progress=False, max_length=256)


def losses(out):
    return [r["loss"] for r in read_loss_log(out)]


def test_target_loss_equals_full_logits_loss(train_tiny_model, tiny_mixture):
    model, tok = load_for_training(train_tiny_model, TrainConfig())
    data = tokenise(read_examples(tiny_mixture), tok, 256)
    b = collate(data, np.arange(6), tok.pad_token_id)
    ours = target_loss(model)(b.input_ids, b.attention_mask, b.positions, b.labels) / b.n_targets
    # reference: full logits, labels -100 except targets, HF's shifted mean loss
    labels = torch.full_like(b.input_ids, -100)
    flat = labels.view(-1)
    flat[b.positions + 1] = b.labels  # position t predicts token t+1
    ref = model(input_ids=b.input_ids, attention_mask=b.attention_mask, labels=labels).loss
    assert float(ours.detach()) == pytest.approx(float(ref), abs=1e-5)


def test_killed_and_resumed_run_has_the_same_loss_curve(train_tiny_model, tiny_mixture, tmp_path):
    cfg = TrainConfig(max_steps=7, grad_accum=2, save_every=2, keep_checkpoints=1, **FAST)
    assert train(train_tiny_model, tiny_mixture, tmp_path / "whole", cfg).complete
    killed = train(train_tiny_model, tiny_mixture, tmp_path / "split", cfg, stop_after=5)
    assert not killed.complete and killed.model_dir is None
    assert len(losses(tmp_path / "split")) == 5  # step 5 logged, last checkpoint at step 4
    resumed = train(train_tiny_model, tiny_mixture, tmp_path / "split", cfg)
    assert resumed.resumed_from == 4 and resumed.complete
    assert len(losses(tmp_path / "whole")) == 7
    assert losses(tmp_path / "split") == losses(tmp_path / "whole")
    from safetensors.torch import load_file

    w1 = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    w2 = load_file(tmp_path / "split" / "model" / "model.safetensors")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_lora_resume_restores_dropout_rng(train_tiny_model, tiny_mixture, tmp_path):
    cfg = TrainConfig(max_steps=5, lora=True, lora_r=4, lora_alpha=8, lora_dropout=0.2, save_every=2, **FAST)
    train(train_tiny_model, tiny_mixture, tmp_path / "whole", cfg)
    train(train_tiny_model, tiny_mixture, tmp_path / "split", cfg, stop_after=3)
    train(train_tiny_model, tiny_mixture, tmp_path / "split", cfg)
    assert losses(tmp_path / "split") == losses(tmp_path / "whole")
    assert (tmp_path / "whole" / "adapter" / "adapter_config.json").is_file()


def test_grad_accumulation_matches_one_big_batch(train_tiny_model, tiny_mixture, tmp_path):
    base = dict(FAST, batching="shuffle", max_grad_norm=0.0, max_steps=3)
    base.pop("batch_size")
    big = train(train_tiny_model, tiny_mixture, tmp_path / "big", TrainConfig(batch_size=8, grad_accum=1, **base))
    acc = train(train_tiny_model, tiny_mixture, tmp_path / "acc", TrainConfig(batch_size=4, grad_accum=2, **base))
    assert big.complete and acc.complete
    np.testing.assert_allclose(losses(tmp_path / "acc"), losses(tmp_path / "big"), rtol=0, atol=2e-5)


def test_lora_final_model_is_merged_and_loads_with_transformers(train_tiny_model, tiny_mixture, tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = TrainConfig(max_steps=3, lora=True, lora_r=4, lora_alpha=8, lora_dropout=0.0, **dict(FAST, lr=5e-2))
    result = train(train_tiny_model, tiny_mixture, tmp_path / "run", cfg)
    merged = AutoModelForCausalLM.from_pretrained(result.model_dir)
    base = AutoModelForCausalLM.from_pretrained(train_tiny_model)
    from peft import PeftModel

    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(train_tiny_model), tmp_path / "run" / "adapter")
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        m, b, a = merged(ids).logits, base(ids).logits, adapted(ids).logits
    assert not torch.allclose(m, b)  # training changed the model
    torch.testing.assert_close(m, a, atol=1e-4, rtol=1e-4)  # merged == base + adapter
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete" and (tmp_path / "run" / "loss.png").is_file()


def test_bf16_autocast_trains_and_keeps_fp32_weights(train_tiny_model, tiny_mixture, tmp_path):
    cfg = TrainConfig(max_steps=4, dtype="bf16", **dict(FAST, lr=2e-2))
    fp32 = TrainConfig(max_steps=4, dtype="fp32", **dict(FAST, lr=2e-2))
    rb = train(train_tiny_model, tiny_mixture, tmp_path / "bf16", cfg)
    train(train_tiny_model, tiny_mixture, tmp_path / "fp32", fp32)
    lb, lf = losses(tmp_path / "bf16"), losses(tmp_path / "fp32")
    assert lb != lf  # autocast really changed the arithmetic
    assert lb[0] == pytest.approx(lf[0], rel=2e-2)
    assert lb[-1] < lb[0]
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(rb.model_dir / "model.safetensors").values()} == {torch.float32}
