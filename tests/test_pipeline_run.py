"""A whole experiment on the tiny random model: stages run once, reruns skip, changes rerun only downstream."""

import json

import pytest

from taskmix.models import precision
from taskmix.pipeline.experiment import load_experiment
from taskmix.pipeline.run import run_experiment

EXPERIMENT = """
name: tiny
model: {model}
out: {out}
seed: 3
select: {{target: subj, k: 2, candidates: [sst2, mr, trec, cola]}}
build: {{per_task_cap: 12, max_exemplars_per_class: 2, max_length: 160}}
train: {{lora: {lora}, max_steps: {steps}, batch_size: 4, max_length: 160, save_every: 2, progress: false{dtype}}}
eval: {{tasks: [subj, tweeteval/hate], settings: [noinstr_symbols, flipped], k: 1, max_examples: 4, shared_demos: true, progress: false{dtype}}}
"""


def _cfg(tmp_path, model, steps=3, lora="true", dtype=None):
    p = tmp_path / f"exp-{steps}.yaml"
    p.write_text(EXPERIMENT.format(model=model, out=tmp_path / "run", steps=steps, lora=lora,
                                   dtype=f", dtype: {dtype}" if dtype else ""))
    return load_experiment(p)


@pytest.mark.slow
def test_tiny_experiment_end_to_end(tmp_path, tiny_model_dir, monkeypatch):
    logs = []
    # first without evaluation: select, build and train run; no eval folder, no report
    trained = run_experiment(_cfg(tmp_path, tiny_model_dir), log=logs.append, evaluate=False)
    run = tmp_path / "run"
    assert trained.evals == () and trained.report_html is None and (trained.tuned_model / "config.json").is_file()
    assert not list(run.glob("eval-*")) and not (run / "report.md").exists()
    # then the whole run: the three stages are reused, the evaluations and the report made
    logs.clear()
    result = run_experiment(_cfg(tmp_path, tiny_model_dir), log=logs.append)
    assert {line.split("]")[0][1:] for line in logs if "up to date" in line} == {"select", "build", "train"}, logs
    assert [s.name for s in result.selected] and len(result.selected) == 2
    assert all(s.name in {"sst2", "mr", "trec", "cola"} for s in result.selected)
    assert (run / "build" / "mixture").is_dir()
    assert (result.tuned_model / "config.json").is_file()
    for label in ("base", "tuned"):
        data = json.loads((run / f"eval-{label}" / "results" / "results.json").read_text())
        assert {s["setting"] for s in data["scores"]} == {"noinstr_symbols", "flipped"}
    report = (run / "report.md").read_text()
    assert "## Selected tasks" in report and "## Training" in report and "tuned - base (pp)" in report
    assert (run / "report.html").stat().st_size > 10_000

    # a rerun skips every stage
    logs.clear()
    run_experiment(_cfg(tmp_path, tiny_model_dir), log=logs.append)
    skipped = [line for line in logs if "up to date" in line]
    assert len(skipped) == 5, logs

    # more training steps: select, build and the base evaluation are reused; train and eval-tuned rerun
    logs.clear()
    run_experiment(_cfg(tmp_path, tiny_model_dir, steps=4), log=logs.append)
    reused = {line.split("]")[0][1:] for line in logs if "up to date" in line}
    assert reused == {"select", "build", "eval-base"}, logs
    assert any(p.name.startswith("train.previous-") for p in run.iterdir())

    # dtype auto is made concrete before the stage keys: on a CPU where fp32 is the faster
    # format, the same experiment with auto is the fp32 run above, every stage up to date
    monkeypatch.setattr(precision, "cpu_matmul_gflops", lambda dtype: {"fp32": 125.0, "bf16": 0.9}[dtype])
    logs.clear()
    run_experiment(_cfg(tmp_path, tiny_model_dir, steps=4, dtype="auto"), log=logs.append)
    assert len([line for line in logs if "up to date" in line]) == 5, logs
    assert json.loads((run / "train" / "run" / "run.json").read_text())["config"]["dtype"] == "fp32"
