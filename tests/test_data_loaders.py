"""The format parsers and task building on tiny hand-written fixtures (good and malformed)."""

from __future__ import annotations

import pytest

from taskmix.errors import DataError
from taskmix.loaders import common, parsers
from taskmix.loaders.parsers import RawRecord


def test_label_first_cp1252_keeps_nel_inside_line(data_fixtures):
    recs = parsers.parse_label_first(data_fixtures / "label_first_cp1252.all", "cp1252")
    assert [r.label for r in recs] == ["0", "1", "1"]
    assert [r.line for r in recs] == [1, 2, 4]  # blank line 3 skipped, \x85 is not a line break
    assert recs[1].fields == (("sentence", "the plot follows a young boy named sam \u2026 who saves a town ."),)
    assert recs[2].fields[0][1] == "caf\u00e9 owners meet ."


def test_label_first_rejects_non_utf8_when_utf8_expected(data_fixtures):
    with pytest.raises(DataError) as e:
        parsers.parse_label_first(data_fixtures / "label_first_cp1252.all")
    assert str(e.value).startswith(f"{data_fixtures / 'label_first_cp1252.all'}:2: not valid utf-8")


def test_label_first_missing_text(tmp_path):
    p = tmp_path / "x.all"
    p.write_text("0 fine\n1\n")
    with pytest.raises(DataError, match=r"x.all:2: expected '<label> <text>'"):
        parsers.parse_label_first(p)


def test_parallel_and_mapping(data_fixtures):
    recs = parsers.parse_parallel(data_fixtures / "tweets_text.txt", data_fixtures / "tweets_labels.txt")
    assert [(r.fields[0][1], r.label) for r in recs] == [("good movie", "1"), ("bad movie", "0"), ("okay movie", "2")]
    assert parsers.parse_mapping(data_fixtures / "mapping.txt") == (("0", "negative"), ("1", "neutral"), ("2", "positive"))


def test_label_file_shorter_than_text_file(data_fixtures):
    with pytest.raises(DataError) as e:
        parsers.parse_parallel(data_fixtures / "tweets_text.txt", data_fixtures / "tweets_labels_short.txt")
    msg = str(e.value)
    assert "tweets_labels_short.txt" in msg and "2 labels" in msg and "3 lines" in msg


def test_bad_mapping(tmp_path):
    p = tmp_path / "mapping.txt"
    p.write_text("0\tneg\n1 pos\n")
    with pytest.raises(DataError, match="mapping.txt:2"):
        parsers.parse_mapping(p)
    p.write_text("")
    with pytest.raises(DataError, match="empty label mapping"):
        parsers.parse_mapping(p)


def test_keyed_json(data_fixtures):
    recs = parsers.parse_keyed_json(data_fixtures / "keyed.json", {"text_a": "premise", "text_b": "hypothesis"})
    assert [r.key for r in recs] == ["0", "1", "2"]
    assert recs[0].fields == (("premise", "A man eats."), ("hypothesis", "Someone eats."))
    assert recs[1].label == "contradiction"


def test_keyed_json_missing_label_and_truncated(data_fixtures):
    with pytest.raises(DataError, match="record '1' has no field 'label'"):
        parsers.parse_keyed_json(data_fixtures / "keyed_missing_label.json", {"text_a": "a", "text_b": "b"})
    with pytest.raises(DataError) as e:
        parsers.parse_keyed_json(data_fixtures / "keyed_truncated.json", {"text_a": "a"})
    assert "keyed_truncated.json:3: malformed JSON" in str(e.value)


def test_keyed_json_int_labels_and_wrong_types(tmp_path):
    p = tmp_path / "k.json"
    p.write_text('{"0": {"text_a": "x", "text_b": null, "label": 1}}')
    recs = parsers.parse_keyed_json(p, {"text_a": "s", "text_b": "t"}, optional=("text_b",))
    assert recs[0].label == "1" and recs[0].fields == (("s", "x"),)
    p.write_text('[1, 2]')
    with pytest.raises(DataError, match="expected a JSON object"):
        parsers.parse_keyed_json(p, {"text_a": "s"})
    p.write_text('{"0": {"text_a": ["x"], "label": 1}}')
    with pytest.raises(DataError, match="not text"):
        parsers.parse_keyed_json(p, {"text_a": "s"})


def test_jsonl(data_fixtures):
    recs = parsers.parse_jsonl(data_fixtures / "pairs.jsonl", ["premise", "hypothesis"], "label")
    assert [r.label for r in recs] == ["entailment", "contradiction"]
    with pytest.raises(DataError, match=r"pairs_missing_field.jsonl:2: missing field 'hypothesis'"):
        parsers.parse_jsonl(data_fixtures / "pairs_missing_field.jsonl", ["premise", "hypothesis"], "label")
    with pytest.raises(DataError, match=r"pairs_malformed.jsonl:2: malformed JSON"):
        parsers.parse_jsonl(data_fixtures / "pairs_malformed.jsonl", ["premise", "hypothesis"], "label")


