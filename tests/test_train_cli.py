"""``taskmix train`` through taskmix.cli.main: a normal run and every kind of bad input."""

from __future__ import annotations

import json

from taskmix.cli import main
from taskmix.training.checkpoint import checkpoint_dirs

ARGS = ["--steps", "4", "--batch-size", "4", "--save-every", "2", "--no-progress", "--max-length", "256"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if line.startswith("taskmix:")]
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_train_cli_runs_and_is_idempotent(train_tiny_model, tiny_mixture, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", str(train_tiny_model), "--data", str(tiny_mixture), "--out", str(out), *ARGS]
    assert main(argv) == 0
    assert "trained 4 steps" in capsys.readouterr().out
    assert (out / "model" / "config.json").is_file() and (out / "loss.jsonl").is_file()
    assert main(argv) == 0  # same run again: already complete, nothing overwritten
    assert "already holds this finished run" in capsys.readouterr().out


def test_output_folder_with_a_different_run_is_refused(train_tiny_model, tiny_mixture, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--model", str(train_tiny_model), "--data", str(tiny_mixture), "--out", str(out)]
    assert main(base + ARGS) == 0
    before = (out / "model" / "model.safetensors").read_bytes()
    assert main(base + ARGS + ["--lr", "0.5"]) != 0
    assert "holds a different run (config lr" in one_error_line(capsys)
    assert (out / "model" / "model.safetensors").read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(base[:-1] + [str(other)] + ARGS) != 0
    assert "not empty and holds no taskmix run" in one_error_line(capsys)


def test_corrupt_checkpoint_is_one_line_and_keeps_earlier_ones(train_tiny_model, tiny_mixture, tmp_path, capsys):
    from taskmix.training import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig(max_steps=6, batch_size=4, save_every=2, keep_checkpoints=0, progress=False, max_length=256)
    train(train_tiny_model, tiny_mixture, out, cfg, stop_after=5)
    ckpts = checkpoint_dirs(out)
    assert [c.name for c in ckpts] == ["step-00000002", "step-00000004"]
    blob = ckpts[-1] / "optimizer.safetensors"
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    earlier = {p.name: p.read_bytes() for p in ckpts[0].iterdir()}
    argv = ["train", "--model", str(train_tiny_model), "--data", str(tiny_mixture), "--out", str(out),
            "--steps", "6", "--batch-size", "4", "--save-every", "2", "--no-progress", "--max-length", "256"]
    # keep_checkpoints differs from the CLI default but is resume-free; the config matches otherwise
    assert main(argv) != 0
    line = one_error_line(capsys)
    assert "step-00000004: corrupt checkpoint (optimizer.safetensors does not match its checksum)" in line
    assert {p.name: p.read_bytes() for p in ckpts[0].iterdir()} == earlier
    (ckpts[-1] / "state.json").write_text("{not json")
    assert main(argv) != 0
    assert "corrupt checkpoint" in one_error_line(capsys)


def test_bad_inputs_are_one_line_errors(train_tiny_model, tiny_mixture, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "prompts.jsonl").write_text("")
    cases = [
        (["--data", str(empty)], "the mixture is empty"),
        (["--data", str(tmp_path / "nope")], "no such mixture folder"),
        (["--model", str(tmp_path)], "not a Hugging Face model folder"),
        (["--lr", "-1"], "lr must be > 0"),
    ]
    for i, (extra, message) in enumerate(cases):
        argv = ["train", "--model", str(train_tiny_model), "--data", str(tiny_mixture),
                "--out", str(tmp_path / f"out{i}"), *ARGS, *extra]
        assert main(argv) != 0, extra
        assert message in one_error_line(capsys), extra
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "a", "target": " b", "task": "t"}) + "\n{oops\n")
    assert main(["train", "--model", str(train_tiny_model), "--data", str(bad), "--out", str(tmp_path / "o"), *ARGS]) != 0
    assert "bad.jsonl:2: malformed JSON" in one_error_line(capsys)
    cfg = tmp_path / "train.yaml"
    cfg.write_text("lr: 1e-3\nwarmup: 3\n")
    assert main(["train", "--model", str(train_tiny_model), "--data", str(tiny_mixture), "--out", str(tmp_path / "y"),
                 "--config", str(cfg)]) != 0
    assert "unknown key 'warmup'" in one_error_line(capsys)


def test_a_run_that_failed_before_training_can_be_retried(train_tiny_model, tiny_mixture, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "run"
    base = ["train", "--model", str(train_tiny_model), "--out", str(out), *ARGS]
    assert main(base + ["--data", str(empty)]) != 0
    assert "the mixture is empty" in one_error_line(capsys)
    assert main(base + ["--data", str(tiny_mixture)]) == 0  # fixed data: same folder is fine
