"""Nearest exemplars in tuning prompts (``exemplar_choice: similar``): the choice against
hand-computed similarities, everything else of a prompt unchanged, determinism, bad input."""

from __future__ import annotations

import json
import math

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
    examples = tuple(Example(uid, (("text", uid),), label=label) for uid, (_, label) in angles.items())
    return Task(name="angles", source="test", instructions=("Classify.",), input_fields=("text",),
                label_space=("a", "b"), splits=(Split("train", examples),))


def angle_encoder(angles: dict[str, tuple[float, int]], calls: list | None = None):
    def encode(texts):
        if calls is not None:
            calls.append(list(texts))
        return np.array([[math.cos(angles[t][0]), math.sin(angles[t][0])] for t in texts], dtype=np.float32)

    return encode


ANGLES = {  # uid: (angle in radians, class)
    "q": (0.0, 0),
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
    assert [e.uid for e in near.nearest(q, 0, 10, exclude)] == ["a1", "a3", "a2", "a4"]  # the query never
    assert near.nearest(q, 0, 0, exclude) == []
    # one call embeds the sample, one the queries' chunk; a second query needs no new call
    near.nearest([e.uid for e in pool.examples].index("b3"), 0, 1, frozenset())
    assert len(calls) == 2 and sorted(calls[1]) == sorted(example_text(e) for e in pool.examples)
    # a sample smaller than the class: the nearest are taken from the sample only, the same sample for every query
    small = NearestExemplars(pool, order=range(len(pool.examples)), sample_size=2, seed=0, encode=angle_encoder(ANGLES))
    sample = {e.uid for e in small.candidates[0]}
    assert len(sample) == 2 and {e.uid for e in small.nearest(q, 0, 5, exclude)} == sample - {"q"}


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


def test_similar_changes_which_exemplars_and_nothing_else(toy_loader, words_encoder):
    plan = plan_task(toy_loader("toy3"), "train")
    base = dict(tasks=("toy3",), per_task_cap=12, max_length=5000)
    counter = TokenCounter(chars_per_token=4.0)
    rand = MixtureConfig(**base)
    similar = MixtureConfig(**base, exemplar_choice="similar", similar_pool=40)
    near = NearestExemplars(plan, range(len(plan.examples)), 40, 0, words_encoder)
    changed = 0
    for q in range(12):
        a = make_prompt(plan, q, rand, counter)
        b = make_prompt(plan, q, similar, counter, near)
        assert (a.kind, a.format_name, a.target, a.n_exemplars) == (b.kind, b.format_name, b.target, b.n_exemplars)
        changed += a.prompt != b.prompt
        # every class shows exactly its nearest exemplars (as many as the prompt shows of that class)
        query = plan.examples[q]
        for group, examples in enumerate(plan.groups):
            shown = [e for e in examples if e.uid != query.uid and f"{e.get('premise')}" in b.prompt]
            nearest = near.nearest(q, group, len(shown), frozenset({query.uid}))
            assert {e.uid for e in shown} == {e.uid for e in nearest}
    assert changed >= 10


def test_similar_mixture_is_byte_identical_when_built_again_and_its_key_is_new(toy_loader, words_encoder, tmp_path):
    config = MixtureConfig(tasks=("toy", "toy3"), per_task_cap=12, max_length=400, exemplar_choice="similar", similar_pool=20)
    a = build_symbol_mixture(config, tmp_path / "a", load=toy_loader, encode=words_encoder)
    b = build_symbol_mixture(config, tmp_path / "b", load=toy_loader, encode=words_encoder)
    r = build_symbol_mixture(MixtureConfig(tasks=("toy", "toy3"), per_task_cap=12, max_length=400), tmp_path / "r", load=toy_loader)
    assert (tmp_path / "a" / "prompts.jsonl").read_bytes() == (tmp_path / "b" / "prompts.jsonl").read_bytes()
    assert a.content_sha256 == b.content_sha256 != r.content_sha256
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["config"]["exemplar_choice"] == "similar"
    with pytest.raises(TaskmixError, match="different config"):
        build_symbol_mixture(MixtureConfig(tasks=("toy", "toy3"), per_task_cap=12, max_length=400), tmp_path / "a", load=toy_loader)


def test_bad_exemplar_choice_settings_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="exemplar_choice must be one of random, similar"):
        MixtureConfig(exemplar_choice="nearest")
    with pytest.raises(ConfigError, match="similar_pool must be >= max_exemplars_per_class"):
        MixtureConfig(exemplar_choice="similar", similar_pool=5)
    assert main(["build", "symbol", "--tasks", "sst2", "--exemplar-choice", "nearest", "--out", str(tmp_path / "m")]) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["taskmix: error: mixture config: exemplar_choice must be one of random, similar, got 'nearest'"]
    assert not (tmp_path / "m").exists()
