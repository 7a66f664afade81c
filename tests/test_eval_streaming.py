"""Evaluation streams: prompts are made a chunk at a time and predictions go to disk as they
are scored, so memory does not grow with the number of prompts (issue: resources)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

import taskmix.evaluation.plan as plan
import taskmix.evaluation.runner as runner
from taskmix.errors import TaskmixError
from taskmix.evaluation import EvalConfig, read_run, run_eval
from taskmix.evaluation.results import PREDICTIONS_FILE, PredictionWriter, write_run
from taskmix.prompts.builder import SETTING_NAMES
from taskmix.records import LoglikelihoodResult
from tests.plugins.eval import FakeModel, make_classification_task

TASKS = {
    "toy": make_classification_task("toy", n_train=24, n_test=10),
    "toy3": make_classification_task("toy3", n_train=24, n_test=9, labels=("bad", "good", "fine")),
}


def config(tmp_path: Path, **kw) -> EvalConfig:
    base = dict(model="fake", tasks=("toy", "toy3"), k=2, max_examples=None, out=str(tmp_path / "run"),
                progress=False, plots=False, bootstrap_samples=100)
    base.update(kw)
    return EvalConfig(**base)


def test_prompts_are_made_one_chunk_ahead_and_predictions_leave_memory_as_scored(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "CHUNK_PROMPTS", 3)
    made = []  # prompts made so far (by the lazy prompt iterator)
    real_iter = plan.iter_prompt_outcomes

    def counting_iter(*args, **kwargs):
        for prompt in real_iter(*args, **kwargs):
            made.append(prompt.example_uid)
            yield prompt

    monkeypatch.setattr(plan, "iter_prompt_outcomes", counting_iter)
    written = []  # predictions handed to the on-disk writer so far
    real_add = PredictionWriter.add
    monkeypatch.setattr(PredictionWriter, "add", lambda self, preds: (written.extend(preds), real_add(self, preds)))
    seen = []  # (made, written) when the model is called

    class Watching(FakeModel):
        def loglikelihood(self, requests):
            seen.append((len(made), len(written), len({r.context for r in requests})))
            return super().loglikelihood(requests)

    run = run_eval(config(tmp_path), model=Watching(), loader=TASKS.__getitem__)
    total = 10 * 5 + 9 * 4
    assert len(made) == len(written) == len(run.predictions) == total
    for n_made, n_written, n_chunk in seen:
        assert n_chunk <= 3
        assert n_made - n_written == n_chunk  # only this chunk is held; everything before is on disk
    assert [p.example_uid for p in run.predictions] == [p.example_uid for p in written]


def test_streamed_run_equals_the_in_memory_run_byte_for_byte(tmp_path):
    streamed = run_eval(config(tmp_path), model=FakeModel(), loader=TASKS.__getitem__)
    in_memory = run_eval(config(tmp_path), model=FakeModel(), loader=TASKS.__getitem__, write=False)
    assert isinstance(in_memory.predictions, tuple)
    assert streamed.scores == in_memory.scores and streamed.averages == in_memory.averages
    assert streamed.predictions == in_memory.predictions
    write_run(tmp_path / "copy", in_memory, plots=False)
    a = (tmp_path / "run" / PREDICTIONS_FILE).read_bytes()
    assert a == (tmp_path / "copy" / PREDICTIONS_FILE).read_bytes() and a.count(b"\n") == 86
    back = read_run(tmp_path / "run")
    assert len(back.predictions) == 86 and back.predictions[-1] == in_memory.predictions[-1]
    assert list(back.predictions)[:5] == list(in_memory.predictions[:5])


def test_a_failed_evaluation_keeps_the_previous_predictions_file(tmp_path):
    run_eval(config(tmp_path), model=FakeModel(), loader=TASKS.__getitem__)
    before = (tmp_path / "run" / PREDICTIONS_FILE).read_bytes()

    class Failing(FakeModel):
        def loglikelihood(self, requests):
            if len(self.calls) > 20:
                raise RuntimeError("out of memory")
            return super().loglikelihood(requests)

    with pytest.raises(RuntimeError):
        run_eval(config(tmp_path), model=Failing(), loader=TASKS.__getitem__)
    assert (tmp_path / "run" / PREDICTIONS_FILE).read_bytes() == before
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_a_malformed_predictions_file_is_one_line_error(tmp_path):
    run_eval(config(tmp_path), model=FakeModel(), loader=TASKS.__getitem__)
    path = tmp_path / "run" / PREDICTIONS_FILE
    lines = path.read_text().splitlines()
    lines[7] = '{"task": "toy", "oops": 1}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskmixError, match=r"predictions.jsonl:8: malformed prediction"):
        read_run(tmp_path / "run")
    path.write_text("[1, 2]\n")
    with pytest.raises(TaskmixError, match=r"predictions.jsonl:1: malformed prediction"):
        read_run(tmp_path / "run")


class ConstantModel:
    """Scores every candidate the same, records nothing (so the model holds no memory)."""

    fingerprint = "constant"
    context_length = 10**9  # every prompt fits: nothing is dropped

    def count_tokens(self, text):
        return len(text.split())

    def loglikelihood(self, requests):
        return [LoglikelihoodResult(-1.0, 1, False) for _ in requests]


def peak_traced_bytes(tmp_path: Path, n_test: int) -> tuple[int, int]:
    """(peak Python memory of an evaluation of ``n_test`` x 5 prompts, predictions file size)."""
    big = make_classification_task("big", n_train=40, n_test=n_test)
    out = tmp_path / f"n{n_test}"
    cfg = config(out, tasks=("big",), k=4)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run = run_eval(cfg, model=ConstantModel(), loader={"big": big}.__getitem__)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(run.predictions) == n_test * len(SETTING_NAMES)
    return peak, (out / "run" / PREDICTIONS_FILE).stat().st_size


def test_evaluation_memory_does_not_grow_with_the_prompts(tmp_path):
    peak_traced_bytes(tmp_path, 20)  # imports and first-use caches, not measured
    small_peak, small_file = peak_traced_bytes(tmp_path, 500)
    big_peak, big_file = peak_traced_bytes(tmp_path, 2000)
    extra = (2000 - 500) * len(SETTING_NAMES)
    # holding the extra prompts or predictions would cost more than their ~300 bytes of
    # JSON each; streaming keeps a few bytes per prompt (its 1/0 outcome, exemplars dropped)
    assert (big_file - small_file) / extra > 200
    assert big_peak - small_peak < 64 * extra, (small_peak, big_peak, small_file, big_file)
