"""Pools, the embedding cache and the aligned-encoder pair construction."""

from __future__ import annotations

import numpy as np
import pytest

from taskmix.errors import ConfigError, TaskmixError
from taskmix.selection import build_index, build_pool, select_by_instruction, select_for_task
from taskmix.selection.align import AlignConfig, positive_pairs, training_pairs
from taskmix.selection.encoder import Encoder, resolve_encoder, text_key
from taskmix.selection.index import Pool, PoolTask


def test_pools_sizes(mirror):
    assert len(build_pool("niv2", mirror)) == 1654
    assert 900 < len(build_pool("niv2", mirror, english_only=True)) < 1100
    bbh = build_pool("bbh", mirror)
    assert len(bbh) == 27 and all(len(t.instructions) == 1 for t in bbh.tasks)
    p3 = build_pool("p3", mirror)
    sst2 = p3.tasks[p3.position("p3/glue/sst2")]
    assert len(sst2.instructions) == 5 and sst2.source_dataset == "glue/sst2"
    assert len(p3.texts) > 2000
    bb = build_pool("bigbench", mirror)
    c001 = bb.tasks[bb.position("bigbench/list_functions/c001")]
    assert len(c001.instructions) == 2
    with pytest.raises(TaskmixError, match="unknown pool"):
        build_pool("flan", mirror)


def test_encoder_cache_is_keyed_by_fingerprint_and_text(tmp_path, minilm_path):
    enc = Encoder(minilm_path, cache_dir=tmp_path)
    texts = ["Sort the words.", "Translate to French.", "Sort the words."]
    v = enc.encode(texts)
    assert v.shape == (3, 384) and enc.n_encoded == 2
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(v[0], v[2])
    assert (tmp_path / f"{enc.fingerprint}.npz").is_file()
    # the same model elsewhere (links to its files): same fingerprint, so the same cache file
    copy = tmp_path / "copy"
    for f in minilm_path.rglob("*"):
        if f.is_file():
            (copy / f.relative_to(minilm_path)).parent.mkdir(parents=True, exist_ok=True)
            (copy / f.relative_to(minilm_path)).symlink_to(f)
    again = Encoder(copy, cache_dir=tmp_path)
    assert again.fingerprint == enc.fingerprint
    for weights in [*copy.rglob("*.safetensors"), *copy.rglob("*.bin")]:
        weights.unlink()  # loading the model would now fail
    w = again.encode(texts[:2])
    assert again.n_encoded == 0  # served from disk, the model never loaded
    assert np.allclose(w, v[:2])
    with pytest.raises(TaskmixError, match="cannot load encoder"):
        again.encode(["A text it has never seen."])
    assert text_key("a") != text_key("a ")


def test_resolve_encoder_errors(tmp_path):
    with pytest.raises(TaskmixError, match="not a sentence-transformers model folder"):
        resolve_encoder(tmp_path)
    with pytest.raises(TaskmixError, match="neither a folder nor a hub id"):
        resolve_encoder("nobody/no-such-model-xyz")


def test_select_api_on_bbh(mirror, tmp_path, minilm_path):
    enc = Encoder(minilm_path, cache_dir=tmp_path)
    index = build_index(build_pool("bbh", mirror), enc)
    out = select_for_task(index, enc, "bbh/tracking_shuffled_objects_three_objects", 2)
    assert {s.name for s in out} == {"bbh/tracking_shuffled_objects_five_objects", "bbh/tracking_shuffled_objects_seven_objects"}
    assert out[0].score == pytest.approx(1.0, abs=1e-5)  # identical instruction
    top = select_by_instruction(index, enc, "Is the argument deductively valid?", 1)
    assert top[0].name == "bbh/formal_fallacies"


TOY = Pool("toy", (
    PoolTask("a", ("a one", "a two"), "cat", "d1"),
    PoolTask("b", ("b one",), "cat", "d1"),
    PoolTask("c", ("c one",), "cat", "d2"),
    PoolTask("d", ("d one",), "other", "d3"),
))


def test_positive_pairs_same_task_or_same_source_and_category():
    texts = TOY.texts
    pairs = {(texts[i], texts[j]) for i, j in positive_pairs(TOY)}
    assert pairs == {("a one", "a two"), ("a one", "b one"), ("a two", "b one")}
    assert {(texts[i], texts[j]) for i, j in positive_pairs(TOY, holdout=("a",))} == set()
    by_cat = {(texts[i], texts[j]) for i, j in positive_pairs(TOY, rule="category")}
    assert by_cat == pairs | {("a one", "c one"), ("a two", "c one"), ("b one", "c one")}


def test_training_pairs_negatives_below_threshold_and_seeded():
    vecs = np.eye(5, dtype=np.float32)
    vecs[3] = vecs[0]  # "c one" is too similar to "a one" to be its negative
    cfg = AlignConfig(max_pairs=10, seed=1)
    pairs = training_pairs(TOY, vecs, cfg)
    assert pairs == training_pairs(TOY, vecs, cfg)
    pos = [p for p in pairs if p.label == 1.0]
    neg = [p for p in pairs if p.label == 0.0]
    assert len(pos) == 3 and len(neg) == 3
    assert not any(p.a == "a one" and p.b == "c one" for p in neg)
    held = training_pairs(TOY, vecs, cfg, holdout=("d",))
    assert all("d one" not in (p.a, p.b) for p in held)


def test_align_config_validation():
    with pytest.raises(ConfigError):
        AlignConfig(epochs=0)
    with pytest.raises(ConfigError):
        AlignConfig(lr=2.0)
    with pytest.raises(ConfigError, match="positives must be one of"):
        AlignConfig(positives="random")
