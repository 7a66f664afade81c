"""Fuzzing the instruction loaders (BIG-Bench task.json, BBH json and cot-prompt, NIV2 task
files and metadata, promptsource templates.yaml): random bytes, truncated and mutated
real-format files, and well-formed JSON/YAML with values of the wrong type. The only
allowed failure is the project's own one-line :class:`TaskmixError` (DataError).

The classification parsers and archives are fuzzed in tests/test_data_fuzz.py.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskmix.errors import TaskmixError
from taskmix.loaders import bbh, bigbench, niv2, promptsource
from taskmix.loaders.promptsource_templates import render_template, template_instruction

N = int(os.environ.get("TASKMIX_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NIV2_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "niv2" / niv2.UPSTREAM_REL / "task9001_toy_sentiment_classification.json"

BB_FILE = f"{bigbench.BASE}/t/task.json"
BBH_FILE = f"{bbh.REPO}/bbh/t.json"
BBH_PROMPT = f"{bbh.REPO}/cot-prompts/t.txt"
NIV2_FILE = f"{niv2.UPSTREAM_REL}/task1_t.json"
P3_FILE = f"{promptsource.BASE}/ds/templates.yaml"

SEEDS: dict[str, bytes] = {
    "bigbench": json.dumps({
        "name": "t", "description": "Pick the answer.", "keywords": ["logic"], "task_prefix": "Q: ",
        "examples": [{"input": f"q{i}", "target_scores": {"yes": i % 2, "no": 1 - i % 2}} for i in range(8)]
        + [{"input": "free", "target": ["a", "b"]}],
    }).encode(),
    "bbh_json": json.dumps({"examples": [{"input": f"2+{i}", "target": str(2 + i)} for i in range(10)]}).encode(),
    "bbh_prompt": b"BIG-Bench canary\n-----\nTask description: Add the numbers.\n\nQ: 1+1\nA: 2\n",
    "niv2_task": NIV2_FIXTURE.read_bytes(),
    "niv2_meta": json.dumps({"task1_t": {"definition": "Do it.", "positive_examples": [{"input": "a", "output": ["b"]}],
                                         "number_examples": 3}}).encode(),
    "p3_templates": (
        "dataset: ds\ntemplates:\n  a1: !Template\n    answer_choices: no ||| yes\n    id: a1\n"
        "    jinja: '{{sentence}} Is it good? ||| {{ answer_choices[label] }}'\n"
        "    metadata: !TemplateMetadata\n      choices_in_prompt: false\n      languages:\n      - en\n"
        "      metrics:\n      - Accuracy\n      original_task: true\n    name: good\n    reference: ''\n"
    ).encode(),
}
VALID_BBH_JSON = SEEDS["bbh_json"]
VALID_BBH_PROMPT = SEEDS["bbh_prompt"]


def _write(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def _bigbench(root: Path, data: bytes) -> None:
    _write(root, BB_FILE, data)
    bigbench.load("bigbench/t", root)


def _bbh(root: Path, data: bytes, which: str) -> None:
    _write(root, BBH_FILE, data if which == "json" else VALID_BBH_JSON)
    _write(root, BBH_PROMPT, data if which == "prompt" else VALID_BBH_PROMPT)
    bbh.load("bbh/t", root)


def _niv2_task(root: Path, data: bytes) -> None:
    _write(root, NIV2_FILE, data)
    niv2.load_task_file(root / NIV2_FILE)
    niv2.load("niv2/task1_t", root)


def _niv2_meta(root: Path, data: bytes) -> None:
    _write(root, niv2.META_REL, data)
    for name in niv2.task_names(root)[:3]:
        niv2.load(name, root)


def _p3(root: Path, data: bytes) -> None:
    _write(root, P3_FILE, data)
    collection = promptsource.templates_of("ds", root)
    for t in collection.templates:
        template_instruction(t)
        render_template(t, {"sentence": "fine", "label": 1})


TARGETS: dict[str, Callable[[Path, bytes], None]] = {
    "bigbench": _bigbench,
    "bbh_json": lambda root, data: _bbh(root, data, "json"),
    "bbh_prompt": lambda root, data: _bbh(root, data, "prompt"),
    "niv2_task": _niv2_task,
    "niv2_meta": _niv2_meta,
    "p3_templates": _p3,
}


def _call(kind: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        try:
            TARGETS[kind](root, data)
        except TaskmixError as e:
            assert "\n" not in str(e)


def test_seeds_load():
    for kind in TARGETS:
        with tempfile.TemporaryDirectory() as d:
            TARGETS[kind](Path(d), SEEDS[kind])


@pytest.mark.parametrize("kind", sorted(TARGETS))
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(kind, data):
    _call(kind, data)


@pytest.mark.parametrize("kind", sorted(TARGETS))
@FUZZ
@given(cut=st.integers(min_value=0, max_value=2000), flip=st.integers(0, 255), at=st.integers(0, 2000))
def test_truncated_and_mutated(kind, cut, flip, at):
    data = bytearray(SEEDS[kind][: min(cut, len(SEEDS[kind]))])
    if data:
        data[at % len(data)] = flip
    _call(kind, bytes(data))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False, width=16) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["input", "target", "output", "x"]), inner, max_size=3),
    max_leaves=8,
)
KEYS = {
    "bigbench": ["examples", "description", "task_prefix", "keywords", "preferred_score", "name"],
    "bbh_json": ["examples"],
    "niv2_task": ["Definition", "Instances", "Positive Examples", "Categories", "Source", "Input_language",
                  "Instance License"],
    "niv2_meta": ["task1_t", "task2_u"],
}




@pytest.mark.parametrize("kind", sorted(KEYS))
@FUZZ
@given(data=st.data())
def test_right_keys_wrong_types(kind, data):
    """A JSON object with the expected keys holding any JSON values (lists, numbers, nulls)."""
    obj = {k: data.draw(JSON, label=k) for k in KEYS[kind] if data.draw(st.booleans(), label=f"has {k}")}
    if kind in ("bigbench", "bbh_json") and data.draw(st.booleans(), label="list of examples"):
        obj["examples"] = data.draw(st.lists(st.dictionaries(st.sampled_from(["input", "target", "target_scores"]), JSON,
                                                             max_size=3), max_size=3))
    _call(kind, json.dumps(obj).encode())


YAML_SCALARS = st.sampled_from(["x", "1", "[]", "{}", "null", "'a ||| b'", "!Template {}", "!TemplateMetadata {}",
                                "'{{ x }}'", "'{{ sentence }} ||| {{ answer_choices[label] }}'", "[1, 2]"])


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["answer_choices", "id", "jinja", "metadata", "name", "reference", "other"]),
                              YAML_SCALARS, max_size=7),
       top=st.sampled_from(["dataset: ds\ntemplates:\n  a: !Template\n", "dataset: ds\ntemplates:\n  a:\n",
                            "templates:\n  a: !Template\n", "dataset: [1]\nsubset: {x: 1}\ntemplates:\n  a: !Template\n"]))
def test_templates_yaml_with_wrong_field_types(fields, top):
    body = "".join(f"    {k}: {v}\n" for k, v in fields.items()) or "    {}\n"
    _call("p3_templates", (top + body).encode())


@pytest.mark.parametrize("kind,data", [
    ("p3_templates", b"[" * 5000),  # nesting deeper than the recursion limit
    ("p3_templates", b"a: &a [*a, *a]\n"),
    ("p3_templates", "dataset: é\xff".encode("latin-1")),
    ("bigbench", b"[" * 100000),
    ("niv2_task", b"{\"Definition\": " + b"[" * 100000),
    ("bbh_prompt", b"\xff\xfe-----\n"),
])
def test_pathological_inputs(kind, data):
    _call(kind, data)


# ---------------------------------------------------------------------------- files taskmix writes and reads back

MIXTURE_SEED = (
    b'{"uid": "t:1", "task": "t", "kind": "symbol", "format": "q_a", "n_exemplars": 2, '
    b'"prompt": "Q: a\\nA: foo\\n\\nQ: b\\nA: bar\\n\\nQ: c\\nA:", "target": " foo"}\n'
) * 3


def _mixture(root: Path, data: bytes) -> None:
    from taskmix.training.data import read_examples

    (root / "mix").mkdir()
    (root / "mix" / "prompts.jsonl").write_bytes(data)
    list(read_examples(root / "mix"))


def _lm_cache(root: Path, data: bytes) -> None:
    from taskmix.models.cache import ResultCache

    (root / "results.sqlite").write_bytes(data)
    cache = ResultCache(root / "results.sqlite")
    try:
        cache.get_many("fp", ["k"])
        cache.put_many("fp", [("k", [0.5, 1, True])])
    finally:
        cache.close()


READBACK = {"mixture_jsonl": (_mixture, MIXTURE_SEED), "lm_cache": (_lm_cache, b"SQLite format 3\x00" + b"\x00" * 200)}


@pytest.mark.parametrize("kind", ["mixture_jsonl", "lm_cache"])
@FUZZ
@given(data=st.binary(max_size=400), cut=st.integers(0, 2000))
def test_read_back_files_random_and_truncated(kind, data, cut):
    func, seed = READBACK[kind]
    for blob in (data, seed[:cut] + data[:8]):
        with tempfile.TemporaryDirectory() as d:
            try:
                func(Path(d), blob)
            except TaskmixError as e:
                assert "\n" not in str(e)
