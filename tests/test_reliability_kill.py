"""Interrupted work: a fetch, a mixture build, a training run and an evaluation, each a real
subprocess killed with SIGKILL at a seeded random point, then rerun.

For each: no corrupted file under a real name, the rerun does not redo finished work,
and the final result equals an uninterrupted run. The kill point's seed is derived from
the test name (pin another with ``$TASKMIX_KILL_SEED``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.plugins.reliability import (
    ROOT,
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


def test_killed_fetch_keeps_only_verified_files_and_rerun_fetches_only_the_rest(mirror, tmp_path, kill_rng):
    from taskmix.data.fetch import select
    from taskmix.data.sources import load_manifest

    expected = {e.path: e.sha256 for e in select(load_manifest(), FETCH_GLOB)}
    assert len(expected) > 100

    whole = tmp_path / "whole"
    env_whole = subprocess_env(tmp_path / "cache-whole")
    run_to_end(taskmix_cmd("data", "fetch", "--mirror", str(mirror), "--cache", str(whole), "--only", FETCH_GLOB,
                           "--no-progress"), env_whole)
    assert tree_digest(whole) == expected

    cut = tmp_path / "cut"
    env = subprocess_env(tmp_path / "cache-cut")
    cmd = taskmix_cmd("data", "fetch", "--mirror", str(mirror), "--cache", str(cut), "--only", FETCH_GLOB, "--no-progress")
    report = start_and_kill(cmd, env, ready=lambda: cut.is_dir() and any(_files(cut)), rng=kill_rng, max_delay=1.0)
    assert report.killed, f"fetch finished before the kill ({report})"

    # every file under a real name is complete and verified; nothing else is there
    present = tree_digest(cut)
    assert 0 < len(present) < len(expected)
    for rel, digest in present.items():
        assert expected.get(rel) == digest, f"{rel}: partial or unexpected file after SIGKILL"

    rerun = run_to_end(cmd, env)
    m = re.search(r"(\d+) files: (\d+) fetched .*?, (\d+) already present", rerun.stdout)
    assert m, rerun.stdout
    total, fetched, skipped = map(int, m.groups())
    assert (total, skipped, fetched) == (len(expected), len(present), len(expected) - len(present))
    assert tree_digest(cut) == tree_digest(whole) == expected
    run_to_end(taskmix_cmd("data", "verify", "--cache", str(cut), "--only", FETCH_GLOB), env)
    # the killed process's half-written temp file (if the kill hit one) is the only debris;
    # it is hidden, never read, and cleaned by the next fetch of that file
    strays = stray_temp_files(cut)
    print("STRAYS", strays, report.waited_s, report.delay_s)
    assert len(strays) <= 1
