"""Aligned-encoder training end to end on a toy pool (tiny: one optimisation step)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taskmix.cli import main
from taskmix.errors import TaskmixError
from taskmix.selection.align import AlignConfig, train_aligned_encoder
from taskmix.selection.encoder import Encoder
from taskmix.selection.index import Pool, PoolTask

POOL = Pool("toy", (
    PoolTask("a", ("Classify the review as positive or negative.", "Is this review positive?"), "Sentiment", "r"),
    PoolTask("b", ("Translate the sentence into German.",), "Translation", "t"),
    PoolTask("c", ("Write a question about the passage.",), "Question Generation", "q"),
    PoolTask("d", ("Count the vowels in the word.",), "Program Execution", "s"),
))


def test_train_aligned_encoder_writes_a_loadable_seeded_model(tmp_path, monkeypatch, minilm_path):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    cfg = AlignConfig(epochs=1, lr=1e-3, batch_size=4, max_pairs=4, max_seq_length=16, seed=3)
    report = train_aligned_encoder("toy", tmp_path, tmp_path / "enc", cfg, encoder=str(minilm_path), pool=POOL, holdout=("d",))
    assert report.n_positive == 1 and report.n_holdout == 1
    meta = json.loads((tmp_path / "enc" / "taskmix_align.json").read_text())
    assert meta["holdout"] == ["d"] and meta["config"]["seed"] == 3
    assert (tmp_path / "enc" / "modules.json").is_file()
    base = Encoder(minilm_path, cache_dir=tmp_path / "e1").encode(list(POOL.texts))
    tuned = Encoder(tmp_path / "enc", cache_dir=tmp_path / "e2").encode(list(POOL.texts))
    assert tuned.shape == base.shape and not np.allclose(tuned, base, atol=1e-4)
    with pytest.raises(TaskmixError, match="not in the toy pool"):
        train_aligned_encoder("toy", tmp_path, tmp_path / "x", cfg, encoder=str(minilm_path), pool=POOL, holdout=("zz",))


def test_cli_train_encoder_without_positive_pairs(capsys, tmp_path, monkeypatch, mirror, minilm_path):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    code = main(["select", "train-encoder", "--pool", "bbh", "--data", str(mirror), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "no positive pairs" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
