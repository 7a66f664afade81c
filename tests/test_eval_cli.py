"""`taskmix eval`, `taskmix compare` and `taskmix symbols` through taskmix.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskmix.cli import main


@pytest.fixture
def task_file(tmp_path) -> Path:
    rows = [{"text": f"row {i} is {'good' if i % 2 else 'bad'}", "label": "positive" if i % 2 else "negative"}
            for i in range(40)]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one_line_error(capsys, argv: list[str], pattern: str) -> None:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc != 0
    assert err.startswith("taskmix: error:") and err.count("\n") == 1, err
    assert pattern in err, err
    assert "Traceback" not in err


def test_eval_on_a_user_file_writes_a_run_and_compare_reads_it(tmp_path, task_file, fake_engine, capsys):
    out = tmp_path / "runs" / "a"
    argv = ["eval", "--model", "fake", "--tasks", str(task_file), "--settings", "noinstr_labels,flipped",
            "--k", "2", "--max-examples", "6", "--out", str(out), "--no-progress", "--no-plots"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| mine | 6 |" in printed and f"wrote {out}" in printed
    data = json.loads((out / "results.json").read_text())
    assert [s["setting"] for s in data["scores"]] == ["noinstr_labels", "flipped"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 12
    # same evaluation again: allowed (resumes through the engine cache)
    assert main(argv) == 0
    capsys.readouterr()
    # a different evaluation into the same folder: refused, results kept
    one_line_error(capsys, argv[:-4] + ["--seed", "5", "--out", str(out), "--no-progress", "--no-plots"], "different run")
    assert json.loads((out / "results.json").read_text())["run_key"] == data["run_key"]
    out_b = tmp_path / "runs" / "b"  # the same prompts, scored another way
    assert main(argv[:-4] + ["--length-normalized", "--out", str(out_b), "--no-progress", "--no-plots"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), str(out_b)]) == 0
    text = capsys.readouterr().out
    assert "mine" in text and "B-A" in text
    out_c = tmp_path / "runs" / "c"  # other prompts: nothing to pair them with
    assert main(argv[:-4] + ["--format", "q_a", "--out", str(out_c), "--no-progress", "--no-plots"]) == 0
    capsys.readouterr()
    one_line_error(capsys, ["compare", str(out), str(out_c)], "shown different prompts (format: 'random' vs 'q_a')")


def test_unknown_suite(capsys, tmp_path):
    one_line_error(capsys, ["eval", "--model", "x", "--suite", "nope", "--out", str(tmp_path / "o")], "unknown suite 'nope'")


def test_unknown_task(capsys, tmp_path, fake_engine, mirror):
    one_line_error(capsys, ["eval", "--model", "x", "--tasks", "nosuchtask", "--out", str(tmp_path / "o")],
                   "unknown task 'nosuchtask'")


def test_k_larger_than_a_class(capsys, tmp_path, task_file, fake_engine):
    one_line_error(capsys, ["eval", "--model", "x", "--tasks", str(task_file), "--k", "50", "--no-progress",
                            "--out", str(tmp_path / "o")], "class")
    assert not (tmp_path / "o" / "results.json").exists()


def test_prompt_that_cannot_fit(capsys, tmp_path, task_file, fake_engine):
    one_line_error(capsys, ["eval", "--model", "x", "--tasks", str(task_file), "--max-context-tokens", "8",
                            "--no-progress", "--out", str(tmp_path / "o")], "no query fits")


def test_model_path_that_does_not_exist(capsys, tmp_path, task_file):
    one_line_error(capsys, ["eval", "--model", str(tmp_path / "no-model"), "--tasks", str(task_file),
                            "--out", str(tmp_path / "o")], "not found")


def test_missing_task_file_and_bad_setting(capsys, tmp_path, fake_engine):
    one_line_error(capsys, ["eval", "--model", "x", "--tasks", str(tmp_path / "missing.jsonl"),
                            "--out", str(tmp_path / "o")], "missing.jsonl")
    one_line_error(capsys, ["eval", "--model", "x", "--tasks", "subj", "--settings", "weird",
                            "--out", str(tmp_path / "o")], "unknown setting")


def test_compare_needs_run_folders(capsys, tmp_path):
    one_line_error(capsys, ["compare", str(tmp_path), str(tmp_path)], "not an evaluation run")


def test_symbols_show(capsys):
    assert main(["symbols", "show", "--pool", "tuning", "--n", "5", "--kind", "word"]) == 0
    out = capsys.readouterr().out
    assert "pool tuning: 30000 symbols" in out and "word" in out
    assert len(out.strip().splitlines()[-1].split()) == 5
    one_line_error(capsys, ["symbols", "show", "--pool", "nope"], "unknown symbol pool")


def test_yaml_config_drives_eval_and_flags_override(tmp_path, task_file, fake_engine, capsys):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(f"model: fake\ntasks: {task_file}\nsettings: noinstr_symbols\nk: 1\nmax_examples: 4\n"
                   "plots: false\nprogress: false\nshared_demos: true\n")
    out = tmp_path / "y"
    assert main(["eval", "--config", str(cfg), "--k", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["k"] == 2 and data["config"]["shared_demos"] is True
    assert data["config"]["settings"] == ["noinstr_symbols"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: fake\ntasks: [x]\nwrong_key: 1\n")
    one_line_error(capsys, ["eval", "--config", str(bad), "--out", str(out)], "unknown key 'wrong_key'")


@pytest.mark.parametrize("argv, pattern", [
    (["--block-size", "0"], "block_size must be at least 1"),
    (["--block-size", "-3"], "block_size must be at least 1"),
    (["--block-size", "5", "--shared-demos"], "conflict"),
    (["--seeds", ""], "expected at least one integer"),
    (["--seeds", "0,1,0"], "must not repeat a seed"),
])
def test_bad_protocol_flags_are_one_line_and_leave_the_run_folder(capsys, tmp_path, task_file, argv, pattern):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("earlier")
    rc = main(["eval", "--model", "x", "--tasks", str(task_file), "--no-progress", "--out", str(out)] + argv)
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1 and pattern in err, err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
