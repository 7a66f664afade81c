"""Content-addressed pipeline stages: skip what is done, resume what was interrupted.

Each stage of an experiment (select -> build -> train -> eval -> report) writes into
``<run>/<stage>/`` and records there, in ``stage.json``, a key: the sha256 of everything
that determines its output (its config section, the keys of the stages it reads, the
taskmix version). On a rerun:

* same key, status ``done``  -> the stage is skipped and its outputs reused;
* same key, status ``running`` -> the stage runs again and resumes its own partial work
  (training from its last checkpoint, evaluation from its request cache);
* a different key -> the old outputs are kept, moved aside to ``<stage>.previous-<key>``,
  and the stage runs afresh. Earlier results are never deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..errors import TaskmixError
from ..fileio import atomic_write_json

T = TypeVar("T")
MARKER = "stage.json"


def stage_key(material: Any) -> str:
    """sha256 of the canonical JSON of ``material`` (dicts sorted, tuples as lists)."""
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StageRecord:
    """What ``stage.json`` holds for one stage."""

    name: str
    key: str
    status: str  # "running" or "done"
    started: float
    finished: float | None = None
    seconds: float | None = None

    @classmethod
    def read(cls, path: Path) -> "StageRecord | None":
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError) as e:
            raise TaskmixError(f"{path}: corrupt stage record ({e}); move the folder aside to rerun it") from None


@dataclass(frozen=True)
class StageOutcome:
    name: str
    key: str
    directory: Path
    skipped: bool
    seconds: float


class StageRunner:
    """Runs named stages under one run folder; see the module docstring for the rules."""

    def __init__(self, run_dir: str | Path, log: Callable[[str], None] = print):
        self.run_dir = Path(run_dir)
        self.log = log
        self.outcomes: list[StageOutcome] = []

    def stage_dir(self, name: str) -> Path:
        return self.run_dir / name

    def is_done(self, name: str, key: str) -> bool:
        rec = StageRecord.read(self.stage_dir(name) / MARKER)
        return rec is not None and rec.key == key and rec.status == "done"

    def run(self, name: str, material: Any, work: Callable[[Path], T], load: Callable[[Path], T]) -> tuple[T, str]:
        """Run (or skip) stage ``name``; returns its result and key.

        ``work(stage_dir)`` does the stage (and must resume from partial outputs in
        ``stage_dir`` when they exist); ``load(stage_dir)`` rebuilds the result of a
        finished stage from its files.
        """
        key = stage_key({"stage": name, "material": material})
        directory = self.stage_dir(name)
        marker = directory / MARKER
        rec = StageRecord.read(marker)
        if rec is not None and rec.key == key and rec.status == "done":
            self.log(f"[{name}] up to date ({key[:12]}), skipped")
            self.outcomes.append(StageOutcome(name, key, directory, True, 0.0))
            return load(directory), key
        if rec is not None and rec.key != key:
            aside = directory.with_name(f"{name}.previous-{rec.key[:12]}")
            n = 1
            while aside.exists():
                aside = directory.with_name(f"{name}.previous-{rec.key[:12]}-{n}")
                n += 1
            os.replace(directory, aside)
            self.log(f"[{name}] inputs changed: kept the old outputs in {aside.name}")
        elif rec is None and directory.exists() and any(directory.iterdir()):
            raise TaskmixError(f"{directory} exists but was not written by a taskmix stage; choose another run folder")
        resumed = rec is not None and rec.key == key
        self.log(f"[{name}] {'resuming' if resumed else 'running'} ({key[:12]})")
        directory.mkdir(parents=True, exist_ok=True)
        start = time.time()
        atomic_write_json(marker, StageRecord(name, key, "running", start).__dict__)
        result = work(directory)
        end = time.time()
        atomic_write_json(marker, StageRecord(name, key, "done", start, end, round(end - start, 3)).__dict__)
        self.outcomes.append(StageOutcome(name, key, directory, False, end - start))
        return result, key
