"""Fixtures for the data area: tiny format fixtures, fake manifests and mirrors, a data cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from taskmix.data.sources import Archive, Manifest, SourceFile

DATA_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


@pytest.fixture(scope="session")
def data_fixtures() -> Path:
    """Folder of tiny hand-written files imitating each source format."""
    return DATA_FIXTURES


def make_entry(path: str, data: bytes, url: str | None = None, origin: str = "github:o/r") -> SourceFile:
    """A manifest entry for ``data`` at ``path`` (sha256 and size computed)."""
    return SourceFile(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                      url=url or f"https://raw.githubusercontent.com/o/r/c0ffee/{path}", license="MIT", origin=origin)


def make_manifest(files: dict[str, bytes], archives: tuple[Archive, ...] = ()) -> Manifest:
    entries = tuple(sorted((make_entry(p, d) for p, d in files.items()), key=lambda e: e.path))
    return Manifest(files=entries, archives=archives, repositories=(("o/r", "c0ffee"),))


@pytest.fixture
def fake_mirror(tmp_path: Path):
    """A small mirror folder and the manifest describing it: (mirror_dir, manifest, files)."""
    files = {
        "github/o/r/a.txt": b"alpha\n",
        "github/o/r/sub/b.json": b'{"b": 1}\n',
        "github/o/other/c.txt": b"gamma\n",
    }
    mirror = tmp_path / "mirror"
    for rel, data in files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(data)
    return mirror, make_manifest(files), files


@pytest.fixture(scope="session")
def mirror_data_root(mirror, tmp_path_factory) -> Path:
    """A session data cache that loaders fill on demand from the real mirror (``require``)."""
    root = tmp_path_factory.mktemp("taskmix-data-cache")
    old = os.environ.get("TASKMIX_MIRROR")
    os.environ["TASKMIX_MIRROR"] = str(mirror)
    yield root
    if old is None:
        os.environ.pop("TASKMIX_MIRROR", None)
    else:
        os.environ["TASKMIX_MIRROR"] = old


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch) -> Path:
    """``$TASKMIX_CACHE`` pointed at a fresh temp folder (the data cache is ``<it>/data``)."""
    cache = tmp_path / "taskmix-cache"
    monkeypatch.setenv("TASKMIX_CACHE", str(cache))
    return cache
