"""Interrupted work: a fetch, a mixture build, a training run and an evaluation, each a real
subprocess killed with SIGKILL at a seeded random point, then rerun.

For each: no corrupted file under a real name, the rerun does not redo finished work,
and the final result equals an uninterrupted run. The kill point's seed is derived from
the test name (pin another with ``$TASKMIX_KILL_SEED``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.plugins.reliability import (
    driver_cmd,
    run_to_end,
    start_and_kill,
    stray_temp_files,
    subprocess_env,
    taskmix_cmd,
    tree_digest,
)

FETCH_GLOB = "github/**"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]


# --------------------------------------------------------------------------- (a) fetch


def test_killed_fetch_keeps_only_verified_files_and_rerun_fetches_only_the_rest(mirror, tmp_path, kill_rng, background):
    from taskmix.data.fetch import select
    from taskmix.data.sources import load_manifest

    expected = {e.path: e.sha256 for e in select(load_manifest(), FETCH_GLOB)}
    assert len(expected) > 100

    whole = tmp_path / "whole"
    reference = background(taskmix_cmd("data", "fetch", "--mirror", str(mirror), "--cache", str(whole), "--only", FETCH_GLOB,
                                       "--no-progress"), subprocess_env(tmp_path / "cache-whole"))

    cut = tmp_path / "cut"
    env = subprocess_env(tmp_path / "cache-cut")
    cmd = taskmix_cmd("data", "fetch", "--mirror", str(mirror), "--cache", str(cut), "--only", FETCH_GLOB, "--no-progress")
    target = kill_rng.randint(1, len(expected) * 2 // 3)  # kill once this many files are written
    report = start_and_kill(cmd, env, ready=lambda: cut.is_dir() and len(_files(cut)) >= target, rng=kill_rng,
                            max_delay=0.02)
    assert report.killed, f"fetch finished before the kill ({report})"

    # every file under a real name is complete and verified; nothing else is there
    present = tree_digest(cut)
    assert 0 < len(present) < len(expected)
    for rel, digest in present.items():
        assert expected.get(rel) == digest, f"{rel}: partial or unexpected file after SIGKILL"

    rerun = run_to_end(cmd, env)
    reference.finish()
    assert tree_digest(whole) == expected
    m = re.search(r"(\d+) files: (\d+) fetched .*?, (\d+) already present", rerun.stdout)
    assert m, rerun.stdout
    total, fetched, skipped = map(int, m.groups())
    assert (total, skipped, fetched) == (len(expected), len(present), len(expected) - len(present))
    assert tree_digest(cut) == tree_digest(whole) == expected
    run_to_end(taskmix_cmd("data", "verify", "--cache", str(cut), "--only", FETCH_GLOB), env)
    # the killed process's half-written temp file (hidden, never read) is removed by the rerun
    assert stray_temp_files(cut) == []


# --------------------------------------------------------------------------- (b) mixture build

BUILD_ARGS = ("build", "symbol", "--tasks", "sst2", "trec", "--cap", "1500")


def _building(parent: Path, name: str, min_bytes: int = 1) -> bool:
    """The builder's temporary folder exists and at least ``min_bytes`` of prompts are streamed into it."""
    for tmp in parent.glob(f".{name}.*.tmp"):
        f = tmp / "prompts.jsonl"
        if f.is_file() and f.stat().st_size >= min_bytes:
            return True
    return False


def test_killed_mixture_build_leaves_no_mixture_and_rerun_is_identical(mirror, tmp_path, kill_rng, background):
    env = subprocess_env(tmp_path / "cache")
    run_to_end(taskmix_cmd("data", "fetch", "--only", "github/harvardnlp/**", "--no-progress"), env)  # sst2 and trec
    whole = tmp_path / "whole" / "mix"
    reference = background(taskmix_cmd(*BUILD_ARGS, "--out", str(whole)), env)

    parent = tmp_path / "cut"
    out = parent / "mix"
    cmd = taskmix_cmd(*BUILD_ARGS, "--out", str(out))
    # anywhere while streaming prompts (the whole file is about 6.8 MB)
    target = kill_rng.randint(1, 5_000_000)
    report = start_and_kill(cmd, env, ready=lambda: _building(parent, "mix", target), rng=kill_rng, max_delay=0.0)
    assert report.killed, f"build finished before the kill ({report})"
    assert not out.exists()  # never a half-built mixture under the real name

    rerun = run_to_end(cmd, env)
    reference.finish()
    assert rerun.stdout.startswith("built 3000 prompts")
    assert (out / "prompts.jsonl").read_bytes() == (whole / "prompts.jsonl").read_bytes()
    assert (out / "manifest.json").read_bytes() == (whole / "manifest.json").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    from taskmix.mixture.build import content_sha256

    assert manifest["content_sha256"] == content_sha256(out)
    # a third run with the same config finds the finished mixture and redoes nothing
    again = run_to_end(cmd, env)
    assert "already built with this config" in again.stdout


