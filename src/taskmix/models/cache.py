"""On-disk result cache: an sqlite table keyed by model fingerprint and request.

Each batch of results is committed in one transaction, so an evaluation that is killed
resumes where it stopped, and a half-written entry never exists. Several processes may
share a cache file (WAL mode, busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import TaskmixError
from ..paths import cache_dir as _root_cache_dir


def default_cache_path() -> Path:
    """``<taskmix cache>/lm/results.sqlite``."""
    return _root_cache_dir() / "lm" / "results.sqlite"


def request_key(kind: str, *parts: object) -> str:
    """A stable hash of a request (kind + its fields, JSON-encoded)."""
    blob = json.dumps([kind, *parts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


#: Seconds a process waits for another to release the cache file (opening and writing).
OPEN_WAIT_S = 60.0


class ResultCache:
    """``(fingerprint, key) -> JSON value`` in one sqlite file."""

    def __init__(self, path: str | Path, wait_s: float = OPEN_WAIT_S):
        self.path = Path(path)
        deadline = time.monotonic() + wait_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=wait_s)
            while True:
                try:
                    self._set_up()
                    break
                except sqlite3.OperationalError as e:
                    # processes opening a new file together: switching it to WAL can answer
                    # "locked" at once, without the busy timeout; try again until ``wait_s``
                    if "locked" not in str(e) or time.monotonic() > deadline:
                        raise
                    self._db.rollback()
                    time.sleep(0.05)
        except (sqlite3.Error, OSError) as e:
            raise TaskmixError(f"{self.path}: cannot open the result cache ({e})") from e

    def _set_up(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results (fingerprint TEXT NOT NULL, key TEXT NOT NULL, "
            "value TEXT NOT NULL, PRIMARY KEY (fingerprint, key))"
        )
        self._db.commit()

    def get_many(self, fingerprint: str, keys: Sequence[str]) -> dict[str, object]:
        """The cached values among ``keys`` (missing keys are absent from the dict)."""
        found: dict[str, object] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, value FROM results WHERE fingerprint = ? AND key IN ({marks})",
                (fingerprint, *chunk),
            ).fetchall()
            for key, value in rows:
                found[key] = json.loads(value)
        return found

    def put_many(self, fingerprint: str, items: Iterable[tuple[str, object]]) -> None:
        """Store values in one transaction (all or nothing)."""
        rows = [(fingerprint, k, json.dumps(v)) for k, v in items]
        if not rows:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", rows)
        except sqlite3.OperationalError as e:  # a full disk, a read-only file: one line naming the file
            raise TaskmixError(f"{self.path}: cannot write the result cache ({e})") from e

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self._db.close()
