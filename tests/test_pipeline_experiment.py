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
