"""Leave-one-out evaluation of a task with one labelled split (RAFT's 50 examples): every
example is a query, its exemplars come from the other examples, never one with its uid or
its input text."""

from __future__ import annotations

import pytest

from taskmix.errors import TaskmixError
from taskmix.evaluation import EvalConfig, run_eval
from taskmix.evaluation.plan import build_prompt_sets, eval_examples, plan_tasks
from taskmix.prompts.builder import SETTING_NAMES, input_key
from taskmix.records import Example, Split, Task
from tests.plugins.eval import FakeModel

N = 50
POSITIVE = (1, 3, 5, 7, 10, 11)


def fifty(name: str = "raft/toy", marker: bool = True) -> Task:
    """50 labelled examples in one ``train`` split, 6 of them positive; positives 10 and 11
    have the same input text up to case and spaces, so with k=4 a query's twin would be
    drawn unless exemplars are excluded by text, not only by uid."""
    def text(i: int) -> str:
        if i == 11:
            return "ITEM10  x IS good"
        return f"item{i:02d} x is {'good' if i in POSITIVE else 'bad'}"

    exs = tuple(Example(f"train/{i}", (("sentence", text(i)),), label=int(i in POSITIVE)) for i in range(N))
    return Task(name, "test", ("Is it good?",), ("sentence",), ("negative", "positive"), (Split("train", exs),),
                metadata=(("eval_split", "train"),) if marker else ())


def config(**kw) -> EvalConfig:
    base = dict(model="m", tasks=("raft/toy",), out="unused", k=4, max_examples=N, progress=False)
    return EvalConfig(**{**base, **kw})


@pytest.mark.parametrize("max_examples", [N, N + 30, None])
def test_all_fifty_are_queries_when_max_examples_reaches_fifty(max_examples):
    task = fifty()
    assert eval_examples(task, config(max_examples=max_examples)) == task.split("train")


def test_fewer_queries_are_a_seeded_sample_of_the_split():
    task = fifty()
    got = eval_examples(task, config(max_examples=20))
    assert len(got) == 20 and set(got) <= set(task.split("train"))


def test_without_the_marker_a_train_only_task_cannot_be_evaluated():
    with pytest.raises(TaskmixError, match="has no 'test' or 'validation' split"):
        eval_examples(fifty(marker=False), config())


def test_every_query_s_exemplars_exclude_it_by_uid_and_text():
    task = fifty()
    cfg = config(settings=("all",))
    planned = plan_tasks(cfg, loader=lambda name: task)
    work = [(pt, eval_examples(pt.task, cfg)) for pt in planned]
    sets = build_prompt_sets(work, cfg, None, None)
    assert {s for _, s, _ in sets} == set(SETTING_NAMES)
    by_uid = {e.uid: e for e in task.split("train")}
    for _, setting, prompts in sets:
        assert sorted(p.example_uid for p in prompts) == sorted(by_uid)
        for p in prompts:
            query = by_uid[p.example_uid]
            assert len(p.exemplar_uids) == 8, (setting, p.example_uid)
            assert query.uid not in p.exemplar_uids
            assert input_key(query) not in {input_key(by_uid[u]) for u in p.exemplar_uids}
    twins = {"train/10", "train/11"}
    shown = [set(p.exemplar_uids) for _, _, prompts in sets for p in prompts if p.example_uid in twins]
    assert not any(s & twins for s in shown)  # neither twin is an exemplar of the other


def test_run_eval_scores_all_fifty_once_per_setting():
    task = fifty()
    model = FakeModel()
    run = run_eval(config(settings=("noinstr_labels", "flipped")), model=model, loader=lambda name: task, write=False)
    assert [(s.setting, s.n) for s in run.scores] == [("noinstr_labels", N), ("flipped", N)]
    for setting in ("noinstr_labels", "flipped"):
        assert sorted(p.example_uid for p in run.predictions if p.setting == setting) == sorted(e.uid for e in task.split("train"))
    texts = [e.texts[0] for e in task.split("train")]
    queries = set()
    for context in {r.context for r in model.calls}:
        query = max(texts, key=context.rfind)  # the text shown last is the query's
        assert context.count(query) == 1  # shown once: as the query, never as an exemplar
        queries.add(query)
    assert queries == set(texts)


def test_real_raft_tasks_leave_one_out(mirror_data_root):
    from taskmix.catalogue import load_task

    names = ("raft/overruling", "raft/semiconductor_org_types", "raft/terms_of_service", "raft/twitter_complaints")
    cfg = EvalConfig(model="m", tasks=names, out="unused", k=4, max_examples=100, settings=("noinstr_symbols",))
    planned = plan_tasks(cfg, loader=lambda name: load_task(name, mirror_data_root))
    work = [(pt, eval_examples(pt.task, cfg)) for pt in planned]
    for pt, _, prompts in build_prompt_sets(work, cfg, None, None):
        train = {e.uid: e for e in pt.task.split("train")}
        assert len(prompts) == 50 and {p.example_uid for p in prompts} == set(train)
        for p in prompts:
            assert p.example_uid not in p.exemplar_uids
            assert input_key(train[p.example_uid]) not in {input_key(train[u]) for u in p.exemplar_uids}
            assert len(p.exemplar_uids) == 4 * len(pt.task.label_space)
