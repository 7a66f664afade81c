"""The one composer: segments against hand-computed spans, fit strategies, draw rules."""

from __future__ import annotations

import random

import pytest

from taskmix.prompts.compose import (
    DemoRecipe, DemoSet, DrawStreams, DropFromFullest, DropOneFromEveryClass, ExemplarPool, KeepAll, NotEnoughExemplars, ShrinkEveryClass,
    TokenCounter, compose, draw_demo_set, exclusions,
)
from taskmix.prompts.formats import get_format
from taskmix.records import Example, Split, Task

TRAIN = (
    Example("a", (("text", "good film"),), label=1),
    Example("b", (("text", "bad film"),), label=0),
    Example("c", (("text", "great plot"),), label=1),
    Example("d", (("text", "dull plot"),), label=0),
)
TASK = Task("t", "test", ("Is it positive?",), ("text",), ("negative", "positive"),
            (Split("train", TRAIN), Split("test", (Example("q", (("text", "fine acting"),), label=1),))))
QUERY = TASK.split("test")[0]


def demo_set(order: tuple[str, ...], instruction: str = "") -> DemoSet:
    """A set whose shuffle gives ``order`` (found by trying seeds)."""
    groups = ((TRAIN[1], TRAIN[3]), (TRAIN[0], TRAIN[2]))
    for seed in range(1000):
        chosen = [e for g in groups for e in g]
        random.Random(seed).shuffle(chosen)
        if tuple(e.uid for e in chosen) == order:
            return DemoSet("s", groups, get_format("q_a"), ("foo", "bar"), instruction, seed)
    raise AssertionError("no seed gives that order")


def test_segments_are_the_hand_computed_spans():
    p = compose(TASK, QUERY, demo_set(("a", "b", "c", "d"), instruction="Is it positive?"))
    assert p.text == ("Is it positive?\n\nQ: good film\nA: bar\n\nQ: bad film\nA: foo\n\n"
                      "Q: great plot\nA: bar\n\nQ: dull plot\nA: foo\n\nQ: fine acting\nA:")
    spans = [(s.kind, p.text[s.start:s.end], s.label_class, s.inferable) for s in p.segments]
    assert spans == [
        ("instruction", "Is it positive?", None, False),
        ("exemplar_input", "Q: good film\nA:", None, False), ("exemplar_label", " bar", 1, False),
        ("exemplar_input", "Q: bad film\nA:", None, False), ("exemplar_label", " foo", 0, False),
        ("exemplar_input", "Q: great plot\nA:", None, False), ("exemplar_label", " bar", 1, True),
        ("exemplar_input", "Q: dull plot\nA:", None, False), ("exemplar_label", " foo", 0, True),
        ("query_input", "Q: fine acting\nA:", None, False), ("answer", "", 1, False),
    ]
    assert p.prefix == p.text[: p.text.index("Q: fine acting")] and p.exemplar_uids == ("a", "b", "c", "d")


def test_first_appearance_of_each_class_is_never_inferable():
    p = compose(TASK, QUERY, demo_set(("a", "c", "b", "d")))
    inferable = [s.inferable for s in p.segments if s.kind == "exemplar_label"]
    assert inferable == [False, True, False, True]


def test_fit_strategies_drop_the_way_they_say():
    counter = TokenCounter(chars_per_token=1.0)  # one token per character
    demos = DemoSet("s", ((TRAIN[1], TRAIN[3]), (TRAIN[0], TRAIN[2])), get_format("q_a"), ("foo", "bar"), "", 0)
    full = compose(TASK, QUERY, demos)
    budget = len(full.text) - 5  # one exemplar must go
    drop = compose(TASK, QUERY, demos, DropFromFullest(lambda r, text: counter(text) <= budget))
    assert drop.dropped_exemplars == 1 and set(drop.exemplar_uids) == {"a", "b", "d"}  # the last class's last
    shrink = compose(TASK, QUERY, demos, ShrinkEveryClass(lambda r, text: counter(text) <= budget, 1))
    assert shrink.dropped_exemplars == 2 and set(shrink.exemplar_uids) == {"a", "b"}  # one per class
    assert compose(TASK, QUERY, demos, ShrinkEveryClass(lambda r, text: False, 1)) is None
    assert compose(TASK, QUERY, demos, KeepAll()) == full


def test_draws_never_show_an_excluded_uid_or_text_and_exact_draws_refuse_too_few():
    pool = ExemplarPool(TASK, "train")
    copy = Example("z", (("text", "  GOOD   film "),), label=1)  # the text of "a", another uid
    streams = DrawStreams(random.Random(0), random.Random(1), random.Random(2), 3)
    demos = draw_demo_set(pool, DemoRecipe(per_class=1), streams, exclusions([copy, TRAIN[1]]), "s")
    assert [e.uid for g in demos.groups for e in g] == ["d", "c"]
    with pytest.raises(NotEnoughExemplars, match="k=2 exemplars needed but class 'negative' has only 1"):
        draw_demo_set(pool, DemoRecipe(per_class=2), streams, exclusions([TRAIN[1]]), "s")
    up_to = draw_demo_set(pool, DemoRecipe(per_class=2, exact=False), streams, exclusions([TRAIN[1]]), "s")
    assert [len(g) for g in up_to.groups] == [1, 2]


def test_symbol_labels_never_reuse_a_natural_label_word():
    pool = ExemplarPool(TASK, "train")
    for seed in range(50):
        streams = DrawStreams(random.Random(seed), random.Random(seed), random.Random(seed), seed)
        demos = draw_demo_set(pool, DemoRecipe(per_class=1, labels="symbols"), streams, frozenset(), "s")
        assert len(set(demos.shown)) == 2 and not {s.lower() for s in demos.shown} & {"negative", "positive"}


def test_dropping_one_from_every_class_keeps_their_differences():
    plans = list(DropOneFromEveryClass(lambda r, text: True, 2).plans([7, 3, 5, 1]))
    assert plans == [(7, 3, 5, 1), (6, 2, 4, 1), (5, 2, 3, 1), (4, 2, 2, 1), (3, 2, 2, 1), (2, 2, 2, 1)]


def test_independent_counts_draw_one_number_per_class():
    pool = ExemplarPool(TASK, "train")

    def sizes(recipe):
        out = set()
        for seed in range(40):
            rng = random.Random(seed)
            out.add(tuple(len(g) for g in draw_demo_set(pool, recipe, DrawStreams(rng, rng, rng, seed), frozenset(), "s").groups))
        return out

    assert sizes(DemoRecipe(per_class=(1, 2), independent_counts=True, exact=False)) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert sizes(DemoRecipe(per_class=(1, 2), exact=False)) == {(1, 1), (2, 2)}  # one number for all classes
