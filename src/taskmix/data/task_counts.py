"""A small cache of per-split example counts, so ``taskmix tasks list`` stays fast.

Entries live in ``<cache_dir>/task_counts.json`` keyed by task name and data root. An entry
is valid while every provenance file of the task still has the size and modification time
recorded with it (and the taskmix version is the same); otherwise the task is loaded again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import __version__, paths
from ..fileio import atomic_write_json
from ..records import Task


@dataclass(frozen=True)
class TaskCounts:
    """Examples per split of one task, and its category and family."""

    name: str
    splits: tuple[tuple[str, int], ...]
    category: str
    cached: bool = False


def _stamp(root: Path, relpaths: list[str]) -> list[list] | None:
    out = []
    for rel in relpaths:
        p = root / rel
        try:
            st = p.stat()
        except OSError:
            return None
        out.append([rel, st.st_size, st.st_mtime_ns])
    return out


def counts_file() -> Path:
    return paths.cache_dir() / "task_counts.json"


class CountsCache:
    """Read-through cache of :class:`TaskCounts` (call :meth:`save` to persist)."""

    def __init__(self, root: Path, path: Path | None = None, refresh: bool = False):
        self.root = Path(root)
        self.path = path or counts_file()
        self.data: dict = {}
        self.dirty = False
        if not refresh and self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("version") == __version__:
                    self.data = data.get("tasks", {}) if isinstance(data.get("tasks"), dict) else {}
            except (OSError, ValueError):
                self.data = {}  # a broken cache is rebuilt, never an error

    def _key(self, name: str) -> str:
        return f"{self.root.resolve()}::{name}"

    def get(self, name: str, load: Callable[[str], Task]) -> TaskCounts:
        entry = self.data.get(self._key(name))
        if isinstance(entry, dict):
            files = [f[0] for f in entry.get("files", []) if isinstance(f, list) and f]
            if _stamp(self.root, files) == entry.get("files"):
                return TaskCounts(name, tuple((s, int(n)) for s, n in entry["splits"]), entry.get("category", ""), True)
        task = load(name)
        counts = TaskCounts(name, tuple((s.name, len(s)) for s in task.splits), task.category or "")
        stamp = _stamp(self.root, sorted({p.path for p in task.provenance}))
        if stamp is not None:
            self.data[self._key(name)] = {"splits": [list(x) for x in counts.splits], "category": counts.category,
                                          "files": stamp}
            self.dirty = True
        return counts

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            atomic_write_json(self.path, {"version": __version__, "tasks": self.data}, indent=0)
        except OSError:
            pass  # the cache is an optimisation only
        self.dirty = False
