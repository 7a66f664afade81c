"""Super-NaturalInstructions / NIV2 tasks (``niv2/<task_name>``), in two forms.

1. The upstream per-task files, ``github/allenai/natural-instructions/tasks/<task>.json``
   under the data root (``Definition``, ``Categories``, ``Source``, ``Positive Examples``,
   ``Instances``, ``Input_language`` ...). Such a task's ``train`` split is its positive
   examples (the canonical demonstrations) and ``test`` is its instances.
2. The metadata JSON ``derived/niv2_task_metadata.json`` (FLAN's ``NATINST_META_DATA``:
   1,654 tasks, each with ``definition``, one ``positive_examples`` item and
   ``number_examples``). Category, source dataset and languages come from FLAN's
   ``flan/v2/flan_collection_info.csv`` (matched on the task name with ``-`` read as
   ``_``; 57 MMMLU tasks have no row and get no category). Here ``train`` holds the one
   positive example and ``test`` is empty: the instances are not in the metadata.

When both exist, the upstream file wins for that task. A task is English when its input,
output and instruction languages are all English (upstream) or its FLAN ``Languages`` is
exactly ``['English']`` (metadata); a task without language information is not English.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import DataError, TaskmixError
from ..records import Example, Split, Task
from .instr_common import provenance_of, read_json, resolve

FAMILY = "niv2"
META_REL = "derived/niv2_task_metadata.json"
FLAN_CSV_REL = "github/google-research/FLAN/flan/v2/flan_collection_info.csv"
UPSTREAM_REL = "github/allenai/natural-instructions/tasks"
LICENSE = "Apache-2.0"


@dataclass(frozen=True)
class FlanInfo:
    """One NIV2 row of FLAN's collection info CSV."""

    dataset: str
    category: str
    languages: tuple[str, ...]


def _norm(name: str) -> str:
    return name.replace("-", "_")


@lru_cache(maxsize=8)
def flan_info(root: Path) -> dict[str, FlanInfo]:
    """NIV2 rows of FLAN's collection info, keyed by normalised task name (``-`` -> ``_``)."""
    path = Path(root) / FLAN_CSV_REL
    if not path.is_file():
        return {}
    out: dict[str, FlanInfo] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        needed = {"Source", "Dataset", "Specific Task Category", "Generic Task Category", "Languages"}
        if not needed <= set(reader.fieldnames or ()):
            raise DataError(path, f"missing columns: {', '.join(sorted(needed - set(reader.fieldnames or ())))}", line=1)
        for lineno, row in enumerate(reader, start=2):
            if row["Source"] != "NIv2":
                continue
            try:
                langs = ast.literal_eval(row["Languages"])
            except (ValueError, SyntaxError):
                raise DataError(path, f"cannot parse Languages {row['Languages']!r}", line=lineno) from None
            out[_norm(row["Specific Task Category"])] = FlanInfo(
                row["Dataset"], row["Generic Task Category"], tuple(str(x) for x in langs)
            )
    return out


@lru_cache(maxsize=8)
def _metadata(root: Path) -> dict[str, Any]:
    path = Path(root) / META_REL
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object of tasks")
    return data


@lru_cache(maxsize=8)
def _upstream(root: Path) -> dict[str, Path]:
    base = Path(root) / UPSTREAM_REL
    if not base.is_dir():
        return {}
    return {p.stem: p for p in sorted(base.glob("task*.json"))}


def task_names(root: Path) -> list[str]:
    """``niv2/<task>`` for every task in the metadata JSON and in upstream task files."""
    root = Path(root)
    names = set(_metadata(root)) | set(_upstream(root))
    if not names:
        raise DataError(Path(root) / META_REL, "no NIV2 metadata and no upstream NIV2 task files under the data root")
    return [f"{FAMILY}/{n}" for n in sorted(names)]


def _first_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value is not None else None


def _example(uid: str, item: Any, path: Path, where: str) -> Example:
    if not isinstance(item, dict) or "input" not in item or "output" not in item:
        raise DataError(path, f"{where} needs 'input' and 'output'")
    target = _first_str(item["output"])
    if target is None:
        raise DataError(path, f"{where} has an empty 'output'")
    return Example(uid, (("input", str(item["input"])),), target=target)


