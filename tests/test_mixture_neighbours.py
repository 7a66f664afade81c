"""Nearest exemplars in tuning prompts (``exemplar_choice: similar``): the choice against
hand-computed similarities, everything else of a prompt unchanged, determinism, bad input."""

from __future__ import annotations

import json
import math
import random
import re

import numpy as np
import pytest

from taskmix.cli import main
from taskmix.errors import ConfigError, TaskmixError
from taskmix.mixture.build import build_symbol_mixture
from taskmix.mixture.config import MixtureConfig
from taskmix.mixture.neighbours import NearestExemplars, example_text
from taskmix.mixture.symbol import make_prompt, plan_task
from taskmix.prompts.compose import TokenCounter
from taskmix.records import Example, Split, Task


def angle_task(angles: dict[str, tuple[float, int]]) -> Task:
    """A two-class task whose example ``uid`` has text ``uid`` and sits at an angle on the unit circle."""
    examples = tuple(Example(uid, (("text", uid.removesuffix("-copy")),), label=label) for uid, (_, label) in angles.items())
    return Task(name="angles", source="test", instructions=("Classify.",), input_fields=("text",),
                label_space=("a", "b"), splits=(Split("train", examples),))


def angle_encoder(angles: dict[str, tuple[float, int]], calls: list | None = None):
    def encode(texts):
        if calls is not None:
            calls.append(list(texts))
        return np.array([[math.cos(angles[t][0]), math.sin(angles[t][0])] for t in texts], dtype=np.float32)

    return encode


ANGLES = {  # uid: (angle in radians, class)
    "q": (0.0, 0), "q-copy": (0.0, 0),  # the query's text again, under another uid
    "a1": (0.1, 0), "a2": (1.0, 0), "a3": (-0.3, 0), "a4": (2.5, 0),
    "b1": (-0.2, 1), "b2": (0.05, 1), "b3": (3.0, 1), "b4": (0.6, 1),
}


def test_nearest_exemplars_are_the_hand_computed_nearest_of_each_class_and_never_the_query():
    from taskmix.prompts.compose import ExemplarPool, exclusions

    task = angle_task(ANGLES)
    pool = ExemplarPool(task, "train")
    calls: list = []
    near = NearestExemplars(pool, order=range(len(pool.examples)), sample_size=10, seed=0, encode=angle_encoder(ANGLES, calls))
    q = [e.uid for e in pool.examples].index("q")
    exclude = exclusions([pool.examples[q]])
    # cosine to the query at angle 0 is cos(angle): class a by |angle| 0.1, 0.3, 1.0, 2.5; class b 0.05, 0.2, 0.6, 3.0
    assert [e.uid for e in near.nearest(q, 0, 3, exclude)] == ["a1", "a3", "a2"]
    assert [e.uid for e in near.nearest(q, 1, 4, exclude)] == ["b2", "b1", "b4", "b3"]
    assert [e.uid for e in near.nearest(q, 0, 10, exclude)] == ["a1", "a3", "a2", "a4"]  # the query (or its text) never
    assert near.nearest(q, 0, 0, exclude) == []
    # one call embeds the sample, one the queries' chunk; a second query needs no new call
    near.nearest([e.uid for e in pool.examples].index("b3"), 0, 1, frozenset())
    assert len(calls) == 2 and sorted(calls[1]) == sorted(example_text(e) for e in pool.examples)
    assert [e.uid for e in near.nearest(q, 0, 1, frozenset({"q"}))] == ["q-copy"]  # excluded by uid only: the copy is nearest
    # a sample smaller than the class: the nearest are taken from the sample only, the same sample for every query
    small = NearestExemplars(pool, order=range(len(pool.examples)), sample_size=2, seed=0, encode=angle_encoder(ANGLES))
    sample = {e.uid for e in small.candidates[0]}
    assert len(sample) == 2 and {e.uid for e in small.nearest(q, 0, 5, exclude)} == sample - {"q", "q-copy"}


