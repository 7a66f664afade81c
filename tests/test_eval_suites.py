"""Suites: the named task lists, their per-task options, and (with the mirror) real tasks."""

from __future__ import annotations

import pytest

from taskmix.evaluation import EvalConfig
from taskmix.evaluation.plan import eval_examples, plan_tasks
from taskmix.evaluation.suites import LIST_FUNCTION_SUBTASKS, SUITES
from taskmix.prompts.builder import PromptOptions, build_prompt
from taskmix.records import Example, Split, Task
from tests.plugins.eval import make_freeform_task

SYMBOL_EVAL = {  # the paper's eleven evaluation datasets and its abbreviations (Wei et al. 2023)
    "subj": "SUBJ", "tweeteval/hate": "TEH", "tweeteval/stance_abortion": "TEAB", "tweeteval/stance_atheism": "TEAT",
    "tweeteval/stance_feminist": "TEFE", "tweeteval/stance_hillary": "TEHI", "ade": "ADEC", "raft/overruling": "OR",
    "raft/semiconductor_org_types": "SOT", "raft/terms_of_service": "TOS", "raft/twitter_complaints": "TC",
}
ICL_DEV = ("tweeteval/emotion", "imdb", "yelp", "amazon", "yahoo")


def test_suite_contents():
    assert {t.name: t.abbreviation for t in SUITES["symbol-eval"]} == SYMBOL_EVAL
    assert tuple(t.name for t in SUITES["symbol-eval"]) == tuple(SYMBOL_EVAL)  # the paper's order
    assert tuple(t.name for t in SUITES["icl-dev"]) == ICL_DEV
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


def test_icl_dev_is_neither_tuning_nor_evaluation(tmp_path):
    from taskmix.catalogue import list_task_names
    from taskmix.mixture.config import DEFAULT_TASKS

    assert not set(ICL_DEV) & set(DEFAULT_TASKS) and not set(ICL_DEV) & set(SYMBOL_EVAL)
    known = set(list_task_names("classic", tmp_path)) | set(list_task_names("tweeteval", tmp_path))
    assert set(ICL_DEV) <= known


def test_symbol_eval_tasks_load_and_give_prompts(mirror):
    from taskmix.catalogue import load_task

    for name in SYMBOL_EVAL:
        task = load_task(name)
        assert task.is_classification and task.instruction, name
        assert task.has_split("train"), name
        examples = eval_examples(task, EvalConfig(model="m", tasks=(name,), max_examples=100))
        assert len(examples) == (50 if name.startswith("raft/") else 100), name
        ex = examples[0]
        for setting in ("instr_labels", "noinstr_symbols"):
            p = build_prompt(task, ex, setting, PromptOptions(k=4))
            assert len(p.exemplar_uids) == 4 * len(task.label_space)
            assert ex.uid not in p.exemplar_uids


@pytest.mark.parametrize("name", [n for n in SYMBOL_EVAL if n.startswith("raft/")] + ["ade", "raft/ade_corpus_v2"])
def test_symbol_eval_tasks_are_refused_as_tuning_tasks(name, tmp_path, capsys):
    from taskmix.cli import main

    code = main(["build", "symbol", "--tasks", "sst2", name, "--out", str(tmp_path / "mix")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code != 0 and len(err) == 1 and f"{name!r} is held out for evaluation" in err[0]
    assert not (tmp_path / "mix").exists()
