"""benchmarks/icl_headroom.py: the demonstrations-only reference rebuilds a run's prompts,
classifies by class centroids, and pairs with the run; bad input is one line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from taskmix.errors import TaskmixError
from taskmix.evaluation import EvalConfig, compare_runs, read_run, run_eval
from tests.plugins.eval import FakeModel, make_classification_task
from tests.plugins.scripts import load_script

TASKS = {
    "toy": make_classification_task("toy", n_train=24, n_test=10),
    "toy3": make_classification_task("toy3", n_train=24, n_test=9, labels=("bad", "good", "fine")),
}
CUES = ("bad", "good", "fine")


class CueEncoder:
    """One axis per cue word ("... is good"): exemplars of a class share one unit vector."""

    path = Path("cue-encoder")
    fingerprint = "cue1"

    def encode(self, texts):
        return np.array([[float(t.endswith(c)) for c in CUES] for t in texts], dtype=np.float32)


def _run(tmp_path: Path):
    config = EvalConfig(model="fake", tasks=("toy", "toy3"), k=2, max_examples=8, seeds=(0, 1), block_size=4,
                        out=str(tmp_path / "base"), progress=False, plots=False, bootstrap_samples=200)
    return config, run_eval(config, model=FakeModel(), loader=TASKS.__getitem__)


def test_the_reference_sees_the_runs_prompts_and_scores_cosines_to_class_centroids(tmp_path):
    headroom = load_script("icl_headroom")
    config, run = _run(tmp_path)
    prompts = headroom.rebuilt_prompts(headroom.eval_config_of(read_run(tmp_path / "base")), TASKS.__getitem__)
    assert {p.setting for _, p in prompts} == {"instr_labels", "noinstr_labels", "instr_symbols", "noinstr_symbols"}
    assert len(prompts) == sum(1 for p in run.predictions if p.setting != "flipped") == 2 * 8 * 4 * 2
    headroom.check_rebuilt(prompts, run)
    preds = headroom.centroid_predictions(prompts, CueEncoder())
    # one-hot cues: the query's own class centroid has cosine 1, the others 0 (hand-computed)
    first = preds[0]
    assert first.scores == tuple(float(c == first.answer) for c in range(len(first.candidates)))
    assert all(p.correct for p in preds)
    reference = headroom.reference_run(config, run, preds, CueEncoder(), 0.1)
    assert {a.setting: a.accuracy for a in reference.averages} == dict.fromkeys(
        ("instr_labels", "noinstr_labels", "instr_symbols", "noinstr_symbols"), 1.0)
    diffs = {(d.task, d.setting): d for d in compare_runs(reference, run)}
    fake = run.score("average", "noinstr_labels").accuracy
    assert diffs[("average", "noinstr_labels")].diff == pytest.approx(fake - 1.0)


def test_a_run_whose_prompts_do_not_rebuild_is_refused(tmp_path):
    headroom = load_script("icl_headroom")
    config, run = _run(tmp_path)
    prompts = headroom.rebuilt_prompts(config, TASKS.__getitem__)
    moved = [dataclasses.replace(p, demo_set="elsewhere") if i == 3 else p for i, p in enumerate(run.predictions)]
    with pytest.raises(TaskmixError, match="does not rebuild"):
        headroom.check_rebuilt(prompts, dataclasses.replace(run, predictions=tuple(moved)))
    with pytest.raises(TaskmixError, match="rebuilt"):
        headroom.check_rebuilt(prompts[:-1], run)


def test_bad_input_is_one_line_and_nothing_written(tmp_path, capsys):
    headroom = load_script("icl_headroom")
    out, summary = tmp_path / "ref", tmp_path / "headroom.json"
    assert headroom.main(["--run", f"base={tmp_path / 'missing'}", "--out", str(out), "--json", str(summary)]) == 2
    assert headroom.main(["--run", "no-name", "--out", str(out), "--json", str(summary)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("icl_headroom: error:") for line in err)
    assert not out.exists() and not summary.exists()


def test_main_writes_the_reference_run_and_a_summary_and_refuses_a_clash(tmp_path, capsys):
    headroom = load_script("icl_headroom")
    _, run = _run(tmp_path)
    out, summary = tmp_path / "ref", tmp_path / "headroom.json"
    args = ["--run", f"base={tmp_path / 'base'}", "--out", str(out), "--json", str(summary), "--protocol", "toy"]
    assert headroom.main(args, loader=TASKS.__getitem__, encoder=CueEncoder()) == 0
    entry = json.loads(summary.read_text())["toy"]
    assert entry["settings"]["reference"]["noinstr_symbols"]["accuracy"] == 100.0
    fake = 100 * run.score("average", "noinstr_labels").accuracy
    assert entry["minus_reference"]["base"]["noinstr_labels"]["accuracy"][0] == round(fake - 100.0, 1)
    assert set(entry["datasets"]["reference"]) == {"toy", "toy3"}
    assert read_run(out).model == "nearest-centroid:cue-encoder" and "--protocol toy" in entry["command"]
    before = summary.read_bytes()
    base_files = {f.name: f.read_bytes() for f in (tmp_path / "base").iterdir()}
    # --out on the model's own run, a damaged summary, a run of other tasks: one line, nothing written
    clash = ["--run", f"base={tmp_path / 'base'}", "--out", str(tmp_path / "base"), "--json", str(summary)]
    assert headroom.main(clash, loader=TASKS.__getitem__, encoder=CueEncoder()) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert headroom.main(args[:4] + ["--json", str(bad)], loader=TASKS.__getitem__, encoder=CueEncoder()) == 2
    one = EvalConfig(model="fake", tasks=("toy",), k=2, max_examples=8, seeds=(0, 1), block_size=4,
                     out=str(tmp_path / "one"), progress=False, plots=False, bootstrap_samples=200)
    run_eval(one, model=FakeModel(), loader=TASKS.__getitem__)
    assert headroom.main(args[:2] + ["--run", f"one={tmp_path / 'one'}"] + args[2:], loader=TASKS.__getitem__,
                         encoder=CueEncoder()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("icl_headroom: error:") for line in err)
    assert summary.read_bytes() == before
    assert {f.name: f.read_bytes() for f in (tmp_path / "base").iterdir()} == base_files