def test_a_share_of_nearest_exemplars_is_the_nearest_first_then_the_random_ones():
    from taskmix.prompts.compose import ExemplarPool, exclusions

    pool = ExemplarPool(angle_task(ANGLES), "train")
    q = [e.uid for e in pool.examples].index("q")
    exclude = exclusions([pool.examples[q]])
    for share, k, n_near in ((0.5, 3, 2), (0.25, 3, 1), (0.5, 4, 2), (0.01, 2, 1)):
        near = NearestExemplars(pool, range(len(pool.examples)), 10, 0, angle_encoder(ANGLES), share=share)
        for seed in range(20):
            drawn = pool.take_up_to(0, k, random.Random(seed), exclude)  # what random would show
            rng = random.Random(seed)
            got = [e.uid for e in near.chooser(q)(0, k, rng, exclude)]
            nearest = ["a1", "a3", "a2", "a4"][:n_near]  # class a by distance to the query (see above)
            assert got == nearest + [e.uid for e in drawn if e.uid not in nearest][: k - n_near]
            assert len(got) == len(set(got)) == k
            assert rng.getstate() == _after_drawing(pool, k, seed, exclude)  # the stream moves on as with random
    # a sample with fewer candidates than the nearest share asks for: the random exemplars fill up to k
    small = NearestExemplars(pool, range(len(pool.examples)), 2, 0, angle_encoder(ANGLES), share=0.75)
    sample = [e.uid for e in small.candidates[0]]
    for seed in range(20):
        got = [e.uid for e in small.chooser(q)(0, 4, random.Random(seed), exclude)]
        near = [e.uid for e in small.nearest(q, 0, 3, exclude)]
        assert len(near) <= 2 and set(near) <= set(sample) and got[:len(near)] == near and len(got) == len(set(got)) == 4
    with pytest.raises(ValueError, match="share must be in"):
        NearestExemplars(pool, range(len(pool.examples)), 10, 0, angle_encoder(ANGLES), share=1.5)
    # the default (share 1) shows only the nearest
    whole = NearestExemplars(pool, range(len(pool.examples)), 10, 0, angle_encoder(ANGLES))
    assert [e.uid for e in whole.chooser(q)(1, 3, random.Random(0), exclude)] == ["b2", "b1", "b4"]


def _after_drawing(pool, k, seed, exclude):
    rng = random.Random(seed)
    pool.take_up_to(0, k, rng, exclude)
    return rng.getstate()


