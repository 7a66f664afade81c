"""User data: JSONL/CSV files and Hugging Face datasets as Tasks."""

from __future__ import annotations

import pytest

from taskmix.errors import DataError, TaskmixError
from taskmix.loaders.userfile import from_hf_dataset, load_file


def test_load_csv_file(data_fixtures):
    task = load_file(data_fixtures / "user.csv", text_fields=("text",), label_field="label", seed=0)
    assert task.name == "user"
    assert task.label_space == ("negative", "positive")  # sorted distinct labels
    assert (len(task.split("train")), len(task.split("test"))) == (4, 1)
    assert task.provenance[0].sha256 and task.input_fields == ("text",)
    again = load_file(data_fixtures / "user.csv", text_fields=("text",), label_field="label", seed=0)
    assert again == task
    other = [load_file(data_fixtures / "user.csv", seed=s).split("test") for s in range(6)]
    assert len({t[0].uid for t in other}) > 1  # the seed picks the split


def test_load_jsonl_with_label_space(data_fixtures):
    task = load_file(data_fixtures / "pairs.jsonl", text_fields=("premise", "hypothesis"), label_field="label",
                     name="mine", label_space=("entailment", "neutral", "contradiction"), test_fraction=0.5)
    assert task.name == "mine" and task.label_space == ("entailment", "neutral", "contradiction")
    assert sorted(e.label for e in task.iter_examples()) == [0, 2]
    assert task.split("train")[0].fields[0][0] == "premise"


def test_json_array_file(tmp_path):
    p = tmp_path / "rows.json"
    p.write_text('[{"t": "a", "y": "pos"}, {"t": "b", "y": "neg"}, {"t": "c", "y": "pos"}]')
    task = load_file(p, text_fields=("t",), label_field="y")
    assert task.label_space == ("neg", "pos") and sum(len(s) for s in task.splits) == 3
    p.write_text('[{"t": "a", "y": "pos"}, {"t": "b"}]')
    with pytest.raises(DataError, match="record 1 has no field 'y'"):
        load_file(p, text_fields=("t",), label_field="y")


def test_integer_labels_index_the_label_space(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("".join(f'{{"t": "x{i}", "y": {i % 2}}}\n' for i in range(10)))
    task = load_file(p, text_fields=("t",), label_field="y", label_space=("bad", "good"))
    assert {e.label for e in task.iter_examples()} == {0, 1}


@pytest.mark.parametrize("content,needle", [
    ('{"t": "a", "y": "pos"}\n{"t": "b", "y": "zzz"}\n', "unknown label 'zzz'"),
    ('{"t": "a", "y": "pos"}\n{"t": "b"}\n', "d.jsonl:2: missing field 'y'"),
    ('{"t": "a", "y": "pos"}\n{"t": \n', "d.jsonl:2: malformed JSON"),
    ('', "no rows"),
])
def test_bad_user_files(tmp_path, content, needle):
    p = tmp_path / "d.jsonl"
    p.write_text(content)
    with pytest.raises(DataError, match=needle.replace("(", r"\(")):
        load_file(p, text_fields=("t",), label_field="y", label_space=("pos", "neg"))


def test_empty_label_space_and_bad_suffix(tmp_path, data_fixtures):
    with pytest.raises(DataError, match="empty label set"):
        load_file(data_fixtures / "user.csv", label_space=())
    p = tmp_path / "d.xml"
    p.write_text("<x/>")
    with pytest.raises(DataError, match="unknown file type"):
        load_file(p)
    with pytest.raises(DataError, match="file not found"):
        load_file(tmp_path / "absent.csv")
    with pytest.raises(TaskmixError, match="test_fraction"):
        load_file(data_fixtures / "user.csv", test_fraction=1.5)


def test_from_hf_dataset_pool_and_splits():
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    rows = {"sentence": [f"s{i}" for i in range(20)], "label": [i % 2 for i in range(20)]}
    ds = datasets.Dataset.from_dict(rows, features=features)
    task = from_hf_dataset(ds, text_fields=("sentence",), name="toy", seed=3)
    assert task.label_space == ("negative", "positive")  # from the ClassLabel
    assert (len(task.split("train")), len(task.split("test"))) == (16, 4)
    assert task == from_hf_dataset(ds, text_fields=("sentence",), name="toy", seed=3)

    dd = datasets.DatasetDict({"train": ds, "validation": ds.select(range(5))})
    task2 = from_hf_dataset(dd, text_fields=("sentence",), name="toy2")
    assert task2.split_names == ("train", "test") and len(task2.split("test")) == 5  # validation serves as test


def test_from_hf_dataset_plain_dicts_and_errors():
    rows = [{"q": f"q{i}", "a": "yes" if i % 3 else "no"} for i in range(9)]
    task = from_hf_dataset({"train": rows[:6], "test": rows[6:]}, text_fields=("q",), label_field="a")
    assert task.label_space == ("no", "yes") and len(task.split("test")) == 3
    with pytest.raises(DataError, match="row 1 has no usable label"):
        from_hf_dataset([{"q": "a", "a": "x"}, {"q": "b"}], text_fields=("q",), label_field="a")
    with pytest.raises(DataError, match="no field 'q'"):
        from_hf_dataset([{"a": "x"}], text_fields=("q",), label_field="a")
