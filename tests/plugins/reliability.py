"""Fixtures and helpers of the reliability tests: real subprocesses killed with SIGKILL.

A :class:`Killer` starts a command (``python -m taskmix ...`` or a small driver script),
waits until a condition holds (a file appeared, a row count was reached), sleeps a
seeded random extra delay and sends ``SIGKILL``: the process gets no chance to clean
up, exactly like a machine losing power or the OOM killer. The seed of every kill point
is printed in the failure message and can be pinned with ``$TASKMIX_KILL_SEED``.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def subprocess_env(cache: Path, **extra: str) -> dict[str, str]:
    """Environment of a taskmix child process: its own cache, offline, one torch thread."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        TASKMIX_CACHE=str(cache),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONHASHSEED="0",
    )
    env.update(extra)
    return env


def taskmix_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "taskmix", *args]


def driver_cmd(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", script, *args]


@dataclass
class KillReport:
    """What happened to a process started to be killed."""

    killed: bool  # SIGKILL was delivered while it was still running
    returncode: int
    waited_s: float  # from start until the condition held
    delay_s: float  # extra random delay after the condition
    stdout: str
    stderr: str


def run_to_end(cmd: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``cmd`` to completion; fail the test (with its stderr) if it exits non-zero."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def start_and_kill(
    cmd: list[str],
    env: dict[str, str],
    ready: Callable[[], bool],
    rng: random.Random,
    max_delay: float,
    cwd: Path | None = None,
    timeout: float = 240,
    poll: float = 0.005,
) -> KillReport:
    """Start ``cmd``, wait for ``ready()``, sleep ``uniform(0, max_delay)``, then SIGKILL it."""
    out_path = Path(env["TASKMIX_CACHE"]).parent / f".kill-{os.getpid()}-{time.monotonic_ns()}"
    with open(str(out_path) + ".out", "w+") as out, open(str(out_path) + ".err", "w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        waited = delay = 0.0
        killed = False
        try:
            while proc.poll() is None and not ready():
                if time.monotonic() - t0 > timeout:
                    raise AssertionError(f"condition never held within {timeout} s: {' '.join(cmd)}")
                time.sleep(poll)
            waited = time.monotonic() - t0
            if proc.poll() is None:
                delay = rng.uniform(0.0, max_delay)
                end = time.monotonic() + delay
                while proc.poll() is None and time.monotonic() < end:
                    time.sleep(0.001)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        out.seek(0)
        err.seek(0)
        report = KillReport(killed, proc.returncode, waited, delay, out.read(), err.read())
    for suffix in (".out", ".err"):
        Path(str(out_path) + suffix).unlink(missing_ok=True)
    return report


def kill_seed(name: str) -> int:
    """The seed of a test's kill point: ``$TASKMIX_KILL_SEED`` or a stable hash of the test name."""
    if os.environ.get("TASKMIX_KILL_SEED"):
        return int(os.environ["TASKMIX_KILL_SEED"])
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def tree_digest(root: Path, skip_hidden: bool = True) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``root``."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not (skip_hidden and any(part.startswith(".") for part in rel.split("/"))):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def stray_temp_files(root: Path) -> list[str]:
    """Hidden ``*.tmp`` files or folders (atomic-write leftovers) under ``root``."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(".*") if p.name.endswith(".tmp"))


@pytest.fixture
def kill_rng(request) -> random.Random:
    """A seeded RNG for kill points (seed shown on failure; pin with ``$TASKMIX_KILL_SEED``)."""
    seed = kill_seed(request.node.nodeid)
    request.node.user_properties.append(("kill_seed", seed))
    print(f"kill seed {seed} (rerun with TASKMIX_KILL_SEED={seed})")  # shown with a failure's captured output
    return random.Random(seed)


class Background:
    """A command run to completion in the background (e.g. the uninterrupted reference run)."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path | None = None):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, timeout: float = 300) -> str:
        """Wait for it; fail the test with its stderr if it exited non-zero; its stdout."""
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            pytest.fail(f"{' '.join(self.cmd)} exited {self.proc.returncode}:\n{out[-2000:]}\n{err[-4000:]}")
        return out


@pytest.fixture
def background():
    """Start :class:`Background` commands; any still running at teardown is killed (by its own pid)."""
    started: list[Background] = []

    def start(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> Background:
        started.append(Background(cmd, env, cwd))
        return started[-1]

    yield start
    for b in started:
        if b.proc.poll() is None:
            os.kill(b.proc.pid, signal.SIGKILL)
            b.proc.communicate()
