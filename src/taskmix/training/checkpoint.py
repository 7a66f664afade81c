"""Resumable training checkpoints, in safetensors plus one JSON file.

A checkpoint is a folder ``checkpoints/step-00000100/`` holding:

* ``trainable.safetensors``: every trainable parameter by name (all weights for full
  fine-tuning, the adapter weights for LoRA);
* ``optimizer.safetensors``: AdamW state tensors, keyed ``<param index>.<name>``;
* ``rng.safetensors``: the torch CPU generator state;
* ``state.json``: step, data position, optimizer hyper-parameters, scheduler step,
  Python RNG state and the sha256 of each file above (verified on load).

The folder is written under a temporary name and renamed when complete, so a killed
run never leaves a half-written checkpoint under a real name. Nothing here calls
``torch.load``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TaskmixError
from ..fileio import atomic_write_bytes, atomic_write_json

CKPT_DIR = "checkpoints"
PREFIX = "step-"


@dataclass(frozen=True)
class TrainState:
    """Where a run stands after ``step`` optimizer steps."""

    step: int
    micro_batches: int  # micro-batches consumed (global, across processes)
    tokens: int  # real tokens seen by this process
    elapsed_s: float


def checkpoint_dirs(out_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(out_dir) / CKPT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and p.name[len(PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trainable_tensors(model: Any) -> dict[str, Any]:
    """Trainable parameters by name (shared parameters once), detached contiguous copies."""
    return {n: p.detach().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(out_dir: Path, model: Any, optimizer: Any, state: TrainState, keep: int) -> Path:
    """Write checkpoint ``step-<state.step>`` atomically and prune old ones (``keep`` > 0)."""
    import torch
    from safetensors.torch import save

    root = Path(out_dir) / CKPT_DIR
    final = root / f"{PREFIX}{state.step:08d}"
    tmp = root / f".{final.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    blobs: dict[str, bytes] = {"trainable.safetensors": save(trainable_tensors(model))}
    opt = optimizer.state_dict()
    opt_tensors: dict[str, Any] = {}
    for idx, pstate in opt["state"].items():
        for key, value in pstate.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            opt_tensors[f"{idx}.{key}"] = t.detach().contiguous().clone()
    blobs["optimizer.safetensors"] = save(opt_tensors)
    blobs["rng.safetensors"] = save({"torch_cpu": torch.get_rng_state()})
    for name, data in blobs.items():
        atomic_write_bytes(tmp / name, data)
    py_version, py_state, py_gauss = random.getstate()
    atomic_write_json(
        tmp / "state.json",
        {
            "step": state.step,
            "micro_batches": state.micro_batches,
            "tokens": state.tokens,
            "elapsed_s": state.elapsed_s,
            "scheduler": {"step": state.step},
            "optimizer_param_groups": opt["param_groups"],
            "python_rng": [py_version, list(py_state), py_gauss],
            "sha256": {name: _sha(data) for name, data in blobs.items()},
        },
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    if keep > 0:
        for old in checkpoint_dirs(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model: Any, optimizer: Any) -> TrainState:
    """Restore model weights, optimizer, RNG and position from ``path``.

    Any problem (missing or altered file, wrong parameter names or shapes) is a one-line
    :class:`TaskmixError` naming the checkpoint; nothing on disk is changed.
    """
    import torch
    from safetensors.torch import load

    def corrupt(why: str) -> TaskmixError:
        return TaskmixError(f"{path}: corrupt checkpoint ({why}); remove it or use a new --out")

    try:
        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
        sums = meta["sha256"]
        blobs = {}
        for name in ("trainable.safetensors", "optimizer.safetensors", "rng.safetensors"):
            data = (path / name).read_bytes()
            if _sha(data) != sums.get(name):
                raise corrupt(f"{name} does not match its checksum")
            blobs[name] = load(data)
    except TaskmixError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise corrupt(f"{type(e).__name__}: {e}") from None
    except Exception as e:  # safetensors raises its own error type on malformed headers
        raise corrupt(f"{type(e).__name__}: {e}") from None

    weights = blobs["trainable.safetensors"]
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if set(weights) != set(params):
        missing = sorted(set(params) - set(weights)) or sorted(set(weights) - set(params))
        raise corrupt(f"parameter names differ from the model, e.g. {missing[0]!r}")
    with torch.no_grad():
        for name, p in params.items():
            if weights[name].shape != p.shape:
                raise corrupt(f"shape of {name!r} is {tuple(weights[name].shape)}, model has {tuple(p.shape)}")
            p.copy_(weights[name])

    groups = meta["optimizer_param_groups"]
    state: dict[int, dict[str, Any]] = {}
    for key, value in blobs["optimizer.safetensors"].items():
        idx, _, name = key.partition(".")
        state.setdefault(int(idx), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as e:
        raise corrupt(f"optimizer state does not fit: {e}") from None
    torch.set_rng_state(blobs["rng.safetensors"]["torch_cpu"])
    version, py_state, gauss = meta["python_rng"]
    random.setstate((version, tuple(py_state), gauss))
    return TrainState(
        step=int(meta["step"]),
        micro_batches=int(meta["micro_batches"]),
        tokens=int(meta["tokens"]),
        elapsed_s=float(meta["elapsed_s"]),
    )
