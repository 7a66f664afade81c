"""RAFT loader: hand-written fixtures, bad files (one line naming file and row), fuzzing,
and (with the mirror) the real 50-example tasks and the CLI."""

from __future__ import annotations

import collections
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskmix import cli
from taskmix.errors import DataError, TaskmixError
from taskmix.loaders import raft

FIX = Path(__file__).resolve().parent / "fixtures" / "data" / "raft"
NAME = "raft/semiconductor_org_types"
TASK_JSON = raft.REPO + "data/semiconductor_org_types/task.json"
TRAIN_CSV = raft.REPO + "data/semiconductor_org_types/train.csv"
FILES = {TASK_JSON: FIX / "task.json", TRAIN_CSV: FIX / "train.csv", raft.SETTINGS: FIX / "prompt_construction_settings.jsonl"}
HEADER = b"Paper title,Organization name,Label,ID\n"


def make_root(base: Path, **replace: bytes) -> Path:
    """A data folder holding the three fixture files; ``replace`` maps a key of FILES'
    short names (task_json, train_csv, settings) to other bytes."""
    short = {"task_json": TASK_JSON, "train_csv": TRAIN_CSV, "settings": raft.SETTINGS}
    data = {rel: path.read_bytes() for rel, path in FILES.items()}
    data.update({short[k]: v for k, v in replace.items()})
    root = base / "data"
    for rel, content in data.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv("TASKMIX_MIRROR", raising=False)


def test_fixture_task(tmp_path, no_mirror):
    task = raft.load(NAME, make_root(tmp_path))
    assert task.label_space == ("company", "research institute", "university")
    assert task.input_fields == ("organization_name", "paper_title")  # line 1's order, not the CSV's
    assert task.instruction == "Classify the institution as a university, a company or a research institute."
    assert task.split_names == ("train",) and task.meta("eval_split") == "train"
    exs = task.split("train")
    assert [e.uid for e in exs] == [f"train/{i}" for i in range(5)]
    assert [e.label for e in exs] == [2, 0, 1, 0, 2]
    assert exs[1].fields == (("organization_name", "Acme Chips Ltd."), ("paper_title", 'A "fast" memory, again'))
    assert exs[4].fields[1] == ("paper_title", "A note\nover two lines")
    assert task.meta("upstream_labels") == "1=company, 2=research institute, 3=university"
    assert [p.path for p in task.provenance] == [TASK_JSON, TRAIN_CSV, raft.SETTINGS]


def test_one_based_label_ids_are_mapped_like_names(tmp_path, no_mirror):
    csv = HEADER + b"t0,o0,3,0\nt1,o1,1,1\nt2,o2,2,2\nt3,o3,company,3\n"
    task = raft.load(NAME, make_root(tmp_path, train_csv=csv))
    assert [e.label for e in task.split("train")] == [2, 0, 1, 0]


def test_label_map_prefers_names_over_ids():
    assert raft.label_map(("a", "b")) == {"1": 0, "2": 1, "a": 0, "b": 1}
    assert raft.label_map(("2", "x")) == {"1": 0, "2": 0, "x": 1}  # the name "2" wins over id 2


