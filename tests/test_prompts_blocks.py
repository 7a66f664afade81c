"""Demonstration blocks: fresh exemplars (G=1), blocks of G, one shared block (G >= n)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskmix.errors import ConfigError, TaskmixError
from taskmix.evaluation.config import EvalConfig
from taskmix.prompts.builder import DemoProtocol, PromptOptions, build_prompt, build_prompts
from taskmix.prompts.compose import input_key
from taskmix.records import Example, Split, Task
from tests.plugins.eval import make_classification_task

TASK = make_classification_task("toy", n_train=30, n_test=23)
QUERIES = TASK.split("test")


@pytest.mark.parametrize("setting", ["instr_labels", "noinstr_symbols", "flipped"])
def test_block_size_one_is_fresh_exemplars_byte_for_byte(setting):
    blocks = build_prompts(TASK, QUERIES, setting, PromptOptions(k=2, block_size=1), seed=4)
    assert blocks == build_prompts(TASK, QUERIES, setting, PromptOptions(k=2), seed=4)
    assert blocks == tuple(build_prompt(TASK, q, setting, PromptOptions(k=2), seed=4) for q in QUERIES)
    assert all(p.prefix == "" and p.demo_set == f"q:{p.example_uid}" for p in blocks)


@pytest.mark.parametrize("size", [len(QUERIES), len(QUERIES) + 7])
def test_block_size_at_least_n_is_shared_demos(size):
    shared = build_prompts(TASK, QUERIES, "noinstr_symbols", PromptOptions(k=2, shared_demos=True), seed=1)
    assert build_prompts(TASK, QUERIES, "noinstr_symbols", PromptOptions(k=2, block_size=size), seed=1) == shared
    assert build_prompts(TASK, QUERIES, "noinstr_symbols", PromptOptions(k=2, block_size=None), seed=1) == shared
    assert len({p.prefix for p in shared}) == 1 and {p.demo_set for p in shared} == {"shared"}


def test_blocks_of_g_share_one_set_each_and_settings_stay_paired():
    prompts = build_prompts(TASK, QUERIES, "instr_labels", PromptOptions(k=2, block_size=5), seed=0)
    by_set: dict[str, list] = {}
    for p in prompts:
        by_set.setdefault(p.demo_set, []).append(p)
    assert sorted(len(v) for v in by_set.values()) == [3, 5, 5, 5, 5]  # 23 queries in blocks of 5
    for members in by_set.values():
        assert len({m.prefix for m in members}) == 1 and members[0].prefix
        assert len({m.exemplar_uids for m in members}) == 1
    assert sorted(p.example_uid for p in prompts) == sorted(q.uid for q in QUERIES)
    # the same blocks and exemplars in another setting of the same seed
    other = build_prompts(TASK, QUERIES, "noinstr_labels", PromptOptions(k=2, block_size=5), seed=0)
    assert [(p.example_uid, p.demo_set, p.exemplar_uids) for p in other] == \
        [(p.example_uid, p.demo_set, p.exemplar_uids) for p in prompts]
    # another seed deals other blocks
    reseeded = build_prompts(TASK, QUERIES, "instr_labels", PromptOptions(k=2, block_size=5), seed=1)
    assert [p.demo_set for p in reseeded] != [p.demo_set for p in prompts]


def _task_with_copies(n_train: int, n_test: int, copies: int) -> Task:
    """Test inputs repeat training inputs (other uids, same text up to case and spaces)."""
    base = make_classification_task("dup", n_train=n_train, n_test=n_test)
    train = list(base.split("train"))
    test = list(base.split("test"))
    for i in range(min(copies, len(test))):
        src = train[(7 * i) % len(train)]
        test[i] = Example(test[i].uid, (("text", "  " + src.get("text").upper() + " "),), label=test[i].label)
    return Task(base.name, base.source, base.instructions, base.input_fields, base.label_space,
                (Split("train", tuple(train)), Split("test", tuple(test))))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), size=st.one_of(st.none(), st.integers(1, 40)), seed=st.integers(0, 10**6),
       copies=st.integers(0, 6))
def test_no_query_is_ever_shown_in_its_own_block(n, size, seed, copies):
    task = _task_with_copies(n_train=40, n_test=n, copies=copies)
    queries = task.split("test")
    train = {e.uid: e for e in task.split("train")}
    prompts = build_prompts(task, queries, "noinstr_labels", PromptOptions(k=2, block_size=size), seed=seed)
    assert sorted(p.example_uid for p in prompts) == sorted(q.uid for q in queries)
    by_uid = {q.uid: q for q in queries}
    members: dict[str, set] = {}
    for p in prompts:
        members.setdefault(p.demo_set, set()).add(p.example_uid)
    for p in prompts:
        block_keys = {input_key(by_uid[u]) for u in members[p.demo_set]}
        for uid in p.exemplar_uids:
            assert uid not in members[p.demo_set]
            assert input_key(train[uid]) not in block_keys
        assert size is None or len(members[p.demo_set]) <= size


def test_leave_one_out_task_splits_a_shared_block_it_cannot_draw():
    task = make_classification_task("loo", n_train=12, n_test=0)
    pool = task.split("train")
    prompts = build_prompts(task, pool, "noinstr_labels", PromptOptions(k=2, shared_demos=True, demo_split="train"))
    assert len(prompts) == 12 and len({p.demo_set for p in prompts}) > 1
    assert all(p.example_uid not in p.exemplar_uids for p in prompts)
    # one query alone can always be served (fresh exemplars), so splitting always ends
    assert {p.demo_set.split(".")[0] for p in prompts} == {"shared"}


def test_a_block_size_below_one_or_beside_shared_demos_is_refused():
    with pytest.raises(TaskmixError, match="block size must be 1 or more"):
        DemoProtocol(0)
    with pytest.raises(TaskmixError, match="conflict"):
        PromptOptions(shared_demos=True, block_size=5)
    with pytest.raises(ConfigError, match="block_size must be at least 1"):
        EvalConfig(model="m", tasks=("t",), block_size=-2)
    with pytest.raises(ConfigError, match="conflict"):
        EvalConfig(model="m", tasks=("t",), block_size=4, shared_demos=True)
    with pytest.raises(ConfigError, match="must not repeat"):
        EvalConfig(model="m", tasks=("t",), seeds=(0, 1, 0))


def test_run_keys_name_the_protocol():
    fresh = EvalConfig(model="m", tasks=("t",), block_size=1)  # the protocol of runs made before blocks
    default = EvalConfig(model="m", tasks=("t",))  # today's default: one shared block
    assert default.effective_block_size is None
    keys = {fresh.run_key(), default.run_key(), EvalConfig(model="m", tasks=("t",), block_size=5).run_key(),
            EvalConfig(model="m", tasks=("t",), block_size=1, seeds=(0, 1)).run_key()}
    assert len(keys) == 4
