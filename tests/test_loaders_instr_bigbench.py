"""BIG-Bench and BBH loaders against the offline mirror, plus the shared split helper."""

from __future__ import annotations

import json

import pytest

from taskmix.errors import DataError, TaskmixError
from taskmix.loaders import bbh, bigbench
from taskmix.loaders.instr_common import seeded_train_test
from taskmix.records import Example


def test_list_functions_subtasks_and_simp_turing_concept_names(mirror):
    names = set(bigbench.task_names(mirror))
    assert {f"bigbench/list_functions/c{i:03d}" for i in range(1, 251)} <= names
    assert "bigbench/simp_turing_concept" in names
    assert "bigbench/simp_turing_concept/witness_set" in names


def test_list_function_subtask_is_free_form_with_instructions(mirror):
    t = bigbench.load("bigbench/list_functions/c001", mirror)
    assert t.label_space is None
    assert t.instructions[0].startswith("Infer and compute a function over lists")
    assert t.instructions[1].startswith("Apply a function to the final input list")
    examples = list(t.iter_examples())
    assert len(examples) == 32  # the c001 task.json holds 32 examples
    assert len(t.split("train")) == 8 and len(t.split("test")) == 24
    first = min(examples, key=lambda e: int(e.uid.rsplit(":", 1)[1]))
    assert first.get("input") == "[3, 4, 1, 5, 2, 0, 8, 6, 9]" and first.target == "[1]"


def test_simp_turing_concept_parent_is_union_of_subtasks(mirror):
    parent = bigbench.load("bigbench/simp_turing_concept", mirror)
    assert sum(len(s) for s in parent.splits) == 3 * 2130
    child = bigbench.load("bigbench/simp_turing_concept/witness_set", mirror)
    assert set(child.split("test")) <= set(parent.split("test"))


def test_target_scores_become_label_space(mirror):
    t = bigbench.load("bigbench/navigate", mirror)
    assert t.label_space == ("True", "False")
    ex = list(t.iter_examples())
    assert all(e.label in (0, 1) for e in ex)


def test_splits_are_fixed_and_disjoint(mirror):
    a = bigbench.load("bigbench/list_functions/c010", mirror)
    b = bigbench.load("bigbench/list_functions/c010", mirror)
    assert a == b
    assert not {e.uid for e in a.split("train")} & {e.uid for e in a.split("test")}


def test_seeded_train_test_hand_values():
    ex = [Example(f"u{i}", (("input", str(i)),), target=str(i)) for i in range(8)]
    train, test = seeded_train_test(ex, "t")
    assert len(train) == 2 and len(test) == 6
    assert seeded_train_test(ex, "t") == (train, test)
    assert seeded_train_test([], "t")[0].examples == ()
    one = seeded_train_test(ex[:1], "t")
    assert len(one[0]) == 0 and len(one[1]) == 1


def test_malformed_task_json_names_file_and_line(tmp_path):
    base = tmp_path / bigbench.BASE / "broken"
    base.mkdir(parents=True)
    (base / "task.json").write_text('{"name": "broken",\n "examples": [,]}')
    with pytest.raises(DataError, match=r"task.json:2: invalid JSON"):
        bigbench.load("bigbench/broken", tmp_path)


def test_example_without_target_is_data_error(tmp_path):
    base = tmp_path / bigbench.BASE / "notarget"
    base.mkdir(parents=True)
    (base / "task.json").write_text(json.dumps({"description": "d", "examples": [{"input": "x"}]}))
    with pytest.raises(DataError, match="neither 'target' nor 'target_scores'"):
        bigbench.load("bigbench/notarget", tmp_path)
    with pytest.raises(TaskmixError, match="unknown BIG-Bench task"):
        bigbench.load("bigbench/nope", tmp_path)


def test_bbh_has_27_tasks_and_6511_examples(mirror):
    names = bbh.task_names(mirror)
    assert len(names) == 27
    tasks = [bbh.load(n, mirror) for n in names]
    assert sum(sum(len(s) for s in t.splits) for t in tasks) == 6511
    nav = bbh.load("bbh/navigate", mirror)
    assert nav.instructions == (
        "Given a series of navigation instructions, determine whether one would end up back at the starting point.",
    )
    assert len(nav.split("train")) == 25 and len(nav.split("test")) == 225


def test_bbh_instruction_parser():
    text = "BENCHMARK DATA SHOULD NEVER APPEAR\n-----\nTask description: Answer questions.\n\nQ: x\n"
    assert bbh.parse_instruction(text) == "Answer questions."
    with pytest.raises(DataError, match="no instruction line"):
        bbh.parse_instruction("-----\n\n")
