"""Data-parallel training under ``accelerate launch`` on CPU (gloo), against one process.

Two processes with ``--batch-size 2`` see disjoint halves of every global batch of 4 (the
run covers a whole epoch, whose short last batch leaves one process without examples), so
their loss curve and final weights must equal one process with ``--batch-size 4`` up to
float rounding (fp32). Also: a 2-process run resumed from its checkpoint equals the
uninterrupted one. Each launch takes ~10-15 s (process start-up dominates).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskmix.training.rundir import read_loss_log

REL_TOL = 1e-4  # relative, per logged step (measured: 0 at the log's 6 decimals)
WEIGHT_TOL = 1e-5  # absolute, per parameter (measured: 5.6e-7 after 6 AdamW steps)
TRAIN = ["--steps", "6", "--grad-accum", "2", "--lr", "5e-3", "--max-length", "256", "--save-every", "2",
         "--no-progress"]


def test_processes_take_disjoint_strided_shares_of_a_global_batch(train_tiny_model, tiny_mixture):
    import numpy as np

    from taskmix.training import TrainConfig
    from taskmix.training.data import read_examples, tokenise
    from taskmix.training.model import load_for_training
    from taskmix.training.parallel import empty_like, shard_batch

    _, tok = load_for_training(train_tiny_model, TrainConfig())
    data = tokenise(read_examples(tiny_mixture), tok, 256)
    batch = np.array([5, 2, 9, 7, 1])
    parts = [shard_batch(data, batch, r, 2, tok.pad_token_id) for r in range(2)]
    assert [p.input_ids.shape[0] for p in parts] == [3, 2]  # [5, 9, 1] and [2, 7]
    whole = shard_batch(data, batch, 0, 1, tok.pad_token_id)
    assert sum(p.n_targets for p in parts) == whole.n_targets
    assert sum(p.n_tokens for p in parts) == whole.n_tokens
    assert shard_batch(data, batch[:1], 1, 2, tok.pad_token_id) is None  # nothing left for process 1
    empty = empty_like(parts[1])
    assert empty.n_targets == 0 and empty.labels.numel() == 0 and empty.positions.numel() == 0


def accelerate_exe() -> str:
    exe = Path(sys.executable).with_name("accelerate")
    if not exe.is_file():
        pytest.skip("accelerate launcher not installed")
    return str(exe)


def run_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="")
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def launch(args: list[str], processes: int) -> subprocess.CompletedProcess:
    """``python -m taskmix ARGS`` with one process, or under ``accelerate launch`` with several."""
    if processes == 1:
        cmd = [sys.executable, "-m", "taskmix", *args]
    else:
        cmd = [accelerate_exe(), "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
               "-m", "taskmix", *args]
    done = subprocess.run(cmd, env=run_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def train_args(model: Path, data: Path, out: Path, batch: int) -> list[str]:
    return ["train", "--model", str(model), "--data", str(data), "--out", str(out), "--batch-size", str(batch), *TRAIN]


def weights(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(out / "model" / "model.safetensors")


def max_rel_loss_diff(a: Path, b: Path) -> float:
    la, lb = [r["loss"] for r in read_loss_log(a)], [r["loss"] for r in read_loss_log(b)]
    assert len(la) == len(lb) == 6
    return max(abs(x - y) / abs(x) for x, y in zip(la, lb))


@pytest.fixture(scope="module")
def two_runs(train_tiny_model, tmp_path_factory):
    from tests.plugins.training import write_tiny_mixture

    root = tmp_path_factory.mktemp("scaling_train")
    data = write_tiny_mixture(root / "mixture", n=41)  # 11 global batches, the last of one example
    one, two = root / "one", root / "two"
    launch(train_args(train_tiny_model, data, one, 4), 1)
    launch(train_args(train_tiny_model, data, two, 2), 2)
    return train_tiny_model, data, one, two


def test_two_processes_match_one_process_with_the_same_global_batch(two_runs):
    _, _, one, two = two_runs
    diff = max_rel_loss_diff(one, two)
    print(f"max relative loss difference, 1 vs 2 processes: {diff:.3g}")
    assert diff < REL_TOL
    rows1, rows2 = read_loss_log(one), read_loss_log(two)
    assert [r["tokens"] for r in rows1] == [r["tokens"] for r in rows2]  # global token counts logged
    w1, w2 = weights(one), weights(two)
    assert w1.keys() == w2.keys()
    worst = max(float((w1[k] - w2[k]).abs().max()) for k in w1)
    assert worst < WEIGHT_TOL
    # and the training did move the weights (the comparison is not trivially true)
    from safetensors.torch import load_file

    model_dir = two_runs[0]
    start = load_file(next(model_dir.glob("*.safetensors")))
    assert max(float((start[k] - w1[k]).abs().max()) for k in start if k in w1) > 100 * WEIGHT_TOL


def test_two_process_run_resumes_from_its_checkpoint(two_runs, tmp_path):
    model, data, _, two = two_runs
    resumed = tmp_path / "resumed"
    shutil.copytree(two, resumed)
    # make it look killed after step 5: no final model, status running, checkpoints at 2 and 4
    shutil.rmtree(resumed / "model")
    run = json.loads((resumed / "run.json").read_text())
    (resumed / "run.json").write_text(json.dumps({**run, "status": "running"}))
    rows = (resumed / "loss.jsonl").read_text().splitlines()
    (resumed / "loss.jsonl").write_text("\n".join(rows[:5]) + "\n")
    # a resumed run starts from checkpoint 4 and rewrites step 5; poison step 5 to see it is redone
    (resumed / "loss.jsonl").write_text("\n".join(rows[:4] + [json.dumps({**json.loads(rows[4]), "loss": -1.0})]) + "\n")
    from taskmix.training.checkpoint import checkpoint_dirs

    assert checkpoint_dirs(resumed)[-1].name.endswith("4")
    launch(train_args(model, data, resumed, 2), 2)
    assert max_rel_loss_diff(two, resumed) < REL_TOL
    w1, w2 = weights(two), weights(resumed)
    assert max(float((w1[k] - w2[k]).abs().max()) for k in w1) < WEIGHT_TOL
    assert json.loads((resumed / "run.json").read_text())["status"] == "complete"