def test_killed_mixture_build_temp_folder_is_cleaned_by_the_rerun(mirror, tmp_path, kill_rng):
    env = subprocess_env(tmp_path / "cache")
    parent = tmp_path / "cut"
    cmd = taskmix_cmd(*BUILD_ARGS[:3], "sst2", "--cap", "300", "--out", str(parent / "mix"))
    report = start_and_kill(cmd, env, ready=lambda: _building(parent, "mix"), rng=kill_rng, max_delay=0.0)
    assert report.killed
    run_to_end(cmd, env)
    assert stray_temp_files(parent) == []


# --------------------------------------------------------------------------- (c) training

# Runs ``taskmix train`` with an ``on_step`` hook that appends each finished optimizer
# step to argv[1], so the test sees which steps a (resumed) process really computed.
TRAIN_DRIVER = """
import sys
from taskmix import cli
from taskmix.training import loop
real, log = loop.train, open(sys.argv[1], "a")
def train(*a, **k):
    k["on_step"] = lambda step, loss: (log.write(f"{step}\\n"), log.flush())
    return real(*a, **k)
loop.train = train
sys.exit(cli.main(sys.argv[2:]))
"""


STEPS, SAVE_EVERY = 24, 4


def _train_argv(model: Path, data: Path, out: Path) -> list[str]:
    return ["train", "--model", str(model), "--data", str(data), "--out", str(out), "--steps", str(STEPS),
            "--save-every", str(SAVE_EVERY), "--batch-size", "4", "--max-length", "256", "--no-progress"]


def _loss_curve(out: Path) -> list[tuple[int, float]]:
    from taskmix.training.rundir import read_loss_log

    return [(r["step"], r["loss"]) for r in read_loss_log(out)]


