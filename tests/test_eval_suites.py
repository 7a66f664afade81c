"""Suites: the named task lists, their per-task options, and (with the mirror) real tasks."""

from __future__ import annotations

from taskmix.evaluation import EvalConfig
from taskmix.evaluation.runner import eval_examples, plan_tasks
from taskmix.evaluation.suites import LIST_FUNCTION_SUBTASKS, SUITES
from taskmix.prompts.builder import PromptOptions, build_prompt
from taskmix.records import Example, Split, Task
from tests.plugins.eval import make_freeform_task

SYMBOL_EVAL = ("subj", "tweeteval/emotion", "tweeteval/hate", "tweeteval/stance_abortion",
               "tweeteval/stance_atheism", "tweeteval/stance_feminist", "tweeteval/stance_hillary", "ade")


def test_suite_contents():
    assert tuple(t.name for t in SUITES["symbol-eval"]) == SYMBOL_EVAL
    algo = SUITES["algorithmic"]
    assert len(LIST_FUNCTION_SUBTASKS) == 20 and LIST_FUNCTION_SUBTASKS[0] == "c001"
    assert [t.name for t in algo][-1] == "bigbench/simp_turing_concept"
    assert all(t.settings == ("noinstr_labels",) for t in algo)


def turing_like() -> Task:
    exs = tuple(Example(f"t{i}", (("input", f"Input: '1'\nOutput: '0'\n\nInput: '{i}'\nOutput:"),), target=f"'{i}'")
                for i in range(6))
    return Task("bigbench/simp_turing_concept", "bigbench", ("desc",), ("input",), None,
                (Split("train", exs[:3]), Split("test", exs[3:])))


def test_algorithmic_plan_uses_per_task_options():
    tasks = {f"bigbench/list_functions/{s}": make_freeform_task(f"bigbench/list_functions/{s}")
             for s in LIST_FUNCTION_SUBTASKS}
    tasks["bigbench/simp_turing_concept"] = turing_like()
    cfg = EvalConfig(model="m", suite="algorithmic", out="x", k=8)
    plan = plan_tasks(cfg, loader=tasks.__getitem__)
    assert len(plan) == 21
    assert plan[0].options.k == 4 and plan[0].settings == ("noinstr_labels",)
    turing = plan[-1]
    assert turing.options.k == 0 and turing.options.format == "raw"
    ex = eval_examples(turing.task, cfg)[0]
    p = build_prompt(turing.task, ex, "noinstr_labels", turing.options)
    assert p.text == ex.texts[0] and p.exemplar_uids == () and p.target == "'3'"


def test_explicit_settings_override_suite_defaults():
    tasks = {f"bigbench/list_functions/{s}": make_freeform_task(s) for s in LIST_FUNCTION_SUBTASKS}
    tasks["bigbench/simp_turing_concept"] = turing_like()
    cfg = EvalConfig(model="m", suite="algorithmic", out="x", settings=("instr_labels", "flipped"))
    plan = plan_tasks(cfg, loader=tasks.__getitem__)
    assert plan[0].settings == ("instr_labels",) and plan[0].skipped == ("flipped",)


def test_eval_examples_are_a_seeded_sample_in_original_order():
    task = make_freeform_task(n=30)
    a = eval_examples(task, EvalConfig(model="m", tasks=("t",), max_examples=7, seed=1))
    b = eval_examples(task, EvalConfig(model="m", tasks=("t",), max_examples=7, seed=1))
    c = eval_examples(task, EvalConfig(model="m", tasks=("t",), max_examples=7, seed=2))
    assert a == b != c and len(a) == 7
    order = [e.uid for e in task.split("test")]
    assert [order.index(e.uid) for e in a] == sorted(order.index(e.uid) for e in a)


def test_symbol_eval_tasks_load_and_give_prompts(mirror):
    from taskmix.catalogue import load_task

    for name in SYMBOL_EVAL:
        task = load_task(name)
        assert task.is_classification and task.instruction, name
        assert task.has_split("train") and task.has_split("test"), name
        ex = task.split("test")[0]
        for setting in ("instr_labels", "noinstr_symbols"):
            p = build_prompt(task, ex, setting, PromptOptions(k=4))
            assert len(p.exemplar_uids) == 4 * len(task.label_space)
            assert ex.uid not in p.exemplar_uids