@pytest.fixture
def words_encoder():
    """A deterministic bag-of-words encoder (hashing words into 64 dimensions, L2-normalised)."""
    def encode(texts):
        out = np.zeros((len(texts), 64), np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i, sum(map(ord, word)) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    return encode


def shown_by_class(prompt) -> dict[int, set[str]]:
    """The uids of a toy prompt's exemplars by class, read from its segments (toy texts say
    ``story number <i>``; the uid is ``<task>-<i>``)."""
    task = prompt.uid.split(":", 1)[0]
    inputs = [seg for seg in prompt.segments if seg.kind == "exemplar_input"]
    labels = [seg for seg in prompt.segments if seg.kind == "exemplar_label"]
    out: dict[int, set[str]] = {}
    for inp, lab in zip(inputs, labels, strict=True):
        number = re.search(r"story number (\d+)\b", prompt.prompt[inp.start:inp.end]).group(1)
        out.setdefault(lab.label_class, set()).add(f"{task}-{number}")
    return out


def random_and_similar_prompts(toy_loader, encoder, class_counts: str, share: float = 1.0):
    """For twelve queries of the toy task: the prompt with random exemplars and the one with
    ``similar`` (``similar_share`` = ``share``), checked to agree in kind, format, target and
    the classes of their exemplars in written order; yields the query, the chooser's
    neighbours and each prompt's exemplar uids by class (random, similar)."""
    plan = plan_task(toy_loader("toy3"), "train")
    base = dict(tasks=("toy3",), per_task_cap=12, max_length=5000, class_counts=class_counts)
    counter = TokenCounter(chars_per_token=4.0)
    rand = MixtureConfig(**base)
    similar = MixtureConfig(**base, exemplar_choice="similar", similar_pool=40, similar_share=share)
    near = NearestExemplars(plan, range(len(plan.examples)), 40, 0, encoder, share=share)
    for q in range(12):
        a = make_prompt(plan, q, rand, counter)
        b = make_prompt(plan, q, similar, counter, near)
        assert (a.kind, a.format_name, a.target) == (b.kind, b.format_name, b.target)
        classes = [[seg.label_class for seg in p.segments if seg.kind == "exemplar_label"] for p in (a, b)]
        assert classes[0] == classes[1]  # the same counts per class, written in the same order
        yield q, near, frozenset({plan.examples[q].uid}), shown_by_class(a), shown_by_class(b)


@pytest.mark.parametrize("class_counts", ["equal", "independent"])
def test_similar_changes_which_exemplars_and_nothing_else(toy_loader, words_encoder, class_counts):
    changed = 0
    for q, near, query, shown_random, shown in random_and_similar_prompts(toy_loader, words_encoder, class_counts):
        changed += shown != shown_random
        for group, uids in shown.items():  # each class shows exactly its nearest exemplars
            assert uids == {e.uid for e in near.nearest(q, group, len(uids), query)}
    assert changed >= 10


def test_a_share_of_nearest_keeps_the_rest_of_the_prompt_and_the_random_exemplars(toy_loader, words_encoder):
    random_shown = 0
    for q, near, query, shown_random, shown in random_and_similar_prompts(toy_loader, words_encoder, "independent", 0.5):
        for group, uids in shown.items():
            nearest = {e.uid for e in near.nearest(q, group, math.ceil(len(uids) / 2), query)}
            assert nearest <= uids and uids - nearest <= shown_random[group]
            random_shown += len(uids - nearest)
    assert random_shown >= 12  # the random half is really there


def test_a_chooser_that_does_not_draw_changes_the_later_counts(toy_loader, words_encoder):
    """Why the chooser draws the random exemplars too: without it, independent counts drift."""
    plan = plan_task(toy_loader("toy3"), "train")
    config = MixtureConfig(tasks=("toy3",), per_task_cap=12, max_length=5000, class_counts="independent",
                           exemplar_choice="similar", similar_pool=40)
    near = NearestExemplars(plan, range(len(plan.examples)), 40, 0, words_encoder)
    lazy = NearestExemplars(plan, range(len(plan.examples)), 40, 0, words_encoder)
    lazy.chooser = lambda q: (lambda group, k, rng, exclude: lazy.nearest(q, group, k, exclude))
    counter = TokenCounter(chars_per_token=4.0)
    counts = [[[seg.label_class for seg in make_prompt(plan, q, config, counter, n).segments].count(g) for g in range(3)]
              for n in (near, lazy) for q in range(12)]
    assert counts[:12] != counts[12:]


def test_similar_mixture_is_byte_identical_when_built_again_and_is_another_mixture(toy_loader, words_encoder, tmp_path):
    config = MixtureConfig(tasks=("toy", "toy3"), per_task_cap=12, max_length=400, exemplar_choice="similar", similar_pool=20)
    a = build_symbol_mixture(config, tmp_path / "a", load=toy_loader, encode=words_encoder)
    b = build_symbol_mixture(config, tmp_path / "b", load=toy_loader, encode=words_encoder)
    r = build_symbol_mixture(MixtureConfig(tasks=("toy", "toy3"), per_task_cap=12, max_length=400), tmp_path / "r", load=toy_loader)
    assert (tmp_path / "a" / "prompts.jsonl").read_bytes() == (tmp_path / "b" / "prompts.jsonl").read_bytes()
    assert a.content_sha256 == b.content_sha256 != r.content_sha256
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["config"]["exemplar_choice"] == "similar" and manifest["encoder"] == "given by the caller"
    assert "encoder" not in json.loads((tmp_path / "r" / "manifest.json").read_text())
    with pytest.raises(TaskmixError, match="different config"):
        build_symbol_mixture(MixtureConfig(tasks=("toy", "toy3"), per_task_cap=12, max_length=400), tmp_path / "a", load=toy_loader)


def test_bad_exemplar_choice_settings_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="exemplar_choice must be one of random, similar"):
        MixtureConfig(exemplar_choice="nearest")
    with pytest.raises(ConfigError, match="similar_pool must be > max_exemplars_per_class with exemplar_choice: similar"):
        MixtureConfig(exemplar_choice="similar", similar_pool=10)
    assert MixtureConfig(max_exemplars_per_class=300).similar_pool == 256  # only read with similar
    for share in (0.0, 1.5, -0.5):
        with pytest.raises(ConfigError, match=r"similar_share must be in \(0, 1\]"):
            MixtureConfig(exemplar_choice="similar", similar_share=share)
    with pytest.raises(ConfigError, match="similar_share must be 1 unless exemplar_choice: similar"):
        MixtureConfig(similar_share=0.5)
    assert main(["build", "symbol", "--tasks", "sst2", "--exemplar-choice", "similar", "--similar-share", "2",
                 "--out", str(tmp_path / "s")]) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["taskmix: error: mixture config: similar_share must be in (0, 1], got 2.0"]
    assert not (tmp_path / "s").exists()
    assert main(["build", "symbol", "--tasks", "sst2", "--exemplar-choice", "nearest", "--out", str(tmp_path / "m")]) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["taskmix: error: mixture config: exemplar_choice must be one of random, similar, got 'nearest'"]
    assert not (tmp_path / "m").exists()
