"""`taskmix select`: bad input gives one line and a non-zero exit; a real run on the BBH pool."""

from __future__ import annotations

import json

import pytest

from taskmix.cli import main


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("taskmix: error:"), err
    return err


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_instruction(capsys, mirror, cache, text):
    err = _one_line_error(capsys, ["select", "--pool", "bbh", "--data", str(mirror), "--instruction", text])
    assert "instruction is empty" in err


def test_unknown_pool(capsys, cache):
    assert "unknown pool 'nope'" in _one_line_error(capsys, ["select", "--pool", "nope", "--instruction", "x"])


def test_k_larger_than_pool(capsys, mirror, cache):
    err = _one_line_error(capsys, ["select", "--pool", "bbh", "--data", str(mirror), "--instruction", "sort words", "--k", "28"])
    assert "larger than the 27 tasks" in err


def test_k_not_positive(capsys, mirror, cache):
    assert "at least 1" in _one_line_error(capsys, ["select", "--pool", "bbh", "--instruction", "x", "--k", "0"])


def test_encoder_folder_that_is_not_sentence_transformers(capsys, tmp_path, mirror, cache):
    bad = tmp_path / "not_a_model"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    err = _one_line_error(capsys, ["select", "--pool", "bbh", "--data", str(mirror), "--instruction", "x", "--encoder", str(bad)])
    assert "not a sentence-transformers model folder" in err
    err = _one_line_error(capsys, ["select", "--pool", "bbh", "--instruction", "x", "--encoder", str(tmp_path / "missing")])
    assert "does not exist" in err


def test_needs_target_or_instruction_and_out_for_training(capsys, cache):
    assert "--target NAME or --instruction" in _one_line_error(capsys, ["select", "--pool", "bbh"])
    assert "needs --out" in _one_line_error(capsys, ["select", "train-encoder", "--pool", "bbh"])


def test_unknown_target(capsys, mirror, cache, minilm_path):
    err = _one_line_error(capsys, ["select", "--pool", "bbh", "--data", str(mirror), "--target", "bbh/navigat", "--k", "3"])
    assert "unknown task" in err or "unknown BBH task" in err


def test_select_instruction_on_bbh_pool(capsys, mirror, cache, minilm_path):
    code = main(["select", "--pool", "bbh", "--data", str(mirror), "--instruction",
                 "Sort the given list of words alphabetically.", "--k", "3", "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["name"] == "bbh/word_sorting"
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]
    assert list(cache.glob("embeddings/*.npz"))  # embeddings were cached


def test_select_target_excludes_itself(capsys, mirror, cache, minilm_path):
    code = main(["select", "--pool", "bbh", "--data", str(mirror), "--target", "bbh/logical_deduction_five_objects", "--k", "2"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()[1:]
    assert len(lines) == 2 and all("logical_deduction_five_objects" not in line for line in lines)
    assert "logical_deduction" in lines[0]  # the three/seven-object variants share its instruction
