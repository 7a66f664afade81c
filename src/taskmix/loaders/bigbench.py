"""BIG-Bench JSON tasks (``bigbench/<task>[/<subtask>]``) from the bigbench 1.0.0 sdist.

Layout under the data root: ``pypi/bigbench-1.0.0/bigbench/benchmark_tasks/<task>/task.json``
and, for tasks with subtasks, ``<task>/<subtask>/task.json`` (e.g.
``list_functions/c001`` .. ``c250`` and ``simp_turing_concept/witness_set``). A task with
subtasks is served both as each subtask and as the parent name, whose examples are the
union of its subtasks' (uids prefixed by the subtask name).

* ``description`` and ``task_prefix`` are the task's instructions (in that order).
* Examples with ``target_scores`` become a classification task when every example has the
  same choice set: ``label_space`` is the choices in the first example's order and the
  label is the highest-scoring choice. Where choices differ between examples the task is
  free-form: ``target`` is the best choice and the example gets a ``choices`` field (one
  choice a line).
* Examples with ``target`` (a string or a list of strings) are free-form; a list keeps its
  first string as ``target``.
* BIG-Bench has no splits: every task gets fixed seeded ``train`` / ``test`` splits
  (see :func:`taskmix.loaders.instr_common.seeded_train_test`).
* Eight large tasks are mirrored without examples (only their parent ``task.json``): they
  load with their instructions and empty splits.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import DataError, TaskmixError
from ..records import Example, Split, Task
from .instr_common import provenance_of, read_json, resolve, seeded_train_test

FAMILY = "bigbench"
BASE = "pypi/bigbench-1.0.0/bigbench/benchmark_tasks"
LICENSE = "Apache-2.0"


@lru_cache(maxsize=8)
def _layout(root: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(task, (subtask, ...))`` for every task folder under the root, sorted."""
    base = resolve(root, BASE)
    out = []
    for task_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        if not (task_dir / "task.json").is_file():
            continue
        subs = tuple(sorted(p.name for p in task_dir.iterdir() if p.is_dir() and (p / "task.json").is_file()))
        out.append((task_dir.name, subs))
    return tuple(out)


def task_names(root: Path) -> list[str]:
    """``bigbench/<task>`` for every task and ``bigbench/<task>/<subtask>`` for every subtask."""
    names: list[str] = []
    for task, subs in _layout(Path(root)):
        names.append(f"{FAMILY}/{task}")
        names.extend(f"{FAMILY}/{task}/{s}" for s in subs)
    return names


