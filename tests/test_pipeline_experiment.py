"""Experiment files: every example config validates; bad keys fail by name; a tiny run works end to end."""

from pathlib import Path

import pytest

from taskmix.cli import main
from taskmix.errors import ConfigError
from taskmix.pipeline.experiment import load_experiment

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_there_are_example_configs():
    names = {p.stem for p in CONFIGS}
    assert {"demo", "symbol_tuning", "insta_tuning", "eval_only"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_example_config_loads(path):
    cfg = load_experiment(path)
    assert cfg.eval_config(cfg.model, "x").model == cfg.model
    if cfg.train is not None:
        assert cfg.train_config().max_steps >= 1


def _write(tmp_path, text):
    p = tmp_path / "exp.yaml"
    p.write_text(text)
    return p


def test_unknown_keys_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'epochz'"):
        load_experiment(_write(tmp_path, "name: x\neval_models: [base]\neval: {tasks: [subj]}\nbuild: {}\ntrain: {epochz: 1}\n"))
    with pytest.raises(ConfigError, match="unknown key 'selct'"):
        load_experiment(_write(tmp_path, "name: x\nselct: {}\neval: {tasks: [subj]}\n"))
    with pytest.raises(ConfigError, match=r"experiment.eval: unknown key 'settingz'"):
        load_experiment(_write(tmp_path, "name: x\neval_models: [base]\neval: {tasks: [subj], settingz: [all]}\n"))


def test_impossible_combinations(tmp_path):
    with pytest.raises(ConfigError, match="no train section"):
        load_experiment(_write(tmp_path, "name: x\neval_models: [base, tuned]\neval: {tasks: [subj]}\n"))
    with pytest.raises(ConfigError, match="exactly one of target and instruction"):
        load_experiment(_write(tmp_path, "name: x\nselect: {k: 3}\nbuild: {}\ntrain: {}\neval: {tasks: [subj]}\n"))


def test_cli_bad_config_is_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such config file" in err
    bad = _write(tmp_path, "name: [unclosed\n")
    assert main(["run", str(bad)]) != 0
    assert "malformed YAML" in capsys.readouterr().err


def test_run_dtype_overrides_training_and_every_evaluation(tmp_path, monkeypatch, capsys):
    from taskmix.commands import run_cmd
    from taskmix.pipeline.experiment import with_dtype

    path = _write(tmp_path, "name: x\nbuild: {}\ntrain: {dtype: bf16}\neval: {tasks: [subj], dtype: bf16}\n")
    cfg = with_dtype(load_experiment(path), "float32")
    assert cfg.train_config().dtype == "fp32" and cfg.eval_config(cfg.model, "o").dtype == "fp32"
    (tmp_path / "eval_only.yaml").write_text("name: x\neval: {tasks: [subj]}\n")
    eval_only = with_dtype(load_experiment(tmp_path / "eval_only.yaml"), "auto")
    assert eval_only.train is None and eval_only.eval_config(eval_only.model, "o").dtype == "auto"
    with pytest.raises(ConfigError, match="dtype must be"):
        with_dtype(cfg, "fp16")

    # the command hands the overridden config to the run (and leaves the file's own alone without the flag)
    seen = []
    monkeypatch.setattr(run_cmd, "run_experiment", lambda c, evaluate: seen.append(c) or _Done())
    assert main(["run", str(path), "--dtype", "auto", "--no-eval"]) == 0
    assert main(["run", str(path), "--no-eval"]) == 0
    assert [c.train_config().dtype for c in seen] == ["auto", "bf16"]
    assert [c.eval_config(c.model, "o").dtype for c in seen] == ["auto", "bf16"]
    assert main(["run", str(path), "--dtype", "fp16"]) == 2 and "invalid choice" in capsys.readouterr().err


class _Done:
    seconds, run_dir, report_html = 0.0, "runs/x", None
