"""INSTA's controls (random draws with recorded replacements, the whole pool at equal budget)
and the tuning pool's bad inputs, on hand-made tasks."""

from __future__ import annotations

import pytest

from taskmix.errors import TaskmixError
from taskmix.records import Split, Task
from taskmix.selection.controls import Replacement, draw_order, equal_budget_cap, random_draw
from taskmix.selection.tuning_pool import select_tuning

NAMES = ("t_a", "t_b", "t_c", "t_d", "t_e", "t_f")


def test_draw_order_is_seeded_and_independent_of_the_candidates_order():
    assert draw_order(NAMES, 0, 0) == draw_order(tuple(reversed(NAMES)), 0, 0)
    assert sorted(draw_order(NAMES, 0, 0)) == sorted(NAMES)
    orders = {tuple(draw_order(NAMES, 0, d)) for d in range(3)}
    assert len(orders) == 3  # three draws of one seed differ
    assert draw_order(NAMES, 0, 1, key="cb") != draw_order(NAMES, 0, 1, key="rte")


def test_random_draw_takes_the_first_k_of_the_permutation():
    d = random_draw(NAMES, 3, seed=4, draw=2)
    assert d.tasks == tuple(draw_order(NAMES, 4, 2)[:3]) and d.replaced == ()


def test_a_task_that_cannot_be_built_is_replaced_by_the_next_of_the_same_draw():
    order = draw_order(NAMES, 0, 0)
    bad = {order[1]: "yields no prompt within max_length 64", order[3]: "too long as well"}
    d = random_draw(NAMES, 3, seed=0, draw=0, problem=bad.get)
    # order[1] fails; the spares are order[3:]: order[3] fails too, order[4] takes the slot
    assert d.tasks == (order[0], order[4], order[2])
    assert d.replaced == (Replacement(order[1], "yields no prompt within max_length 64", order[4]),
                          Replacement(order[3], "too long as well", order[4]))


def test_a_draw_with_too_few_buildable_tasks_is_an_error():
    with pytest.raises(TaskmixError, match="only 1 of the 6 candidates can be built"):
        random_draw(NAMES, 2, seed=0, problem=lambda n: None if n == "t_a" else "no prompt fits")
    with pytest.raises(TaskmixError, match="k 7 is larger than the 6 candidates"):
        random_draw(NAMES, 7, seed=0)


@pytest.mark.parametrize("cap, k, n, expected", [(160, 3, 14, 35), (160, 3, 15, 32), (160, 3, 3, 160), (10, 3, 4, 8)])
def test_equal_budget_cap(cap, k, n, expected):
    assert equal_budget_cap(cap, k, n) == expected
    assert n * expected >= k * cap > n * (expected - 1)  # at least the budget, less than one prompt per task over


def _task(name: str, instruction: str = "Classify it.", source: str | None = None) -> Task:
    return Task(name=name, source="test", instructions=(instruction,) if instruction else (), input_fields=("text",),
                label_space=("no", "yes"), splits=(Split("train", ()),), source_dataset=source or f"src-{name}")


def _loader(tasks: dict[str, Task]):
    def load(name, root):
        return tasks[name]
    return load


TASKS = {n: _task(n) for n in (*NAMES, "target")}
TASKS["t_f"] = _task("t_f", source="src-target")  # shares the target's source dataset


def _select(candidates, k, method, **kw):
    kw.setdefault("root", "unused")
    kw.setdefault("load", _loader(TASKS))
    return select_tuning(candidates, k, method, target="target", **kw)


def test_random_selection_records_its_pool_exclusions_and_replacements():
    s = _select(NAMES, 2, "random", seed=1, draw=0, problem=lambda n: "no prompt fits" if n == "t_b" else None)
    assert s.excluded == ("t_f",) and s.pool == NAMES[:5]
    assert len(s.tasks) == 2 and "t_b" not in {t.name for t in s.tasks} and "t_f" not in {t.name for t in s.tasks}
    assert [t.rank for t in s.tasks] == [1, 2]
    assert all(r.task == "t_b" and r.replaced_by in {t.name for t in s.tasks} for r in s.replaced)
    again = _select(NAMES, 2, "random", seed=1, draw=0, problem=lambda n: "no prompt fits" if n == "t_b" else None)
    assert again == s


def test_all_keeps_every_buildable_task_and_records_the_others():
    s = _select(NAMES, 3, "all", problem=lambda n: "no prompt fits" if n == "t_c" else None)
    assert [t.name for t in s.tasks] == ["t_a", "t_b", "t_d", "t_e"]
    assert s.replaced == (Replacement("t_c", "no prompt fits", None),)


@pytest.mark.parametrize("method", ["insta", "random", "all"])
def test_target_in_its_own_pool_is_an_error(method):
    with pytest.raises(TaskmixError, match="target 'target' is in the pool it is selected from"):
        _select((*NAMES, "target"), 2, method)


@pytest.mark.parametrize("method", ["insta", "random", "all"])
def test_k_larger_than_the_pool_is_an_error(method):
    with pytest.raises(TaskmixError, match=r"k 6 is larger than the 5 tasks of the tuning pool \(1 left out"):
        _select(NAMES, 6, method)


def test_pool_without_instructions_is_an_error_for_insta():
    bare = {**TASKS, "t_a": _task("t_a", instruction=""), "t_b": _task("t_b", instruction="")}
    with pytest.raises(TaskmixError, match=r"t_a, t_b have no instruction .*\(with_templates is off\); turn with_templates on"):
        _select(NAMES[:4], 2, "insta", with_templates=False, load=_loader(bare))
    # the controls need no instruction
    assert len(_select(NAMES[:4], 2, "random", with_templates=False, load=_loader(bare)).tasks) == 2


def test_unknown_method():
    with pytest.raises(TaskmixError, match="unknown selection method 'best'"):
        _select(NAMES, 2, "best")


def test_insta_query_is_built_like_a_candidate(mirror, minilm_path):
    from taskmix.catalogue import load_task
    from taskmix.mixture.config import DEFAULT_TASKS
    from taskmix.selection.tuning_pool import tuning_entry

    cb = load_task("cb", mirror)
    assert tuning_entry(cb, mirror, with_templates=False).instructions == cb.instructions
    with_templates = tuning_entry(cb, mirror).instructions
    assert len(with_templates) > len(cb.instructions) and with_templates[0] == cb.instructions[0]
    pool = tuple(t for t in DEFAULT_TASKS if t != "cb")
    s = select_tuning(pool, 3, "insta", target="cb", encoder=str(minilm_path), root=mirror)
    assert len(s.tasks) == 3 and [t.rank for t in s.tasks] == [1, 2, 3] and "cb" not in {t.name for t in s.tasks}
    assert [t.score for t in s.tasks] == sorted((t.score for t in s.tasks), reverse=True)
