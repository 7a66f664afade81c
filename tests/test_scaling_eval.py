"""Evaluation sharded over processes: ``accelerate launch --multi_gpu --num_processes 2``
on CPU (gloo) writes the same scores and byte-identical predictions as one process.

The launch test takes ~20-30 s (two model loads per launch; process start-up dominates).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskmix.evaluation.distributed import SINGLE, World, my_chunks, my_prompt_count, score_sharded, world_from_env


def test_chunks_are_shared_out_disjointly_and_completely():
    for size in (1, 2, 3):
        parts = [my_chunks(7, World(r, size)) for r in range(size)]
        assert sorted(g for p in parts for g in p) == list(range(7))
    assert my_chunks(7, World(1, 3)) == [1, 4]
    # prompts per process: sets of 5 and 3 in chunks of 2 -> chunk sizes 2,2,1,2,1
    assert my_prompt_count([5, 3], 2, World(0, 2)) == 2 + 1 + 1
    assert my_prompt_count([5, 3], 2, World(1, 2)) == 2 + 2


def test_single_process_scores_every_chunk_in_order():
    calls = []

    def score(chunk):
        calls.append(list(chunk))
        return [x * 10 for x in chunk]

    out = score_sharded([[1, 2, 3], [], [4]], 2, score, SINGLE)
    assert out == [[10, 20, 30], [], [40]]
    assert calls == [[1, 2], [3], [4]]  # the engine sees the same chunks as before sharding


def test_world_comes_from_the_launcher_environment(monkeypatch):
    from taskmix.errors import TaskmixError

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert world_from_env() == SINGLE
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert world_from_env() == World(1, 2) and not world_from_env().is_main
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(TaskmixError):
        world_from_env()


def write_task(path: Path, words: tuple[str, str]) -> Path:
    rows = [{"text": f"row {i} is quite {words[i % 2]}", "label": "positive" if i % 2 else "negative"}
            for i in range(30)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def launch_eval(args: list[str], processes: int, cache: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="",
               TASKMIX_CACHE=str(cache))
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    if processes == 1:
        cmd = [sys.executable, "-m", "taskmix", *args]
    else:
        exe = Path(sys.executable).with_name("accelerate")
        if not exe.is_file():
            pytest.skip("accelerate launcher not installed")
        cmd = [str(exe), "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
               "-m", "taskmix", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_process_eval_equals_one_process(tiny_model_dir, tmp_path):
    a = write_task(tmp_path / "alpha.jsonl", ("good", "bad"))
    b = write_task(tmp_path / "beta.jsonl", ("bright", "dim"))
    base = ["eval", "--model", str(tiny_model_dir), "--tasks", f"{a},{b}", "--settings", "noinstr_labels,flipped",
            "--k", "2", "--max-examples", "8", "--no-progress", "--no-plots"]
    # separate engine caches, so the 2-process run really computes (and shares one cache file)
    launch_eval(base + ["--out", str(tmp_path / "one")], 1, tmp_path / "cache1")
    launch_eval(base + ["--out", str(tmp_path / "two")], 2, tmp_path / "cache2")
    one, two = tmp_path / "one", tmp_path / "two"
    p1 = (one / "predictions.jsonl").read_bytes()
    assert p1 == (two / "predictions.jsonl").read_bytes()
    r1, r2 = (json.loads((d / "results.json").read_text()) for d in (one, two))
    assert r1["scores"] == r2["scores"] and r1["averages"] == r2["averages"]
    assert r1["run_key"] == r2["run_key"]
    assert len(r1["scores"]) == 4  # 2 tasks x 2 settings = 4 chunks, 2 per process
    assert len(p1.splitlines()) == sum(s["n"] for s in r1["scores"]) >= 20
