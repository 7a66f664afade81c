"""Installed versions of the packages a run or a report records."""

from __future__ import annotations

from importlib import metadata
from typing import Sequence

from . import __version__

EVAL_PACKAGES = ("taskmix", "torch", "transformers", "numpy")  # recorded in an evaluation's results.json
REPORT_PACKAGES = ("taskmix", "torch", "transformers", "peft", "accelerate", "datasets", "sentence-transformers")


def package_versions(names: Sequence[str], missing: str | None = None) -> tuple[tuple[str, str], ...]:
    """``(name, version)`` per package of ``names`` (``taskmix``: this package's own version).

    A package that is not installed is listed with the version ``missing``, or left out
    when ``missing`` is ``None``.
    """
    out = []
    for name in names:
        if name == "taskmix":
            out.append((name, __version__))
            continue
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            if missing is not None:
                out.append((name, missing))
    return tuple(out)
