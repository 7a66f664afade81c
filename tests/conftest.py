"""Shared test fixtures.

Area-specific fixtures live in ``tests/plugins/*.py`` (one file per area) and are loaded
here, so that no two areas edit the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = (ROOT.parent / "shared" / "data").resolve()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if MIRROR.is_dir():
    os.environ.setdefault("TASKMIX_MIRROR", str(MIRROR))

pytest_plugins = sorted(
    f"tests.plugins.{p.stem}" for p in (ROOT / "tests" / "plugins").glob("*.py") if p.stem != "__init__"
)


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The offline data mirror (``../shared/data``); tests needing it skip without it."""
    if not (MIRROR / "MANIFEST.sha256").is_file():
        pytest.skip("no offline data mirror at ../shared/data")
    return MIRROR
