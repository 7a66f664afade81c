"""Where taskmix keeps caches and where it looks for the offline data mirror."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "TASKMIX_CACHE"
MIRROR_ENV = "TASKMIX_MIRROR"


def cache_dir() -> Path:
    """The root cache folder: ``$TASKMIX_CACHE``, else ``$XDG_CACHE_HOME/taskmix``, else ``~/.cache/taskmix``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "taskmix"


def data_cache_dir() -> Path:
    """Verified source files, laid out like the upstream mirror (``github/<owner>/<repo>/...``)."""
    return cache_dir() / "data"


def models_cache_dir() -> Path:
    """Prepared Hugging Face model folders (converted from GGUF)."""
    return cache_dir() / "models"


def embeddings_cache_dir() -> Path:
    """Sentence embeddings keyed by encoder fingerprint and text hash."""
    return cache_dir() / "embeddings"


def mirror_dir() -> Path | None:
    """The offline mirror named by ``$TASKMIX_MIRROR``, if any."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None
