"""The in-context check during training (``eval_every``) on a tiny random Llama: checks at
the right steps, logged in loss.jsonl beside the loss, training unchanged by them, exact
resume, the model put back as it was, and one-line errors for bad check settings."""

from __future__ import annotations

import json

import pytest
import torch

from taskmix.cli import main
from taskmix.training import TrainConfig, train
from taskmix.training.icl_check import ICLCheck
from taskmix.training.model import load_for_training
from taskmix.training.rundir import read_loss_log

FAST = dict(lr=5e-3, batch_size=4, warmup_steps=2, progress=False, max_length=256)
TIMING = ("tokens_per_s", "icl_seconds")


@pytest.fixture
def check_tasks(tmp_path):
    """Two user task files: a binary one (both settings apply) and a 3-class one (no flipped)."""
    words = {"good": ["nice", "fine", "great"], "bad": ["dull", "poor", "awful"], "odd": ["weird", "strange", "rare"]}
    paths = []
    for name, labels in (("binary", ("good", "bad")), ("three", ("good", "bad", "odd"))):
        rows = [{"text": f"a {words[labels[i % len(labels)]][i % 3]} film {i}", "label": labels[i % len(labels)]}
                for i in range(45)]
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(str(path))
    return tuple(paths)


def check_config(tasks, **kw):
    return TrainConfig(eval_every=2, eval_tasks=tasks, eval_queries=6, eval_block_size=3, **{**FAST, **kw})


def without_timing(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_checks_are_logged_at_their_steps_and_change_no_training(train_tiny_model, tiny_mixture, check_tasks,
                                                                   tmp_path):
    cfg = check_config(check_tasks, max_steps=5, log_every=3)
    train(train_tiny_model, tiny_mixture, tmp_path / "run", cfg)
    rows = read_loss_log(tmp_path / "run", all_rows=True)
    assert [r["step"] for r in rows] == [0, 2, 3, 4, 5]  # before training, every 2 steps, the last; 3 is log_every
    assert [r["step"] for r in rows if "icl" in r] == [0, 2, 4, 5]
    assert "loss" not in rows[0] and all("loss" in r for r in rows[1:])
    for r in rows:
        if "icl" in r:
            assert set(r["icl"]) == {"noinstr_symbols", "flipped"}  # flipped from the binary task only
            assert all(0.0 <= v <= 1.0 for v in r["icl"].values())
    assert [r["step"] for r in read_loss_log(tmp_path / "run")] == [2, 3, 4, 5]  # readers of losses see losses
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    plain = train(train_tiny_model, tiny_mixture, tmp_path / "plain", cfg.replace(eval_every=0, log_every=1))
    assert plain.complete
    by_step = {r["step"]: r["loss"] for r in read_loss_log(tmp_path / "plain")}
    assert {r["step"]: r["loss"] for r in rows[1:]} == {s: by_step[s] for s in (2, 3, 4, 5)}


def test_killed_and_resumed_run_logs_the_same_checks(train_tiny_model, tiny_mixture, check_tasks, tmp_path):
    cfg = check_config(check_tasks, max_steps=5, save_every=2, keep_checkpoints=1, lr=5e-2)
    train(train_tiny_model, tiny_mixture, tmp_path / "whole", cfg)
    killed = train(train_tiny_model, tiny_mixture, tmp_path / "split", cfg, stop_after=3)
    assert not killed.complete
    resumed = train(train_tiny_model, tiny_mixture, tmp_path / "split", cfg)
    assert resumed.resumed_from == 2
    whole = without_timing(read_loss_log(tmp_path / "whole", all_rows=True))
    assert without_timing(read_loss_log(tmp_path / "split", all_rows=True)) == whole
    assert [r["step"] for r in whole if "icl" in r] == [0, 2, 4, 5]
    # a fresh start in a folder whose first try failed after its check before training logs it once
    again = tmp_path / "again"
    train(train_tiny_model, tiny_mixture, again, cfg, stop_after=1)
    assert not list((again / "checkpoints").glob("step-*"))
    train(train_tiny_model, tiny_mixture, again, cfg)
    assert without_timing(read_loss_log(again, all_rows=True)) == whole


def test_check_puts_the_model_back_and_sees_the_same_prompts(train_tiny_model, check_tasks):
    for lora in (False, True):
        cfg = check_config(check_tasks, lora=lora, lora_r=4, lora_alpha=8)
        model, tok = load_for_training(train_tiny_model, cfg)
        model.train()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        check = ICLCheck(cfg)
        first = check(model, tok)
        assert set(first) == {"noinstr_symbols", "flipped"}
        assert all(m.training for m in model.modules())
        after = model.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert check(model, tok) == first  # same prompts, same model: same numbers
        assert check.seconds > 0 and check.last_seconds > 0
        model.eval()
        check(model, tok)
        assert not any(m.training for m in model.modules())  # the mode it had, whatever it was


def test_bad_check_settings_are_one_line_and_write_nothing(train_tiny_model, tiny_mixture, check_tasks, tmp_path,
                                                           capsys):
    base = ["train", "--model", str(train_tiny_model), "--data", str(tiny_mixture), "--steps", "2", "--no-progress",
            "--max-length", "256"]
    cases = [
        (["--eval-every", "2", "--eval-tasks", "no_such_task"], "unknown task 'no_such_task'"),
        (["--eval-every", "-1"], "eval_every must be >= 0"),
    ]
    cfg = tmp_path / "check.yaml"
    cfg.write_text(f"eval_every: 1\neval_tasks: [{check_tasks[1]}]\neval_settings: [flipped]\n")
    cases.append((["--config", str(cfg)], "apply to none of the eval_tasks"))
    bad_setting = tmp_path / "bad.yaml"
    bad_setting.write_text("eval_settings: [upside_down]\n")
    cases.append((["--config", str(bad_setting)], "eval_settings must hold settings among"))
    for i, (extra, message) in enumerate(cases):
        out = tmp_path / f"out{i}"
        assert main(base + ["--out", str(out), *extra]) != 0, extra
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and message in err[0], (extra, err)
        assert not out.exists()