def load_task_file(path: str | Path, name: str | None = None) -> Task:
    """Parse one upstream NIV2 ``tasks/<task>.json`` file into a :class:`Task`."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object")
    for key in ("Definition", "Instances"):
        if key not in data:
            raise DataError(path, f"missing {key!r}")
    if not isinstance(data["Instances"], list):
        raise DataError(path, "'Instances' must be a list")
    for key in ("Positive Examples",):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise DataError(path, f"{key!r} must be a list")
    for key in ("Input_language", "Output_language", "Instruction_language"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise DataError(path, f"{key!r} must be a list of languages")
    name = name or f"{FAMILY}/{path.stem}"
    definition = _first_str(data["Definition"]) or ""
    positives = [
        _example(f"{name}:pos{i}", e, path, f"positive example {i}") for i, e in enumerate(data.get("Positive Examples") or [])
    ]
    instances = [_example(f"{name}:{i}", e, path, f"instance {i}") for i, e in enumerate(data["Instances"])]
    langs = sorted(
        {str(x) for key in ("Input_language", "Output_language", "Instruction_language") for x in data.get(key) or []}
    )
    return Task(
        name=name,
        source=FAMILY,
        instructions=(definition.strip(),) if definition.strip() else (),
        input_fields=("input",),
        label_space=None,
        splits=(Split("train", tuple(positives)), Split("test", tuple(instances))),
        category=_first_str(data.get("Categories")),
        source_dataset=_first_str(data.get("Source")),
        license=_first_str(data.get("Instance License")) or LICENSE,
        metadata=(
            ("languages", ", ".join(langs)),
            ("english", str(bool(langs) and langs == ["English"])),
            ("number_examples", str(len(instances))),
            ("form", "upstream"),
        ),
    )


def _load_meta(name: str, task: str, root: Path) -> Task:
    entry = _metadata(root)[task]
    path = Path(root) / META_REL
    if not isinstance(entry, dict) or "definition" not in entry:
        raise DataError(path, f"task {task!r} has no 'definition'")
    pos = entry.get("positive_examples")
    pos_list = pos if isinstance(pos, list) else [pos] if pos else []
    positives = [_example(f"{name}:pos{i}", e, path, f"{task} positive example {i}") for i, e in enumerate(pos_list)]
    info = flan_info(root).get(_norm(task))
    langs = info.languages if info else ()
    prov = [provenance_of(root, META_REL, LICENSE)]
    if info:
        prov.append(provenance_of(root, FLAN_CSV_REL, LICENSE))
    return Task(
        name=name,
        source=FAMILY,
        instructions=(str(entry["definition"]).strip(),),
        input_fields=("input",),
        label_space=None,
        splits=(Split("train", tuple(positives)), Split("test", ())),
        category=info.category if info else None,
        source_dataset=info.dataset if info else None,
        license=LICENSE,
        provenance=tuple(prov),
        metadata=(
            ("languages", ", ".join(langs)),
            ("english", str(langs == ("English",))),
            ("number_examples", str(entry.get("number_examples", ""))),
            ("form", "metadata"),
        ),
    )


def load(name: str, root: Path) -> Task:
    """Load ``niv2/<task>`` (the upstream task file if present, else the metadata entry)."""
    root = Path(root)
    task = name.split("/", 1)[1] if name.startswith(f"{FAMILY}/") else ""
    upstream = _upstream(root)
    if task in upstream:
        return load_task_file(upstream[task], name)
    if task in _metadata(root):
        return _load_meta(name, task, root)
    raise TaskmixError(f"unknown NIV2 task {name!r}")


def is_english(task: Task) -> bool:
    """Whether a loaded NIV2 task is English-only (see the module docstring)."""
    return task.meta("english") == "True"


def load_all(root: Path, english_only: bool = False) -> list[Task]:
    """Every NIV2 task under ``root`` (sorted by name), optionally English-only."""
    tasks = [load(n, root) for n in task_names(root)]
    return [t for t in tasks if is_english(t)] if english_only else tasks


__all__ = ["FlanInfo", "flan_info", "task_names", "load", "load_task_file", "load_all", "is_english", "resolve"]