def test_csv(data_fixtures):
    recs = parsers.parse_csv(data_fixtures / "user.csv", ["text"], "label")
    assert [r.fields[0][1] for r in recs][:3] == ["I loved it, truly.", "Terrible.", 'Fine, "ok" I guess']
    assert [r.line for r in recs] == [2, 3, 4, 5, 6]
    with pytest.raises(DataError, match="missing column 'review'"):
        parsers.parse_csv(data_fixtures / "user.csv", ["review"], "label")
    with pytest.raises(DataError, match=r"user_nonutf8.csv:3: not valid utf-8"):
        parsers.parse_csv(data_fixtures / "user_nonutf8.csv", ["text"], "label")


def test_csv_ragged_row(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("text,label\na,b\nc,d,e\n")
    with pytest.raises(DataError, match=r"r.csv:3: expected 2 columns, got 3"):
        parsers.parse_csv(p, ["text"], "label")


def test_ade_parsers(data_fixtures, tmp_path):
    pos = parsers.parse_ade_rel(data_fixtures / "ade.rel")
    neg = parsers.parse_ade_neg(data_fixtures / "ade_neg.txt")
    assert len(pos) == 2 and {r.label for r in pos} == {"1"}
    assert len(common.dedupe(pos)) == 1
    assert neg[0].fields == (("sentence", "Clioquinol intoxication occurring in the treatment."),)
    bad = tmp_path / "bad.rel"
    bad.write_text("1|only three|cols\n")
    with pytest.raises(DataError, match="bad.rel:1: expected 8"):
        parsers.parse_ade_rel(bad)
    bad.write_text("123 POS a sentence\n")
    with pytest.raises(DataError, match="bad.rel:1"):
        parsers.parse_ade_neg(bad)


def test_trec_coarse(data_fixtures):
    recs = parsers.parse_trec_coarse(data_fixtures / "trec_coarse.txt")
    assert [(r.label, r.fields[0][1]) for r in recs] == [("DESC", "How did serfdom develop ?"), ("NUM", "How far is it ?")]


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        parsers.read_lines(tmp_path / "absent.txt")
    with pytest.raises(DataError, match="is a folder"):
        parsers.read_lines(tmp_path)


def test_clean_csv_artifacts():
    assert parsers.clean_csv_artifacts('Sales\\\\up \\$18 #39;s ""big"" \\nday &#65533;x') == 'Sales up $18 \'s "big" day \ufffdx'
    assert parsers.clean_csv_artifacts("in\\Eastern") == "in Eastern"
    assert parsers.clean_csv_artifacts("#55296; stays") == "#55296; stays"  # a surrogate is left alone


def _recs(labels, path="f.txt"):
    return tuple(RawRecord((("text", f"t{i}"),), lab, path, i + 1, str(i + 1)) for i, lab in enumerate(labels))


def test_build_task_maps_labels_and_orders_splits():
    task = common.build_task(
        name="t", source="s", instruction="Pick.", label_space=("no", "yes"), label_map={"0": 0, "1": 1},
        splits={"test": _recs(["1", "0"]), "train": _recs(["0", "1", "1"])}, input_fields=("text",),
        category="c", source_dataset="d", license="MIT", provenance=(),
    )
    assert task.split_names == ("train", "test")
    assert [e.label for e in task.split("train")] == [0, 1, 1]
    assert task.split("test")[0].uid == "test/1"


def test_build_task_unknown_and_empty_labels():
    with pytest.raises(DataError, match=r"f.txt:2: unknown label '7'"):
        common.build_task(name="t", source="s", instruction="", label_space=("a",), label_map={"0": 0},
                          splits={"train": _recs(["0", "7"])}, input_fields=("text",), category="", source_dataset="",
                          license="", provenance=())
    with pytest.raises(DataError, match="empty label set"):
        common.build_task(name="t", source="s", instruction="", label_space=(), label_map={},
                          splits={"train": _recs(["0"])}, input_fields=("text",), category="", source_dataset="",
                          license="", provenance=())


def test_seeded_split_is_fixed_and_disjoint():
    pool = _recs([str(i % 2) for i in range(50)])
    a = common.seeded_split(pool, 10, 0, "x")
    b = common.seeded_split(pool, 10, 0, "x")
    c = common.seeded_split(pool, 10, 1, "x")
    assert a == b and a != c
    assert len(a["test"]) == 10 and len(a["train"]) == 40
    assert not {r.key for r in a["test"]} & {r.key for r in a["train"]}
    assert [int(r.key) for r in a["test"]] == sorted(int(r.key) for r in a["test"])  # original order kept
    with pytest.raises(DataError, match="cannot take"):
        common.seeded_split(pool, 50, 0, "x")
