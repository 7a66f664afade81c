"""Pure parts of training: learning-rate schedule, batch plan, collation, config validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taskmix.config import from_dict
from taskmix.errors import ConfigError, DataError
from taskmix.training.config import TrainConfig, lr_at
from taskmix.records import TrainingExample
from taskmix.training.data import TokenisedData, batch_plan, collate, read_examples


def test_lr_schedule_hand_computed():
    cfg = TrainConfig(lr=1.0, warmup_steps=2, schedule="linear", min_lr_ratio=0.0)
    # total 6 steps: warm-up 0.5, 1.0; then decay over steps 2..5 (3 intervals)
    assert [round(lr_at(s, 6, cfg), 6) for s in range(6)] == [0.5, 1.0, 1.0, 0.666667, 0.333333, 0.0]
    cos = TrainConfig(lr=2.0, warmup_steps=0, schedule="cosine", min_lr_ratio=0.5)
    assert lr_at(0, 3, cos) == pytest.approx(2.0)
    assert lr_at(1, 3, cos) == pytest.approx(1.5)  # halfway: floor 1 + 1 * 0.5
    assert lr_at(2, 3, cos) == pytest.approx(1.0)
    const = TrainConfig(lr=0.3, warmup_steps=1, schedule="constant")
    assert [lr_at(s, 4, const) for s in range(3)] == [0.3, 0.3, 0.3]


@pytest.mark.parametrize(
    "field,value",
    [("lr", 0.0), ("batch_size", 0), ("grad_accum", 0), ("max_length", 4), ("dtype", "fp16"),
     ("lora_dropout", 1.0), ("max_steps", 0), ("schedule", "step")],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


def test_config_from_yaml_dict_rejects_unknown_key():
    assert from_dict(TrainConfig, {"lr": 3e-4, "lora_targets": ["q_proj"]}).lora_targets == ("q_proj",)
    with pytest.raises(ConfigError, match="unknown key 'learning_rate'"):
        from_dict(TrainConfig, {"learning_rate": 1e-3})


def test_batch_plan_is_seeded_and_covers_every_example():
    lengths = np.array([5, 50, 7, 40, 9, 30, 11, 20, 13, 60])
    a = batch_plan(lengths, 3, seed=1, epoch=0, batching="bucket", bucket_size=2)
    b = batch_plan(lengths, 3, seed=1, epoch=0, batching="bucket", bucket_size=2)
    c = batch_plan(lengths, 3, seed=1, epoch=1, batching="bucket", bucket_size=2)
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert [x.tolist() for x in a] != [x.tolist() for x in c]
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    for batch in a:  # bucketing: within a batch, lengths are sorted descending
        assert list(lengths[batch]) == sorted(lengths[batch], reverse=True)
    plain = batch_plan(lengths, 4, seed=1, epoch=0, batching="shuffle", bucket_size=2)
    assert [len(x) for x in plain] == [4, 4, 2]


def test_collate_gathers_positions_predicting_targets():
    # example 0: prompt [1,2,3], target [4,5]; example 1: prompt [6], target [7]
    data = TokenisedData(
        ids=np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.int32),
        offsets=np.array([0, 5, 7]),
        prompt_lens=np.array([3, 1], dtype=np.int32),
        n_truncated=0,
    )
    b = collate(data, np.array([0, 1]), pad_id=0)
    assert b.input_ids.tolist() == [[1, 2, 3, 4, 5], [6, 7, 0, 0, 0]]
    assert b.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    # width 5: row 0 positions 2, 3 predict 4, 5; row 1 position 0 -> flat 5 predicts 7
    assert b.positions.tolist() == [2, 3, 5]
    assert b.labels.tolist() == [4, 5, 7]
    assert (b.n_tokens, b.n_targets) == (7, 3)


def test_read_examples_reports_file_and_line(tmp_path):
    path = tmp_path / "prompts.jsonl"
    good = json.dumps(TrainingExample(prompt="p", target=" t", task="x").to_json())
    path.write_text(good + "\n" + '{"prompt": "p", "task": "x"}\n', encoding="utf-8")
    it = read_examples(path)
    assert next(it).target == " t"
    with pytest.raises(DataError, match=r"prompts.jsonl:2: missing or non-string field 'target'"):
        next(it)


def test_freeze_embeddings_keeps_the_embedding_table_and_trains_the_rest(train_tiny_model, tiny_mixture, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from taskmix.training import TrainConfig, train

    config = TrainConfig(lr=5e-3, batch_size=4, max_steps=2, warmup_steps=1, progress=False, max_length=256,
                         freeze_embeddings=True, save_every=0)
    result = train(str(train_tiny_model), tiny_mixture, tmp_path / "run", config)
    before = AutoModelForCausalLM.from_pretrained(train_tiny_model, dtype=torch.float32)
    after = AutoModelForCausalLM.from_pretrained(result.model_dir, dtype=torch.float32)
    assert torch.equal(before.get_input_embeddings().weight, after.get_input_embeddings().weight)
    changed = [n for (n, a), (_, b) in zip(before.named_parameters(), after.named_parameters()) if not torch.equal(a, b)]
    assert changed and not any("embed" in n for n in changed)


def test_freeze_embeddings_with_lora_is_refused():
    from taskmix.errors import ConfigError
    from taskmix.training import TrainConfig

    with pytest.raises(ConfigError, match="freeze_embeddings applies to full fine-tuning"):
        TrainConfig(lora=True, freeze_embeddings=True)


@pytest.mark.parametrize("lora", [False, True])
def test_gradient_checkpointing_gives_the_same_losses_and_weights(train_tiny_model, tiny_mixture, tmp_path, lora):
    import json

    import torch
    from transformers import AutoModelForCausalLM

    from taskmix.training import TrainConfig, train

    runs = {}
    for checkpointing in (False, True):
        config = TrainConfig(lr=5e-3, batch_size=4, max_steps=3, warmup_steps=1, progress=False, max_length=256,
                             lora=lora, gradient_checkpointing=checkpointing, save_every=0)
        out = tmp_path / f"run-{checkpointing}"
        result = train(str(train_tiny_model), tiny_mixture, out, config)
        losses = [json.loads(line)["loss"] for line in (out / "loss.jsonl").read_text().splitlines() if '"loss"' in line]
        runs[checkpointing] = (losses, AutoModelForCausalLM.from_pretrained(result.model_dir, dtype=torch.float32))
    from taskmix.training.model import load_for_training

    model, _ = load_for_training(train_tiny_model, TrainConfig(lora=lora, gradient_checkpointing=True))
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())  # it is on
    (plain, plain_model), (ckpt, ckpt_model) = runs[False], runs[True]
    assert len(plain) == 3 and ckpt == pytest.approx(plain, abs=1e-6)
    for (name, a), (_, b) in zip(plain_model.named_parameters(), ckpt_model.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
