"""The evaluation stage end to end with hand-made tasks and a fake deterministic model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskmix.errors import ConfigError, TaskmixError
from taskmix.evaluation import EvalConfig, compare_runs, read_run, run_eval
from taskmix.evaluation.compare import format_differences
from taskmix.evaluation.results import Prediction
from tests.plugins.eval import FakeModel, make_classification_task, make_freeform_task

TASKS = {
    "toy": make_classification_task("toy", n_train=24, n_test=10),
    "toy3": make_classification_task("toy3", n_train=24, n_test=9, labels=("bad", "good", "fine")),
    "lists": make_freeform_task("lists"),
}


def loader(spec: str):
    try:
        return TASKS[spec]
    except KeyError:
        raise TaskmixError(f"unknown task {spec!r}") from None


def config(tmp_path: Path, **kw) -> EvalConfig:
    base = dict(model="fake", tasks=("toy", "toy3"), k=2, max_examples=8, out=str(tmp_path / "run"),
                progress=False, plots=False, bootstrap_samples=200)
    base.update(kw)
    if not kw.get("shared_demos") and "block_size" not in kw:
        base["block_size"] = 1  # these tests pin the fresh-exemplar protocol (not today's default)
    return EvalConfig(**base)


def test_run_scores_every_applicable_setting_and_writes_files(tmp_path):
    model = FakeModel()
    run = run_eval(config(tmp_path, plots=True), model=model, loader=loader)
    keys = {(s.task, s.setting) for s in run.scores}
    assert ("toy", "flipped") in keys and ("toy3", "flipped") not in keys
    assert len(keys) == 5 + 4
    assert any("toy3: setting flipped does not apply" in n for n in run.notes)
    toy = run.score("toy", "instr_labels")
    assert toy.n == 8 and toy.ci_low <= toy.accuracy <= toy.ci_high
    # the keyword model gets relevant labels right and flipped labels wrong
    assert toy.accuracy == 1.0
    assert run.score("toy", "flipped").accuracy == 0.0
    # 2 candidates per prompt for toy, 3 for toy3
    assert len(model.calls) == 8 * 5 * 2 + 8 * 4 * 3
    out = tmp_path / "run"
    for name in ("results.json", "results.md", "predictions.jsonl", "accuracy_by_setting.png", "accuracy_by_dataset.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "results.json").read_text())
    assert data["fingerprint"] == "fake-model-v1" and data["config"]["k"] == 2
    assert {"taskmix", "numpy"} <= set(data["versions"])
    md = (out / "results.md").read_text()
    assert "| toy | 8 |" in md and "**average**" in md and "100.0 [" in md
    back = read_run(out)
    assert back.scores == run.scores and back.predictions == run.predictions


def test_average_is_the_mean_of_dataset_accuracies(tmp_path):
    run = run_eval(config(tmp_path), model=FakeModel(), loader=loader, write=False)
    for avg in run.averages:
        per = [s.accuracy for s in run.scores if s.setting == avg.setting]
        assert avg.accuracy == pytest.approx(sum(per) / len(per))
        assert avg.ci_low <= avg.accuracy <= avg.ci_high


def test_same_config_gives_identical_predictions_and_reruns_into_same_folder(tmp_path):
    a = run_eval(config(tmp_path), model=FakeModel(), loader=loader)
    b = run_eval(config(tmp_path, batch_size=3), model=FakeModel(), loader=loader)  # same run: allowed
    assert a.predictions == b.predictions
    with pytest.raises(TaskmixError, match="different run"):
        run_eval(config(tmp_path, seed=1), model=FakeModel(), loader=loader)
    c = run_eval(config(tmp_path, seed=1, overwrite=True), model=FakeModel(), loader=loader)
    assert read_run(tmp_path / "run").run_key == c.run_key != a.run_key


def test_shared_demos_share_one_prefix_per_setting(tmp_path):
    import os

    def common_prefixes(shared: bool) -> list[int]:
        model = FakeModel()
        run = run_eval(config(tmp_path, tasks=("toy",), shared_demos=shared), model=model, loader=loader, write=False)
        assert all(p.n_exemplars == 4 for p in run.predictions)
        per_setting = 8 * 2  # prompts x candidates, requested setting by setting
        groups = [model.calls[i : i + per_setting] for i in range(0, len(model.calls), per_setting)]
        assert len(groups) == 5
        return [len(os.path.commonprefix([r.context for r in g])) for g in groups]

    shared, fresh = common_prefixes(True), common_prefixes(False)
    # with shared demos all queries of a setting share the whole demonstration block
    assert all(s > 4 * 20 for s in shared)
    assert all(f < s for f, s in zip(fresh, shared))


def test_freeform_exact_match(tmp_path):
    def answer(context: str) -> str:
        last = context.rstrip().splitlines()[-2] if "\n" in context else context
        xs = json.loads(last.split(":", 1)[1])
        return " " + str(xs[::-1]) + "\nInput: junk"

    run = run_eval(config(tmp_path, tasks=("lists",), format="input_output"), model=FakeModel(answer=answer),
                   loader=loader, write=False)
    assert [s.setting for s in run.scores] == ["instr_labels", "noinstr_labels"]
    assert all(s.accuracy == 1.0 and dict(s.extra)["metric"] == "exact_match" for s in run.scores)
    assert run.predictions[0].generated.startswith("[")


def test_context_budget_drops_exemplars_and_reports_it(tmp_path):
    run = run_eval(config(tmp_path, tasks=("toy",), k=4, max_context_tokens=60, format="input_output"),
                   model=FakeModel(), loader=loader)
    s = run.score("toy", "instr_labels")
    assert int(dict(s.extra)["dropped_exemplars"]) > 0
    assert any("dropped to fit" in n for n in run.notes)
    assert "Exemplars dropped to fit the context" in (tmp_path / "run" / "results.md").read_text()
    with pytest.raises(TaskmixError, match="no query fits the context of 10 tokens"):
        run_eval(config(tmp_path, tasks=("toy",), max_context_tokens=10, overwrite=True), model=FakeModel(), loader=loader)


def test_an_over_long_query_is_skipped_counted_and_reported(tmp_path):
    from dataclasses import replace as _replace

    from taskmix.records import Example, Split

    toy = TASKS["toy"]
    test = list(toy.split("test"))
    test[3] = Example(test[3].uid, (("text", "word " * 400 + "good"),), label=1)
    long_toy = _replace(toy, splits=(Split("train", toy.split("train")), Split("test", tuple(test))))
    run = run_eval(config(tmp_path, tasks=("toy",), settings=("instr_labels",), max_examples=None,
                          max_context_tokens=200, format="input_output"),
                   model=FakeModel(), loader=lambda spec: long_toy)
    s = run.score("toy", "instr_labels")
    assert s.n == 9 and dict(s.extra)["skipped_queries"] == "1"
    assert toy.split("test")[3].uid not in {p.example_uid for p in run.predictions}
    assert any("1 queries do not fit" in n for n in run.notes)


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown suite"):
        EvalConfig(model="m", suite="nope", out="x")
    with pytest.raises(ConfigError, match="unknown setting"):
        EvalConfig(model="m", tasks=("a",), settings=("wrong",))
    with pytest.raises(ConfigError, match="give a suite or tasks"):
        EvalConfig(model="m")
    with pytest.raises(TaskmixError, match="unknown prompt format"):
        EvalConfig(model="m", tasks=("a",), format="zzz")


def test_compare_runs_pairs_examples(tmp_path):
    a = run_eval(config(tmp_path, tasks=("toy", "toy3")), model=FakeModel(), loader=loader, write=False)
    flipped = tuple(Prediction(**{**p.to_json(), "candidates": p.candidates, "scores": p.scores,
                                  "correct": not p.correct}) for p in a.predictions)
    b = type(a)(**{**a.__dict__, "predictions": flipped})
    rows = compare_runs(a, b, seed=0)
    row = next(r for r in rows if r.task == "toy" and r.setting == "instr_labels")
    assert row.acc_a == 1.0 and row.acc_b == 0.0 and row.diff == -1.0 and row.ci_high == -1.0
    assert any(r.task == "average" for r in rows)
    text = format_differences(rows, "A", "B")
    assert "toy" in text and "-100.0" in text


def test_seeds_are_pooled_and_predictions_name_their_seed_and_demonstration_set(tmp_path):
    one = run_eval(config(tmp_path / "a", tasks=("toy",), settings=("noinstr_symbols",), seed=1),
                   model=FakeModel(), loader=loader, write=False)
    two = run_eval(config(tmp_path / "b", tasks=("toy",), settings=("noinstr_symbols",), seeds=(1, 2)),
                   model=FakeModel(), loader=loader, write=False)
    assert two.score("toy", "noinstr_symbols").n == 2 * one.score("toy", "noinstr_symbols").n == 16
    assert [p.seed for p in two.predictions] == [1] * 8 + [2] * 8
    assert two.predictions[:8] == one.predictions  # seed 1 sees the same prompts in both runs
    assert {p.demo_set for p in two.predictions} == {f"q:{p.example_uid}" for p in two.predictions}


def test_blocks_make_clusters_and_the_interval_resamples_them(tmp_path):
    run = run_eval(config(tmp_path, tasks=("toy",), settings=("noinstr_labels",), max_examples=None, block_size=5),
                   model=FakeModel(), loader=loader, write=False)
    sets = [p.demo_set for p in run.predictions]
    assert len(set(sets)) == 2 and sorted(sets.count(s) for s in set(sets)) == [5, 5]
    extra = dict(run.score("toy", "noinstr_labels").extra)
    assert extra["clusters"] == "2" and extra["largest_cluster"] == "5" and "cluster bootstrap" in extra["interval"]


def test_the_models_context_length_is_the_prompt_budget(tmp_path):
    roomy = run_eval(config(tmp_path, tasks=("toy",), k=4, format="input_output"), model=FakeModel(), loader=loader)
    assert int(dict(roomy.score("toy", "instr_labels").extra)["dropped_exemplars"]) == 0
    tight = run_eval(config(tmp_path, tasks=("toy",), k=4, format="input_output", overwrite=True),
                     model=FakeModel(context_length=60), loader=loader)
    assert int(dict(tight.score("toy", "instr_labels").extra)["dropped_exemplars"]) > 0


def test_the_report_names_the_protocol_the_run_used(tmp_path):
    run_eval(config(tmp_path / "a", tasks=("toy",), block_size=None), model=FakeModel(), loader=loader)
    assert "protocol=one shared demonstration set per dataset, setting and seed" in \
        (tmp_path / "a" / "run" / "results.md").read_text()
    run_eval(config(tmp_path / "b", tasks=("toy",), block_size=4), model=FakeModel(), loader=loader)
    assert "protocol=one demonstration set per block of 4 queries" in (tmp_path / "b" / "run" / "results.md").read_text()
