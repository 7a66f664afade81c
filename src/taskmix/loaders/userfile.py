"""A user's own classification data as a :class:`Task`: JSONL or CSV files, or a HF dataset.

* :func:`load_file` reads a ``.jsonl`` (one JSON object per line), a ``.json`` array of
  objects, or a ``.csv``/``.tsv`` file (header row) with chosen text columns and a label
  column.
* :func:`from_hf_dataset` takes a ``datasets.Dataset`` (one pool) or a
  ``DatasetDict``/dict of split name -> Dataset (splits kept).

One pool is split by a seeded shuffle into ``train`` and ``test`` (``test_fraction`` of the
rows, at least one). The label space is ``label_space`` when given (raw labels may then be
those words or integer indices into them), a ``ClassLabel``'s names for HF data, or else
the sorted distinct raw labels. A classification task needs at least two non-empty labels
and a non-empty text in every row: a file with one class (scored 100% with one candidate),
an empty label or an empty text is refused in one line naming the row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import DataError, TaskmixError
from ..fileio import sha256_file
from ..records import Provenance, Task
from . import common, parsers
from .parsers import RawRecord

DEFAULT_INSTRUCTION = "Classify the input."


def _label_space(records: Iterable[RawRecord], label_space: Sequence[str] | None, where: str) -> tuple[tuple[str, ...], dict[str, int]]:
    raw = sorted({r.label for r in records if r.label is not None})
    if label_space is not None:
        space = tuple(str(w) for w in label_space)
        if not space:
            raise DataError(where, "empty label set (label_space is empty)")
        if len(set(space)) != len(space):
            raise DataError(where, f"label_space has repeated words: {space}")
        if any(not w.strip() for w in space):
            raise DataError(where, "label_space holds an empty label")
        if len(space) < 2:
            raise DataError(where, f"a classification task needs at least two labels, label_space has one: {space[0]!r}")
        mapping = {w: i for i, w in enumerate(space)}
        for i in range(len(space)):
            mapping.setdefault(str(i), i)  # integer labels index the given words
        return space, mapping
    if not raw:
        raise DataError(where, "empty label set (no labelled rows)")
    if len(raw) < 2:
        raise DataError(where, f"a classification task needs at least two labels, every row has {raw[0]!r}")
    return tuple(raw), {w: i for i, w in enumerate(raw)}


def _check_rows(records: Sequence[RawRecord], where: str) -> None:
    """Every row has a non-empty label and non-empty texts."""
    for r in records:
        prefix = f"row {r.key}: " if r.line is None else ""  # rows without a line number: by key
        if r.label is not None and not r.label.strip():
            raise DataError(where, f"{prefix}empty label (a classification task needs non-empty labels)", r.line)
        for name, text in r.fields:
            if not text.strip():
                raise DataError(where, f"{prefix}empty text in field {name!r}", r.line)


def _split_pool(records: tuple[RawRecord, ...], test_fraction: float, seed: int, name: str, where: str):
    if not 0 < test_fraction < 1:
        raise TaskmixError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if len(records) < 2:
        raise DataError(where, f"need at least 2 labelled rows to make train and test splits, got {len(records)}")
    test_size = min(len(records) - 1, max(1, round(test_fraction * len(records))))
    return common.seeded_split(records, test_size, seed, name)


def _make_task(name, splits, label_space, text_fields, instruction, source, provenance, where) -> Task:
    space, mapping = _label_space((r for recs in splits.values() for r in recs), label_space, where)
    if "test" not in splits and "validation" in splits:
        splits["test"] = splits.pop("validation")
    for need in ("train", "test"):
        if need not in splits:
            raise DataError(where, f"no {need!r} split (have: {', '.join(splits)})")
    return common.build_task(
        name=name, source=source, instruction=instruction, label_space=space, label_map=mapping, splits=splits,
        input_fields=tuple(text_fields), category="user", source_dataset=source, license="", provenance=provenance,
        metadata=(("loader", "userfile"),),
    )


def read_records(path: str | Path, text_fields: Sequence[str], label_field: str) -> tuple[RawRecord, ...]:
    """The rows of a JSONL or CSV/TSV file (format by suffix) as raw records."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".json" and parsers.read_text(path).lstrip().startswith("["):
        return parsers.parse_json_array(path, text_fields, label_field)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return parsers.parse_jsonl(path, text_fields, label_field)
    if suffix in (".csv", ".tsv"):
        return parsers.parse_csv(path, text_fields, label_field, delimiter="\t" if suffix == ".tsv" else ",")
    raise DataError(path, f"unknown file type {suffix!r} (use .jsonl, .csv or .tsv)")


def load_file(
    path: str | Path,
    text_fields: Sequence[str] = ("text",),
    label_field: str = "label",
    name: str | None = None,
    label_space: Sequence[str] | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    instruction: str = DEFAULT_INSTRUCTION,
) -> Task:
    """A classification task from one JSONL/CSV file, split train/test by ``seed``."""
    path = Path(path)
    if isinstance(text_fields, str):
        text_fields = (text_fields,)
    if not text_fields:
        raise TaskmixError("text_fields must name at least one column")
    records = read_records(path, text_fields, label_field)
    if not records:
        raise DataError(path, "no rows")
    _check_rows(records, str(path))
    name = name or path.stem
    splits = _split_pool(records, test_fraction, seed, name, str(path))
    prov = (Provenance(path=str(path), sha256=sha256_file(path), url=path.resolve().as_uri()),)
    return _make_task(name, dict(splits), label_space, text_fields, instruction, f"file:{path.name}", prov, str(path))


def _rows_to_records(rows: Iterable[Mapping[str, Any]], text_fields, label_field, where: str, names=None) -> tuple[RawRecord, ...]:
    out = []
    for i, row in enumerate(rows):
        values = []
        for f in text_fields:
            if row.get(f) is None:
                raise DataError(where, f"row {i} has no field {f!r}")
            value = row[f]
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise DataError(where, f"row {i}: field {f!r} is not text")
            values.append((f, str(value)))
        label = row.get(label_field)
        if label is None or isinstance(label, bool) or not isinstance(label, (str, int)):
            raise DataError(where, f"row {i} has no usable label in {label_field!r}")
        label = str(label).strip()
        if names is not None and label.lstrip("-").isdigit():
            idx = int(label)
            if not 0 <= idx < len(names):
                raise DataError(where, f"row {i}: label {idx} out of range for {len(names)} classes")
        out.append(RawRecord(tuple(values), label, where, None, str(i)))
    return tuple(out)


def _class_names(ds: Any, label_field: str) -> list[str] | None:
    feature = getattr(ds, "features", {}).get(label_field) if hasattr(ds, "features") else None
    names = getattr(feature, "names", None)
    return list(names) if names else None


def from_hf_dataset(
    ds_or_dict: Any,
    text_fields: Sequence[str] = ("text",),
    label_field: str = "label",
    name: str = "hf_dataset",
    label_space: Sequence[str] | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    instruction: str = DEFAULT_INSTRUCTION,
) -> Task:
    """A classification task from a ``datasets.Dataset`` or a dict/DatasetDict of splits.

    A ``ClassLabel`` label feature gives the label words (unless ``label_space`` is
    given); integer labels then index them.
    """
    if isinstance(text_fields, str):
        text_fields = (text_fields,)
    where = f"<hf dataset {name}>"
    if isinstance(ds_or_dict, Mapping):
        parts = dict(ds_or_dict)
        if not parts:
            raise DataError(where, "no splits")
    else:
        parts = {"pool": ds_or_dict}
    first = next(iter(parts.values()))
    names = _class_names(first, label_field)
    if label_space is None and names is not None:
        label_space = names
    splits = {split: _rows_to_records(iter(ds), text_fields, label_field, f"{where}[{split}]", names)
              for split, ds in parts.items()}
    for split, records in splits.items():
        _check_rows(records, f"{where}[{split}]")
    if "pool" in splits and len(splits) == 1:
        splits = dict(_split_pool(splits["pool"], test_fraction, seed, name, where))
    elif "test" not in splits and "validation" not in splits and "train" in splits:
        splits = dict(_split_pool(splits["train"], test_fraction, seed, name, where))
    fingerprint = str(getattr(first, "_fingerprint", "") or "")
    prov = (Provenance(path=name, sha256="", url=f"hf-dataset:{fingerprint}" if fingerprint else "hf-dataset"),)
    return _make_task(name, splits, label_space, text_fields, instruction, "hf-dataset", prov, where)
