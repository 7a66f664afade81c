"""Atomic file writes: a killed process never leaves a half-written file behind.

A write that fails (a full disk, a file-size limit, a read-only file system) fails with
an error that names the file: :func:`atomic_open` adds the path to the ``OSError`` of a
failed write, and :func:`write_failures` turns what libraries raise without one into a
one-line :class:`~taskmix.errors.TaskmixError` naming the folder written to.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from .errors import TaskmixError

#: errno values of a write that cannot succeed however it is retried.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (0o666 less the umask)."""
    return 0o666 & ~_umask()


def default_dir_mode() -> int:
    """The mode a plain ``mkdir`` would give (0o777 less the umask); ``mkdtemp`` creates 0700."""
    return 0o777 & ~_umask()


def temp_siblings(path: str | Path) -> list[Path]:
    """The temp files or folders an atomic write of ``path`` makes beside it
    (``.<name>.*.tmp``): leftovers, when a killed process could not remove them."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


class _NamedFile:
    """A binary file whose failed writes raise an ``OSError`` that names ``path``."""

    def __init__(self, f: BinaryIO, path: Path):
        self._f = f
        self.path = path

    def write(self, data: bytes) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            raise _named(e, self.path) from e

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def _named(e: OSError, path: Path) -> OSError:
    return e if e.filename else OSError(e.errno, e.strerror or str(e), str(path))


def _close_quietly(f: BinaryIO) -> None:
    """Close ``f`` (its descriptor is released even when the final flush fails)."""
    try:
        f.close()
    except OSError:
        pass


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` piece by piece: it appears (fsynced, mode as with
    ``open``) only when the ``with`` block ends without an exception; otherwise the temp
    file is removed and ``path`` keeps what it held before. A failed write raises an
    ``OSError`` naming ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, default_file_mode())  # mkstemp creates 0600
        f = os.fdopen(fd, "wb")
        try:
            yield _NamedFile(f, path)  # type: ignore[misc]
        except BaseException:
            _close_quietly(f)  # the block's own exception is the one to report
            raise
        try:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        except OSError as e:
            _close_quietly(f)
            raise _named(e, path) from e
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and a rename (mode as with ``open``)."""
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False, ensure_ascii=False) + "\n")


def read_json_if_present(path: str | Path, what: str, require_object: bool = False) -> Any:
    """``path``'s JSON, or ``None`` when there is no such file. A file that cannot be read or
    parsed (or, with ``require_object``, holds no JSON object) is a one-line :class:`TaskmixError`
    naming ``what``, raised before a caller that would rewrite the file has done any work."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise TaskmixError(f"{path}: unreadable {what} ({e}); fix or move it") from None
    if require_object and not isinstance(data, dict):
        raise TaskmixError(f"{path}: not a {what} (a JSON object); fix or move it")
    return data


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def write_failures(path: str | Path) -> Iterator[None]:
    """Inside the block, a write that fails without naming its file (an ``OSError`` with
    no file name and a disk-full or similar errno, or a ``SafetensorError`` while
    serialising) becomes a one-line :class:`TaskmixError` naming ``path``, the folder
    being written. Other errors pass through unchanged."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno in WRITE_ERRNOS:
            raise TaskmixError(f"{path}: cannot write ({e.strerror or e})") from e
        raise
    except Exception as e:
        text = str(e)
        if type(e).__name__ == "SafetensorError" and "serializ" in text and "deserializ" not in text:
            code = re.search(r"os error (\d+)", text)
            reason = os.strerror(int(code.group(1))) if code else text.rsplit(": ", 1)[-1]
            raise TaskmixError(f"{path}: cannot write ({reason})") from e
        raise
