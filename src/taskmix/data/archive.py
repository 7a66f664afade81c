"""Safe extraction of tar and zip archives.

:func:`safe_extract` refuses an archive holding any member whose path is absolute, has a
drive letter or a ``..`` component, or that is a symlink, hardlink, device or FIFO. It
writes only the regular-file members a filter accepts (by default ``*.json``), each
atomically, and re-checks that every written path stays inside the target folder.
"""

from __future__ import annotations

import lzma
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from ..errors import DataError
from ..fileio import atomic_write_bytes

DEFAULT_MAX_MEMBER_BYTES = 64 << 20
#: What the tar/zip/compression modules raise on a corrupt or unsupported archive.
CORRUPT = (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, struct.error, EOFError,
           ValueError, NotImplementedError, RuntimeError, OSError)


def json_only(name: str) -> bool:
    return name.endswith(".json")


@dataclass(frozen=True)
class _Member:
    name: str
    kind: str  # "file", "dir", "symlink", "hardlink", "device", "other"
    size: int
    read: Callable[[], bytes]


def check_member_name(archive: str | Path, name: str) -> str:
    """The member's normalised relative POSIX path; an unsafe one raises DataError."""
    if not name or "\x00" in name:
        raise DataError(archive, f"refusing archive: member with an empty or NUL name {name!r}")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise DataError(archive, f"refusing archive: absolute member path {name!r}")
    parts = [p for p in PurePosixPath(norm).parts if p not in ("", ".")]
    if ".." in parts:
        raise DataError(archive, f"refusing archive: member path leaves the target folder {name!r}")
    return "/".join(parts)


def _tar_members(path: Path, tf: tarfile.TarFile) -> Iterator[_Member]:
    for m in tf:
        if m.isreg():
            kind = "file"
        elif m.isdir():
            kind = "dir"
        elif m.issym():
            kind = "symlink"
        elif m.islnk():
            kind = "hardlink"
        elif m.ischr() or m.isblk():
            kind = "device"
        else:
            kind = "other"

        def read(m: tarfile.TarInfo = m) -> bytes:
            f = tf.extractfile(m)
            if f is None:
                raise DataError(path, f"cannot read member {m.name!r}")
            return f.read()

        yield _Member(m.name, kind, m.size, read)


def _zip_members(path: Path, zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = (info.external_attr >> 16) & 0xFFFF
        ftype = stat.S_IFMT(mode)  # 0 when the archiver recorded no Unix file type
        if stat.S_ISLNK(mode):
            kind = "symlink"
        elif info.filename.endswith("/"):  # ZipInfo.is_dir(), which fails on an empty name (refused below)
            kind = "dir"
        elif ftype and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            kind = "device" if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "other"
        else:
            kind = "file"
        yield _Member(info.filename, kind, info.file_size, lambda info=info: zf.read(info))


def _open_members(path: Path):
    try:
        if zipfile.is_zipfile(path):
            return zipfile.ZipFile(path), _zip_members
        return tarfile.open(path, "r:*"), _tar_members
    except CORRUPT as e:
        raise DataError(path, f"not a readable tar or zip archive ({type(e).__name__}: {e})") from None


def safe_extract(
    archive: str | Path,
    dest: str | Path,
    accept: Callable[[str], bool] = json_only,
    strip_prefix: str = "",
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> list[Path]:
    """Extract the accepted regular files of ``archive`` under ``dest``; return their paths.

    ``accept`` sees each member's normalised path (after ``strip_prefix`` is removed;
    members outside the prefix are skipped). The whole archive is checked before anything
    is written: one unsafe member (see the module docstring) refuses it with a DataError
    naming the member.
    """
    archive = Path(archive)
    dest = Path(dest)
    if not archive.is_file():
        raise DataError(archive, "no such archive")
    handle, members_of = _open_members(archive)
    with handle:
        try:
            members = list(members_of(archive, handle))
            plan: list[tuple[str, _Member]] = []
            for m in members:
                name = check_member_name(archive, m.name)
                if m.kind in ("symlink", "hardlink", "device", "other"):
                    raise DataError(archive, f"refusing archive: member {m.name!r} is a {m.kind}")
                if m.kind != "file":
                    continue
                if strip_prefix:
                    if not name.startswith(strip_prefix):
                        continue
                    name = name[len(strip_prefix):]
                if not name or not accept(name):
                    continue
                if m.size > max_member_bytes:
                    raise DataError(archive, f"refusing member {m.name!r}: {m.size} bytes is over the limit")
                plan.append((name, m))
            root = dest.resolve()
            written = []
            for name, m in plan:
                target = (dest / name).resolve()
                if root != target and root not in target.parents:
                    raise DataError(archive, f"refusing archive: member path leaves the target folder {m.name!r}")
                atomic_write_bytes(target, m.read())
                written.append(target)
        except CORRUPT as e:
            if isinstance(e, OSError) and getattr(e, "filename", None):
                raise  # a problem with the target folder, reported by the CLI with its path
            raise DataError(archive, f"corrupt archive ({type(e).__name__}: {e})") from None
    return written
