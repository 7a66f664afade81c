"""Fuzzing the format parsers: random and truncated bytes give a DataError or a result, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from taskmix.data.archive import safe_extract
from taskmix.errors import DataError
from taskmix.loaders import parsers
from taskmix.loaders.userfile import load_file

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"

PARSERS = {
    "label_first_utf8": lambda p: parsers.parse_label_first(p),
    "label_first_cp1252": lambda p: parsers.parse_label_first(p, "cp1252"),
    "mapping": parsers.parse_mapping,
    "keyed_json": lambda p: parsers.parse_keyed_json(p, {"text_a": "a", "text_b": "b"}, optional=("text_b",)),
    "jsonl": lambda p: parsers.parse_jsonl(p, ["premise", "hypothesis"], "label"),
    "csv": lambda p: parsers.parse_csv(p, ["text"], "label"),
    "ade_rel": parsers.parse_ade_rel,
    "ade_neg": parsers.parse_ade_neg,
    "trec_coarse": parsers.parse_trec_coarse,
    "user_jsonl": lambda p: load_file(p, text_fields=("premise",), label_field="label"),
    "user_json": lambda p: load_file(p, text_fields=("premise",), label_field="label"),
    "user_tsv": lambda p: load_file(p, text_fields=("text",), label_field="label"),
}
SEEDS = {
    "label_first_utf8": "label_first_cp1252.all",
    "label_first_cp1252": "label_first_cp1252.all",
    "mapping": "mapping.txt",
    "keyed_json": "keyed.json",
    "jsonl": "pairs.jsonl",
    "csv": "user.csv",
    "ade_rel": "ade.rel",
    "ade_neg": "ade_neg.txt",
    "trec_coarse": "trec_coarse.txt",
    "user_jsonl": "pairs.jsonl",
    "user_json": "pairs.jsonl",
    "user_tsv": "user.csv",
}
SUFFIX = {"csv": ".csv", "user_jsonl": ".jsonl", "user_json": ".json", "user_tsv": ".tsv"}

FUZZ = settings(max_examples=int(__import__("os").environ.get("TASKMIX_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _call(kind: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"input{SUFFIX.get(kind, '.txt')}"
        p.write_bytes(data)
        try:
            PARSERS[kind](p)
        except DataError as e:
            assert "\n" not in str(e) and str(p) in str(e)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(kind, data):
    _call(kind, data)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FUZZ
@given(cut=st.integers(min_value=0, max_value=400), flip=st.integers(min_value=0, max_value=255), at=st.integers(min_value=0, max_value=400))
def test_truncated_and_mutated_fixtures(kind, cut, flip, at):
    data = bytearray((FIXTURES / SEEDS[kind]).read_bytes())
    data = data[: min(cut, len(data))]
    if data:
        data[at % len(data)] = flip
    _call(kind, bytes(data))


@pytest.mark.parametrize("kind", sorted(PARSERS))
@FUZZ
@given(text=st.text(alphabet=st.sampled_from('{}[]":,0123456789 \t\n|\\abcNEG#;"'), max_size=200))
def test_structured_garbage(kind, text):
    _call(kind, text.encode("utf-8"))


@FUZZ
@given(data=st.binary(max_size=600))
def test_archive_random_bytes(data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "a.tar.gz"
        p.write_bytes(data)
        try:
            safe_extract(p, Path(d) / "out")
        except DataError:
            pass


def _zip_bytes() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/a.json", '{"a": 1}' * 20)
    return buf.getvalue()


def _tgz_bytes() -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b'{"a": 1}' * 20
        info = tarfile.TarInfo("d/a.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("make", [_zip_bytes, _tgz_bytes], ids=["zip", "tgz"])
@FUZZ
@given(cut=st.integers(min_value=0, max_value=2000), flip=st.integers(min_value=0, max_value=255), at=st.integers(min_value=0, max_value=2000))
@example(cut=127, flip=0, at=478)  # a zip member whose name becomes empty: ZipInfo.is_dir() raised IndexError
def test_archive_truncated_and_mutated(make, cut, flip, at):
    data = bytearray(make())
    data = data[: max(1, min(cut, len(data)))]
    data[at % len(data)] = flip
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "a.bin"
        p.write_bytes(bytes(data))
        try:
            safe_extract(p, Path(d) / "out")
        except DataError:
            pass