@pytest.mark.parametrize("replace,needle", [
    (dict(train_csv=HEADER + b"t0,o0,company,0\nt1,o1,startup,1\n"), TRAIN_CSV + ":3: unknown label 'startup'"),
    (dict(train_csv=HEADER + b"t0,o0,0,0\n"), TRAIN_CSV + ":2: unknown label '0'"),  # HF's 'Unlabeled'
    (dict(train_csv=HEADER + b"t0,o0,,0\n"), TRAIN_CSV + ":2: empty label in column 'Label'"),
    (dict(train_csv=b"Paper title,Label,ID\nt0,company,0\n"), TRAIN_CSV + ":1: missing column 'Organization name'"),
    (dict(train_csv=b"Paper title,Organization name,ID\nt0,o0,0\n"), TRAIN_CSV + ":1: missing column 'Label'"),
    (dict(train_csv=b"Paper title,Organization name,Label\nt0,o0,company\n"), TRAIN_CSV + ":1: missing column 'ID'"),
    (dict(train_csv=HEADER + b"t0,o0,company,0\nt1,o1,company\n"), TRAIN_CSV + ":3: expected 4 columns, got 3"),
    (dict(train_csv=HEADER + b"t0,o0,company,7\nt1,o1,company,7\n"), TRAIN_CSV + ":3: ID '7' repeats"),
    (dict(train_csv=HEADER), TRAIN_CSV + ": no labelled examples"),
    (dict(task_json=b'{"data_columns": ["Paper title", "ID"], "label_columns": {"Label": ["a"]}}'),
     TASK_JSON + ": data_columns lack the input fields ['Organization name']"),
    (dict(task_json=b'{"data_columns": ["Paper title", "Organization name", "ID"], "label_columns": {}}'),
     TASK_JSON + ": 'label_columns' must map 'Label' to a list of label names"),
    (dict(task_json=b'{"data_columns": ["x", "ID"], "label_columns": {"Label": ["a", "a"]}}'),
     TASK_JSON + ": label names repeat"),
    (dict(settings=b'{"overruling": ["Sentence"]}\n{"semiconductor_org_types": "x"}\n'),
     raft.SETTINGS + ":1: names no input fields for task 'semiconductor_org_types'"),
    (dict(settings=b'{"semiconductor_org_types": ["Organization name"]}\n'),
     raft.SETTINGS + ": has no line 2"),
    (dict(settings=b'{"semiconductor_org_types": ["Organization name"]}\n{"semiconductor_org_types": ""}\n'),
     raft.SETTINGS + ":2: instruction of 'semiconductor_org_types' is not a non-empty string"),
])
def test_bad_files_are_one_line_naming_file_and_row(tmp_path, no_mirror, capsys, replace, needle):
    root = make_root(tmp_path, **replace)
    with pytest.raises(DataError):
        raft.load(NAME, root)
    code = cli.main(["tasks", "show", NAME, "--data", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("taskmix: error: "), err
    assert f"{root}/{needle}" in err[0]


def test_unknown_raft_task_is_an_error(tmp_path):
    with pytest.raises(TaskmixError, match="unknown RAFT task 'raft/banking_77'"):
        raft.load("raft/banking_77", tmp_path)


# ---------------------------------------------------------------- fuzzing (as tests/test_reliability_fuzz.py)

FUZZ = settings(max_examples=int(os.environ.get("TASKMIX_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
SEEDS = {"task_json": FILES[TASK_JSON].read_bytes(), "train_csv": FILES[TRAIN_CSV].read_bytes(),
         "settings": FILES[raft.SETTINGS].read_bytes()}


def _call(kind: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        try:
            raft.load(NAME, make_root(Path(d), **{kind: data}))
        except TaskmixError as e:
            assert "\n" not in str(e)


@pytest.mark.parametrize("kind", sorted(SEEDS))
@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes(kind, data):
    _call(kind, data)


@pytest.mark.parametrize("kind", sorted(SEEDS))
@FUZZ
@given(cut=st.integers(0, 400), flip=st.integers(0, 255), at=st.integers(0, 400))
def test_fuzz_truncated_and_mutated(kind, cut, flip, at):
    data = bytearray(SEEDS[kind][: min(cut, len(SEEDS[kind]))])
    if data:
        data[at % len(data)] = flip
    _call(kind, bytes(data))


@pytest.mark.parametrize("kind", sorted(SEEDS))
@FUZZ
@given(text=st.text(alphabet=st.sampled_from('{}[]":,0123456789 \n\r"abcIDLabel_'), max_size=200))
def test_fuzz_structured_garbage(kind, text):
    _call(kind, text.encode("utf-8"))


# ---------------------------------------------------------------- the real files (mirror)

REAL = {
    "raft/ade_corpus_v2": ("sentence", {"ADE-related": 15, "not ADE-related": 35}),
    "raft/overruling": ("sentence", {"not overruling": 25, "overruling": 25}),
    "raft/semiconductor_org_types": ("organization_name", {"company": 38, "research institute": 6, "university": 6}),
    "raft/terms_of_service": ("sentence", {"not potentially unfair": 41, "potentially unfair": 9}),
    "raft/tweet_eval_hate": ("tweet", {"hate speech": 21, "not hate speech": 29}),
    "raft/twitter_complaints": ("tweet_text", {"complaint": 17, "no complaint": 33}),
}


def test_task_names_are_the_six_tasks(tmp_path):
    assert set(raft.task_names(tmp_path)) == set(REAL)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_tasks_have_50_examples_and_their_label_counts(name, mirror_data_root):
    task = raft.load(name, mirror_data_root)
    first_field, counts = REAL[name]
    exs = task.split("train")
    assert task.split_names == ("train",) and len(exs) == 50
    assert dict(collections.Counter(task.label_space[e.label] for e in exs)) == counts
    assert task.input_fields[0] == first_field and task.instruction and task.meta("eval_split") == "train"
    assert len({e.uid for e in exs}) == 50 and all(t.strip() for e in exs for t in e.texts)


def test_real_instruction_and_fields(mirror_data_root):
    sot = raft.load("raft/semiconductor_org_types", mirror_data_root)
    assert sot.input_fields == ("organization_name", "paper_title")
    assert sot.split("train")[0].fields[0] == ("organization_name", "North Carolina State Univ.,Raleigh,NC,USA")
    assert raft.load("raft/overruling", mirror_data_root).instruction.startswith("In law, an overruling sentence is")


@pytest.fixture
def cli_cache(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TASKMIX_MIRROR", str(mirror))


def test_cli_tasks_list_and_show(cli_cache, capsys):
    assert cli.main(["tasks", "list", "--source", "raft"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sorted(ln.split()[0] for ln in lines) == sorted(REAL)
    assert all(ln.split()[1] == "raft" and ln.endswith("train 50") for ln in lines)
    assert cli.main(["tasks", "show", "raft/overruling"]) == 0
    out = capsys.readouterr().out
    assert "splits:       train 50" in out and "eval_split: train" in out
    assert "0  not overruling" in out and "1  overruling" in out


# ---------------------------------------------------------------- pinned in sources.json


def test_raft_files_are_pinned_at_their_two_commits():
    from taskmix.data.sources import load_manifest, parse_manifest

    manifest = load_manifest()
    files = [f for f in manifest.files if f.path.startswith(raft.REPO)]
    assert len(files) == 14 and all(len(f.sha256) == 64 for f in files)
    for f in files:
        commit = "1f410eea45db450e237b375b0693431dad09f9a3" if "/data/" in f.path and not f.path.endswith(".jsonl") \
            else "cc04aee9c8a8cbfad431cce044abe76993bfb0f7"
        assert f.url == f"https://raw.githubusercontent.com/oughtinc/raft-baselines/{commit}/{f.path[len(raft.REPO):]}"
    for name in REAL:
        folder = name.removeprefix("raft/")
        assert manifest.get(f"{raft.REPO}data/{folder}/train.csv") and manifest.get(f"{raft.REPO}data/{folder}/task.json")
    assert manifest.get(raft.SETTINGS) is not None
    pinned = [c for repo, c in manifest.repositories if repo == "oughtinc/raft-baselines"]
    assert pinned == ["1f410eea45db450e237b375b0693431dad09f9a3", "cc04aee9c8a8cbfad431cce044abe76993bfb0f7"]
    two = parse_manifest({"files": [], "repositories": {"o/r": {"commits": {"data/": "c2", "LICENSE": "c1"}},
                                                        "o/s": {"commit": "c3"}}})
    assert two.repositories == (("o/r", "c1"), ("o/r", "c2"), ("o/s", "c3"))
