"""Building classification Tasks from parsed records: label mapping, dedupe, seeded splits.

:func:`build_task` maps each :class:`~taskmix.loaders.parsers.RawRecord`'s raw label onto
a task's label words (an unknown label names its file and line) and assembles the frozen
:class:`~taskmix.records.Task`.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..errors import DataError
from ..records import Example, Provenance, Split, Task
from ..seeding import rng_for
from .parsers import RawRecord


def dedupe(records: Iterable[RawRecord]) -> tuple[RawRecord, ...]:
    """Keep the first record of each distinct (fields, label); order is kept."""
    seen: set[tuple] = set()
    out = []
    for r in records:
        key = (r.fields, r.label)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return tuple(out)


def seeded_split(records: Sequence[RawRecord], test_size: int, *seed_parts: object) -> dict[str, tuple[RawRecord, ...]]:
    """A fixed ``train``/``test`` split of one pool: ``test_size`` records chosen by a seeded shuffle.

    Both splits keep the pool's original order.
    """
    n = len(records)
    if not 0 < test_size < n:
        raise DataError(records[0].path if records else "<pool>", f"cannot take {test_size} test examples from {n}")
    order = list(range(n))
    rng_for("pool-split", *seed_parts).shuffle(order)
    test = set(order[:test_size])
    return {
        "train": tuple(r for i, r in enumerate(records) if i not in test),
        "test": tuple(r for i, r in enumerate(records) if i in test),
    }


def map_labels(records: Sequence[RawRecord], label_map: Mapping[str, int], split: str) -> tuple[Example, ...]:
    """Examples with ``label`` = ``label_map[raw label]``; an unknown label names its file and line."""
    out = []
    for r in records:
        if r.label is None or r.label not in label_map:
            where = r.line if r.line is not None else None
            extra = f" in record {r.key!r}" if r.line is None else ""
            raise DataError(r.path, f"unknown label {r.label!r}{extra} (known: {', '.join(sorted(label_map))})", line=where)
        out.append(Example(uid=f"{split}/{r.key}", fields=r.fields, label=label_map[r.label]))
    return tuple(out)


def build_task(
    *,
    name: str,
    source: str,
    instruction: str,
    label_space: Sequence[str],
    label_map: Mapping[str, int],
    splits: Mapping[str, Sequence[RawRecord]],
    input_fields: Sequence[str],
    category: str,
    source_dataset: str,
    license: str,
    provenance: Sequence[Provenance],
    metadata: Sequence[tuple[str, str]] = (),
) -> Task:
    """A classification :class:`Task` from parsed splits (every label mapped, fields checked)."""
    where = provenance[0].path if provenance else name
    if not label_space or not label_map:
        raise DataError(where, f"task {name!r} has an empty label set")
    order = ("train", "validation", "test")
    built = []
    for split in sorted(splits, key=lambda s: order.index(s) if s in order else len(order)):
        examples = map_labels(splits[split], label_map, split)
        for ex in examples[:1]:
            names = tuple(k for k, _ in ex.fields)
            if names != tuple(input_fields):
                raise DataError(where, f"split {split!r} has fields {names}, expected {tuple(input_fields)}")
        built.append(Split(split, examples))
    return Task(
        name=name,
        source=source,
        instructions=(instruction,),
        input_fields=tuple(input_fields),
        label_space=tuple(label_space),
        splits=tuple(built),
        category=category,
        source_dataset=source_dataset,
        license=license,
        provenance=tuple(provenance),
        metadata=tuple(metadata),
    )
