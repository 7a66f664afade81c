"""Fixtures for the evaluation area: hand-made tasks and a fake deterministic model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import pytest

from taskmix.records import (
    Example,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Split,
    Task,
)


def make_classification_task(
    name: str = "toy",
    n_train: int = 24,
    n_test: int = 10,
    labels: tuple[str, ...] = ("negative", "positive"),
    instruction: str = "Is the sentence positive or negative?",
    fields: tuple[str, ...] = ("text",),
) -> Task:
    """A task whose input text names its label word ("... good" / "... bad")."""
    cue = {0: "bad", 1: "good", 2: "fine", 3: "odd"}

    def ex(split: str, i: int) -> Example:
        label = i % len(labels)
        values = tuple((f, f"{split} {f} {i} is {cue.get(label, str(label))}") for f in fields)
        return Example(f"{name}-{split}-{i}", values, label=label)

    return Task(
        name=name,
        source="test",
        instructions=(instruction,) if instruction else (),
        input_fields=fields,
        label_space=labels,
        splits=(
            Split("train", tuple(ex("train", i) for i in range(n_train))),
            Split("test", tuple(ex("test", i) for i in range(n_test))),
        ),
    )


def make_freeform_task(name: str = "lists", n: int = 12) -> Task:
    """A list-function-like task: output is the input list reversed."""

    def ex(split: str, i: int) -> Example:
        xs = [i, i + 1, i + 2]
        return Example(f"{name}-{split}-{i}", (("input", str(xs)),), target=str(xs[::-1]))

    return Task(
        name=name,
        source="test",
        instructions=("Apply the function to the last list.",),
        input_fields=("input",),
        label_space=None,
        splits=(Split("train", tuple(ex("train", i) for i in range(n))), Split("test", tuple(ex("test", 100 + i) for i in range(n)))),
    )


@dataclass
class FakeModel:
    """A deterministic stand-in for ``taskmix.models.LanguageModel``.

    ``score(context, continuation)`` gives the log-likelihood (default: a keyword rule:
    " positive" is likely after "... is good", " negative" after "... is bad", other
    continuations get a hash-derived value); ``answer(context)`` gives generations.
    Tokens are whitespace-separated words; the context holds ``context_length`` of them.
    Every request is recorded in ``calls``; ``loads`` counts how often the ``fake_engine``
    fixture "loaded" it.
    """

    score: Callable[[str, str], float] | None = None
    answer: Callable[[str], str] | None = None
    fingerprint: str = "fake-model-v1"
    context_length: int = 2048
    calls: list = field(default_factory=list)
    loads: int = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        out = []
        for r in requests:
            self.calls.append(r)
            lp = self.score(r.context, r.continuation) if self.score else keyword_score(r.context, r.continuation)
            out.append(LoglikelihoodResult(logprob=lp, n_tokens=max(1, len(r.continuation.split())), is_greedy=False))
        return out

    def generate(self, requests: list[GenerateRequest]) -> list[str]:
        self.calls.extend(requests)
        return [self.answer(r.context) if self.answer else "" for r in requests]


def keyword_score(context: str, continuation: str) -> float:
    lines = context.rstrip().splitlines() or [""]
    last = lines[-1] if ("good" in lines[-1] or "bad" in lines[-1] or len(lines) == 1) else lines[-2]
    word = continuation.strip()
    if ("good" in last and word == "positive") or ("bad" in last and word == "negative"):
        return -0.5
    h = int(hashlib.sha256((context + "|" + continuation).encode()).hexdigest()[:6], 16)
    return -1.0 - h / 16**6


@pytest.fixture
def toy_task() -> Task:
    return make_classification_task()


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def fake_engine(monkeypatch) -> FakeModel:
    """Replace the engine's model loading by a fake model (the rest is real); the
    returned model counts its loads in ``loads``."""
    from taskmix.cli import build_parser
    from taskmix.evaluation import preflight, runner

    build_parser()  # every command module is imported (and bound to the real functions) before the patch
    model = FakeModel()

    def load(config):
        model.loads += 1
        return model

    monkeypatch.setattr(runner, "load_eval_model", load)
    monkeypatch.setattr(runner, "check_model_spec", lambda spec: None)
    monkeypatch.setattr(preflight, "check_model_spec", lambda spec: None)
    return model