def _instructions(data: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for key in ("description", "task_prefix"):
        value = data.get(key)
        if isinstance(value, str) and value.strip() and value.strip() not in out:
            out.append(value.strip())
    return tuple(out)


def _choice_sets(examples: list[dict[str, Any]]) -> tuple[str, ...] | None:
    """The shared choice list if every example has ``target_scores`` with the same keys."""
    if not examples or not all(isinstance(e, dict) and isinstance(e.get("target_scores"), dict) for e in examples):
        return None
    first = tuple(examples[0]["target_scores"])
    if not first:
        return None
    keyset = set(first)
    if all(set(e["target_scores"]) == keyset for e in examples):
        return first
    return None


def _best(scores: dict[str, Any], path: Path, i: int) -> str:
    best_key, best_val = None, None
    for key, val in scores.items():
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise DataError(path, f"example {i}: target_scores[{key!r}] is not a number")
        if best_val is None or float(val) > best_val:
            best_key, best_val = key, float(val)
    return str(best_key)


def _examples(path: Path, name: str, raw: list[Any], labels: tuple[str, ...] | None) -> list[Example]:
    out: list[Example] = []
    for i, e in enumerate(raw):
        if not isinstance(e, dict) or "input" not in e:
            raise DataError(path, f"example {i} has no 'input'")
        uid = f"{name}:{i}"
        fields: list[tuple[str, str]] = [("input", str(e["input"]))]
        scores = e.get("target_scores")
        if labels is not None:
            out.append(Example(uid, tuple(fields), label=labels.index(_best(scores, path, i))))
            continue
        if isinstance(scores, dict) and scores:
            fields.append(("choices", "\n".join(str(k) for k in scores)))
            out.append(Example(uid, tuple(fields), target=_best(scores, path, i)))
            continue
        target = e.get("target")
        if isinstance(target, list):
            target = next((str(t) for t in target), None)
        if target is None:
            raise DataError(path, f"example {i} has neither 'target' nor 'target_scores'")
        out.append(Example(uid, tuple(fields), target=str(target)))
    return out


def _load_leaf(name: str, relpath: str, root: Path) -> Task:
    path = resolve(root, relpath)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object")
    raw = data.get("examples") or []
    if not isinstance(raw, list):
        raise DataError(path, "'examples' must be a list")
    keywords = data.get("keywords") or []
    if not isinstance(keywords, list):
        raise DataError(path, "'keywords' must be a list")
    keywords = [str(k) for k in keywords]
    labels = _choice_sets(raw)
    examples = _examples(path, name, raw, labels)
    train, test = seeded_train_test(examples, name)
    meta = tuple(
        (k, str(data[k]))
        for k in ("preferred_score", "example_input_prefix", "example_output_prefix", "few_shot_example_separator")
        if k in data
    ) + (("keywords", ", ".join(keywords)),)
    return Task(
        name=name,
        source=FAMILY,
        instructions=_instructions(data),
        input_fields=("input", "choices") if any(len(e.fields) > 1 for e in examples) else ("input",),
        label_space=labels,
        splits=(train, test),
        category=(keywords or [None])[0],
        source_dataset=name.split("/")[1],
        license=LICENSE,
        provenance=(provenance_of(root, relpath, LICENSE),),
        metadata=meta,
    )


def load(name: str, root: Path) -> Task:
    """Load ``bigbench/<task>`` or ``bigbench/<task>/<subtask>``."""
    root = Path(root)
    parts = name.split("/")
    if parts[0] != FAMILY or len(parts) not in (2, 3):
        raise TaskmixError(f"not a BIG-Bench task name: {name!r} (expected bigbench/<task>[/<subtask>])")
    layout = dict(_layout(root))
    if parts[1] not in layout or (len(parts) == 3 and parts[2] not in layout[parts[1]]):
        raise TaskmixError(f"unknown BIG-Bench task {name!r}")
    if len(parts) == 3:
        return _load_leaf(name, f"{BASE}/{parts[1]}/{parts[2]}/task.json", root)
    parent = _load_leaf(name, f"{BASE}/{parts[1]}/task.json", root)
    subs = layout[parts[1]]
    if not subs:
        return parent
    children = [_load_leaf(f"{name}/{s}", f"{BASE}/{parts[1]}/{s}/task.json", root) for s in subs]
    spaces = {c.label_space for c in children}
    label_space = spaces.pop() if len(spaces) == 1 else None
    splits = []
    for split in ("train", "test"):
        merged: list[Example] = []
        for c in children:
            for e in c.split(split):
                if label_space is None and e.label is not None:  # differing label spaces: free-form
                    e = Example(e.uid, e.fields, target=c.label_space[e.label])  # type: ignore[index]
                merged.append(e)
        splits.append(Split(split, tuple(merged)))
    return Task(
        name=name,
        source=FAMILY,
        instructions=parent.instructions,
        input_fields=("input", "choices") if any("choices" in c.input_fields for c in children) else ("input",),
        label_space=label_space,
        splits=tuple(splits),
        category=parent.category,
        source_dataset=parts[1],
        license=LICENSE,
        provenance=parent.provenance + tuple(p for c in children for p in c.provenance),
        metadata=parent.metadata + (("subtasks", ", ".join(subs)),),
    )
