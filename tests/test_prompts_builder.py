"""Prompt formats and the prompt builder: hand-checked renderings and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskmix.errors import TaskmixError
from taskmix.prompts.builder import (
    SETTING_NAMES,
    PromptOptions,
    build_prompt,
    build_prompts,
    setting_applies,
)
from taskmix.prompts.formats import FORMAT_NAMES, FORMATS, get_format
from taskmix.records import Example, Split, Task
from taskmix.symbols import symbol_pool
from tests.plugins.eval import make_classification_task, make_freeform_task

EVAL_SYMBOLS = frozenset(symbol_pool("eval"))


def test_at_least_ten_formats_with_unique_names():
    assert len(FORMATS) >= 10
    assert len(set(FORMAT_NAMES)) == len(FORMAT_NAMES)
    with pytest.raises(TaskmixError, match="unknown prompt format"):
        get_format("nope")


def test_format_renders_single_and_multi_field_inputs():
    fmt = get_format("input_output")
    assert fmt.render_example((("text", " hi there "),), "yes") == "Input: hi there\nOutput: yes"
    assert fmt.render_query((("premise", "A"), ("hypothesis", "B"))) == "Input:\nPremise: A\nHypothesis: B\nOutput:"
    inline = get_format("input_output_inline")
    assert inline.render_query((("text", "x"),)) == "Input: x Output:"


def test_fixed_format_prompt_is_exactly_as_expected():
    task = make_classification_task(n_train=4, n_test=2)
    p = build_prompt(task, task.split("test")[0], "instr_labels", PromptOptions(k=1, format="q_a"), seed=0)
    assert p.format_name == "q_a"
    assert p.text.startswith("Is the sentence positive or negative?\n\nQ: train text ")
    assert p.text.endswith("\n\nQ: test text 0 is bad\nA:")
    assert p.text.count("\nA: ") == 2
    assert p.candidates == (" negative", " positive") and p.answer == 0
    assert len(p.exemplar_uids) == 2 and p.dropped_exemplars == 0
    shown = {line[3:] for line in p.text.splitlines() if line.startswith("A: ")}
    assert shown == {"negative", "positive"}


def test_instruction_only_in_instr_settings():
    task = make_classification_task()
    ex = task.split("test")[1]
    for name in SETTING_NAMES:
        p = build_prompt(task, ex, name, seed=1)
        assert (task.instruction in p.text) == name.startswith("instr_"), name


def test_k_larger_than_class_is_an_error_naming_task_and_class():
    task = make_classification_task(n_train=6)  # 3 per class
    with pytest.raises(TaskmixError, match=r"task 'toy'.*class 'negative'"):
        build_prompt(task, task.split("test")[0], "instr_labels", PromptOptions(k=4))


def test_exemplar_with_identical_text_is_never_used():
    task = make_classification_task(n_train=4, n_test=1)
    train = task.split("train")
    query = Example("q", train[0].fields, label=train[0].label)  # same text, other uid
    t2 = Task(task.name, "test", task.instructions, task.input_fields, task.label_space,
              (Split("train", train), Split("test", (query,))))
    with pytest.raises(TaskmixError, match="only 1 usable"):
        build_prompt(t2, query, "noinstr_labels", PromptOptions(k=2))
    p = build_prompt(t2, query, "noinstr_labels", PromptOptions(k=1))
    assert train[0].uid not in p.exemplar_uids


def test_flipped_needs_binary_and_freeform_only_label_settings():
    three = make_classification_task(labels=("a", "b", "c"))
    assert not setting_applies(three, "flipped") and setting_applies(three, "noinstr_symbols")
    with pytest.raises(TaskmixError, match="does not apply"):
        build_prompt(three, three.split("test")[0], "flipped")
    free = make_freeform_task()
    assert [s for s in SETTING_NAMES if setting_applies(free, s)] == ["instr_labels", "noinstr_labels"]
    p = build_prompt(free, free.split("test")[0], "noinstr_labels", PromptOptions(k=4, format="input_output"))
    assert p.target == "[102, 101, 100]" and p.candidates == () and len(p.exemplar_uids) == 4
    assert p.text.endswith("Input: [100, 101, 102]\nOutput:")


def test_context_budget_drops_exemplars_evenly_and_never_cuts_the_query():
    task = make_classification_task()
    ex = task.split("test")[0]

    def words(text: str) -> int:
        return len(text.split())

    full = build_prompt(task, ex, "instr_labels", PromptOptions(k=4, format="input_output"))
    assert words(full.text) > 40
    p = build_prompt(task, ex, "instr_labels", PromptOptions(k=4, format="input_output", max_tokens=40), count_tokens=words)
    assert words(p.text) + 1 <= 40 and p.dropped_exemplars > 0
    assert p.text.endswith(full.text[-30:])  # the query is whole
    labels = [int(uid.split("-")[-1]) % 2 for uid in p.exemplar_uids]
    assert abs(labels.count(0) - labels.count(1)) <= 1
    with pytest.raises(TaskmixError, match="does not fit"):
        build_prompt(task, ex, "instr_labels", PromptOptions(k=4, max_tokens=12), count_tokens=words)


def test_shared_demos_reuse_one_block_without_any_query():
    task = make_classification_task(n_train=30, n_test=8)
    queries = task.split("test")
    prompts = build_prompts(task, queries, "noinstr_symbols", PromptOptions(k=2, shared_demos=True), seed=3)
    assert len({p.prefix for p in prompts}) == 1 and prompts[0].prefix
    assert len({p.label_map for p in prompts}) == 1
    for p in prompts:
        assert p.text.startswith(p.prefix)
        assert not set(p.exemplar_uids) & {q.uid for q in queries}
    fresh = build_prompts(task, queries, "noinstr_symbols", PromptOptions(k=2), seed=3)
    assert len({p.label_map for p in fresh}) > 1 and all(p.prefix == "" for p in fresh)


# ---- properties -------------------------------------------------------------------

task_params = st.tuples(
    st.integers(2, 4),  # classes
    st.integers(1, 3),  # k
    st.integers(0, 2**32),  # seed
    st.sampled_from(SETTING_NAMES),
    st.sampled_from(FORMAT_NAMES + ("random",)),
    st.integers(0, 5),  # which example
    st.integers(1, 2),  # fields
)


@settings(max_examples=60, deadline=None)
@given(task_params)
def test_prompt_properties(params):
    n_classes, k, seed, setting, fmt, which, n_fields = params
    labels = ("alpha", "beta", "gamma", "delta")[:n_classes]
    fields = ("premise", "hypothesis")[:n_fields]
    task = make_classification_task(n_train=4 * n_classes, n_test=6, labels=labels, fields=fields)
    ex = task.split("test")[which]
    if not setting_applies(task, setting):
        assert setting == "flipped" and n_classes > 2
        return
    options = PromptOptions(k=k, format=fmt)
    p = build_prompt(task, ex, setting, options, seed=seed)
    # same seed -> byte-identical prompt
    assert build_prompt(task, ex, setting, options, seed=seed) == p
    # the evaluated example is never among its exemplars
    assert ex.uid not in p.exemplar_uids
    assert len(p.exemplar_uids) == k * n_classes
    # every exemplar's shown label is consistent with the mapping
    mapping = dict(p.label_map)
    assert [m for m in mapping] == list(labels)
    train = {e.uid: e for e in task.split("train")}
    for uid in p.exemplar_uids:
        shown = mapping[labels[train[uid].label]]
        assert f" {shown}" in p.text
    if "symbols" in setting:
        assert set(mapping.values()) <= EVAL_SYMBOLS and len(set(mapping.values())) == n_classes
        assert p.candidates == tuple(" " + mapping[lab] for lab in labels)
        assert p.answer == ex.label
    elif setting == "flipped":
        assert mapping == {labels[0]: labels[1], labels[1]: labels[0]}
        assert p.candidates == (" " + labels[0], " " + labels[1])
        assert p.answer == 1 - ex.label
    else:
        assert mapping == {lab: lab for lab in labels} and p.answer == ex.label
    assert p.text.endswith(get_format(p.format_name).output_prefix)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(FORMAT_NAMES))
def test_each_exemplar_line_carries_its_mapped_label(seed, fmt_name):
    task = make_classification_task(n_train=12, labels=("negative", "positive"))
    ex = task.split("test")[0]
    p = build_prompt(task, ex, "noinstr_symbols", PromptOptions(k=3, format=fmt_name), seed=seed)
    fmt = get_format(fmt_name)
    mapping = dict(p.label_map)
    train = {e.uid: e for e in task.split("train")}
    blocks = p.text.split(fmt.example_sep)
    assert len(blocks) == len(p.exemplar_uids) + 1
    for block, uid in zip(blocks, p.exemplar_uids):
        e = train[uid]
        assert block == fmt.render_example(e.fields, mapping[task.label_space[e.label]])