def _steps(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.is_file() else []


@pytest.mark.slow  # three processes that import torch: ~20 s on an idle 2-core machine
def test_killed_training_resumes_from_its_checkpoint_with_the_same_losses(train_tiny_model, tiny_mixture, tmp_path, kill_rng,
                                                                        background):
    from safetensors.torch import load_file

    from taskmix.training.checkpoint import checkpoint_dirs

    env = subprocess_env(tmp_path / "cache")
    whole = tmp_path / "whole"
    reference = background(driver_cmd(TRAIN_DRIVER, str(tmp_path / "whole.steps"),
                                      *_train_argv(train_tiny_model, tiny_mixture, whole)), env)

    out = tmp_path / "cut"
    steps_file = tmp_path / "cut.steps"
    cmd = driver_cmd(TRAIN_DRIVER, str(steps_file), *_train_argv(train_tiny_model, tiny_mixture, out))
    kill_at = kill_rng.randint(SAVE_EVERY + 1, STEPS - 2)  # a step after the first checkpoint
    report = start_and_kill(cmd, env, ready=lambda: bool(_steps(steps_file)) and _steps(steps_file)[-1] >= kill_at,
                            rng=kill_rng, max_delay=0.0)
    assert report.killed, f"training finished before the kill ({report})"
    killed_steps = _steps(steps_file)
    assert killed_steps and killed_steps[-1] < STEPS
    assert not (out / "model").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    last = checkpoint_dirs(out)[-1]
    ckpt_step = int(last.name.split("-")[1])
    assert SAVE_EVERY <= ckpt_step <= killed_steps[-1]
    for ckpt in checkpoint_dirs(out):  # every checkpoint under a real name is complete: its checksums hold
        state = json.loads((ckpt / "state.json").read_text())
        for name, digest in state["sha256"].items():
            assert hashlib.sha256((ckpt / name).read_bytes()).hexdigest() == digest
    for line in (out / "loss.jsonl").read_text().splitlines()[:-1]:  # only the last line can be cut
        json.loads(line)

    steps_file.write_text("")
    run_to_end(cmd, env)
    reference.finish()
    resumed_steps = _steps(steps_file)
    # finished (checkpointed) steps are not recomputed: the rerun starts right after the checkpoint
    assert resumed_steps == list(range(ckpt_step + 1, STEPS + 1))
    assert _loss_curve(out) == _loss_curve(whole)
    assert [s for s, _ in _loss_curve(out)] == list(range(1, STEPS + 1))
    w1 = load_file(whole / "model" / "model.safetensors")
    w2 = load_file(out / "model" / "model.safetensors")
    assert set(w1) == set(w2) and all(bool((w1[k] == w2[k]).all()) for k in w1)
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


# --------------------------------------------------------------------------- (d) evaluation

# Runs ``taskmix eval`` and writes the engine's counters (cache hits, computed requests)
# to argv[1] when it finishes.
EVAL_DRIVER = """
import dataclasses, json, sys
from taskmix import cli
from taskmix.evaluation import runner
real, seen = runner.load_eval_model, []
def load(config):
    seen.append(real(config))
    return seen[-1]
runner.load_eval_model = load
rc = cli.main(sys.argv[2:])
open(sys.argv[1], "w").write(json.dumps(dataclasses.asdict(seen[0].stats)))
sys.exit(rc)
"""


def _task_file(path: Path, name_words: tuple[str, str], n: int = 40) -> Path:
    rows = [{"text": f"item {i}: this one is {name_words[i % 2]} and {'very ' * (i % 3)}clear", "label": name_words[i % 2]}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(con.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow  # three processes that load a model: ~20 s on an idle 2-core machine
def test_killed_evaluation_reuses_finished_requests_and_gives_identical_results(tiny_model_dir, tmp_path, kill_rng, background):
    tasks = ",".join(str(_task_file(tmp_path / f"{n}.jsonl", w)) for n, w in (("mood", ("sad", "happy")), ("temp", ("cold", "hot"))))

    def argv(out: Path) -> list[str]:
        return ["eval", "--model", str(tiny_model_dir), "--tasks", tasks, "--settings", "noinstr_labels,noinstr_symbols,flipped",
                "--k", "2", "--max-examples", "8", "--batch-size", "1", "--out", str(out), "--no-progress", "--no-plots"]

    whole = tmp_path / "whole"
    reference = background(driver_cmd(EVAL_DRIVER, str(tmp_path / "whole.stats"), *argv(whole)),
                           subprocess_env(tmp_path / "cache-whole"))
    env = subprocess_env(tmp_path / "cache-cut")
    db = tmp_path / "cache-cut" / "lm" / "results.sqlite"
    target = kill_rng.randint(1, 40)  # requests committed before the kill; the whole run has about 96
    out = tmp_path / "cut"
    cmd = driver_cmd(EVAL_DRIVER, str(tmp_path / "cut.stats"), *argv(out))
    report = start_and_kill(cmd, env, ready=lambda: _rows(db) >= target, rng=kill_rng, max_delay=0.02)
    assert report.killed, f"evaluation finished before the kill ({report})"
    done = _rows(db)  # committed before the kill (one transaction per batch: never half an entry)
    assert not (out / "results.json").exists()
    assert list(out.glob(".predictions.jsonl.*.tmp"))  # predictions were streaming to disk when killed

    run_to_end(cmd, env)
    assert not list(out.glob(".*.tmp"))  # the rerun removed the killed run's temp file
    reference.finish()
    full = json.loads((tmp_path / "whole.stats").read_text())
    total = full["computed"]  # 2 tasks x 3 settings x 8 test examples x 2 label candidates
    assert full["cache_hits"] == 0 and total >= 80 and 0 < done < total
    assert len((whole / "predictions.jsonl").read_text().splitlines()) * 2 == total
    stats = json.loads((tmp_path / "cut.stats").read_text())
    assert stats["cache_hits"] == done and stats["computed"] == total - done  # finished requests not recomputed
    for name in ("predictions.jsonl",):
        assert (out / name).read_bytes() == (whole / name).read_bytes()
    a, b = json.loads((whole / "results.json").read_text()), json.loads((out / "results.json").read_text())
    for key in ("scores", "averages", "run_key", "fingerprint"):
        assert a[key] == b[key]
