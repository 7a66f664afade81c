"""The catalogue of named tasks.

A task name is either flat (``sst2``, ``subj``, ``ade``: the ``classic`` family) or
``<family>/<rest>`` (``tweeteval/hate``, ``bigbench/list_functions/c001``,
``bbh/navigate``, ``niv2/task363_sst2_polarity_classification``, ``raft/overruling``,
``p3/...``).

Each family is one loader module (listed explicitly in :data:`FAMILIES`, imported
lazily) that implements::

    task_names(root: Path) -> list[str]     # every full task name it serves
    load(name: str, root: Path) -> Task     # one task, with fixed seeded splits

``root`` is the verified data folder (see :mod:`taskmix.data.sources`), laid out like
the upstream mirror. Loaders never touch the network.

:func:`load_task_spec` is what commands and configs take as a task: a catalogue name or
the path of a user task file (:mod:`taskmix.loaders.userfile`).
"""

from __future__ import annotations

import difflib
import importlib
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from .data.sources import data_root
from .errors import TaskmixError
from .loaders.userfile import load_file
from .records import Task

FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".txt")  # a task spec ending so names a user file

# family -> loader module
FAMILIES: dict[str, str] = {
    "classic": "taskmix.loaders.classic",
    "tweeteval": "taskmix.loaders.tweeteval",
    "raft": "taskmix.loaders.raft",
    "bigbench": "taskmix.loaders.bigbench",
    "bbh": "taskmix.loaders.bbh",
    "niv2": "taskmix.loaders.niv2",
    "p3": "taskmix.loaders.promptsource",
}


def family_of(name: str) -> str:
    head, sep, _ = name.partition("/")
    return head if sep else "classic"


def _module(family: str) -> ModuleType:
    if family not in FAMILIES:
        raise TaskmixError(f"unknown task family {family!r} (known: {', '.join(FAMILIES)})")
    return importlib.import_module(FAMILIES[family])


def default_root() -> Path:
    return data_root()


@lru_cache(maxsize=None)
def _names(family: str, root: Path) -> tuple[str, ...]:
    return tuple(_module(family).task_names(root))


def list_task_names(source: str | None = None, root: Path | None = None) -> list[str]:
    """All task names, or those of one family (``source``)."""
    root = root or default_root()
    families = [source] if source else list(FAMILIES)
    out: list[str] = []
    for fam in families:
        out.extend(_names(fam, root))
    return out


def load_task(name: str, root: Path | None = None) -> Task:
    """Load a named task; an unknown name is a one-line error with the closest names."""
    root = root or default_root()
    family = family_of(name)
    if family not in FAMILIES or name not in _names(family, root):
        if name.lower().endswith(FILE_SUFFIXES) or Path(name).expanduser().exists():
            raise TaskmixError(f"{name}: a file path, not a task name (task names: `taskmix tasks list`)")
    if family not in FAMILIES:
        raise TaskmixError(f"unknown task {name!r}: no task family {family!r} (known: {', '.join(FAMILIES)})")
    names = _names(family, root)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" (did you mean: {', '.join(close)}?)" if close else ""
        raise TaskmixError(f"unknown task {name!r}{hint}; see `taskmix tasks list`")
    return _load_cached(name, root)


@lru_cache(maxsize=64)
def _load_cached(name: str, root: Path) -> Task:
    return _module(family_of(name)).load(name, root)


def is_file_spec(spec: str) -> bool:
    """Whether a task spec names a user file rather than a catalogue task."""
    return spec.lower().endswith(FILE_SUFFIXES) or Path(spec).is_file()


def load_task_spec(spec: str, text_field: str | None = None, label_field: str | None = None) -> Task:
    """Load a catalogue task by name, or a user file (with optional field names)."""
    if is_file_spec(spec):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise TaskmixError(f"{spec}: no such task file")
        kwargs: dict[str, object] = {}
        if text_field:  # one field, or several separated by '+' (premise+hypothesis)
            kwargs["text_fields"] = tuple(f.strip() for f in text_field.split("+") if f.strip())
        if label_field:
            kwargs["label_field"] = label_field
        return load_file(path, **kwargs)
    return load_task(spec)
