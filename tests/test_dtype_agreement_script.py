"""benchmarks/dtype_agreement.py: re-evaluates part of a stored run in another dtype on the same
prompts, reuses a folder that holds that evaluation, and reports agreement; bad input is one line."""

from __future__ import annotations

import argparse
import dataclasses
import json

from taskmix.evaluation import EvalConfig, read_run, run_eval
from taskmix.models.precision import with_concrete_dtype
from tests.plugins.eval import FakeModel, make_classification_task
from tests.plugins.scripts import load_script

TASKS = {
    "toy": make_classification_task("toy", n_train=24, n_test=10),
    "toy3": make_classification_task("toy3", n_train=24, n_test=9, labels=("bad", "good", "fine")),
}


def test_a_check_on_the_same_prompts_is_reused_and_agrees_with_its_reference(tmp_path, capsys):
    script = load_script("dtype_agreement")
    reference = EvalConfig(model="fake", tasks=("toy", "toy3"), k=2, max_examples=8, seeds=(0, 1), block_size=4,
                           dtype="bf16", out=str(tmp_path / "reference"), progress=False, plots=False,
                           bootstrap_samples=200)
    run_eval(reference, model=FakeModel(), loader=TASKS.__getitem__)
    args = ["--reference", str(tmp_path / "reference"), "--dtype", "fp32", "--tasks", "toy3",
            "--settings", "noinstr_symbols,noinstr_labels", "--seeds", "1", "--eval-out", str(tmp_path / "check"),
            "--out", str(tmp_path / "agreement.json")]
    parsed = argparse.Namespace(tasks="toy3", settings="noinstr_symbols,noinstr_labels", seeds="1", dtype="fp32",
                                eval_out=str(tmp_path / "check"))
    check = script.check_config(read_run(tmp_path / "reference").config, parsed)
    # the reference's protocol on a subset: one task, two settings, seed 1 only, in fp32
    assert (check.tasks, check.settings, check.seeds, check.seed, check.dtype, check.block_size, check.k) == (
        ("toy3",), ("noinstr_symbols", "noinstr_labels"), (1,), 1, "fp32", 4, 2)
    made = run_eval(dataclasses.replace(check, progress=False), model=FakeModel(), loader=TASKS.__getitem__)
    assert made.run_key == with_concrete_dtype(check, "cpu").run_key()
    assert script.main(args) == 0  # reuses the folder: no model is loaded
    result = json.loads((tmp_path / "agreement.json").read_text())
    assert result["check"]["reused_stored_run"] is True and result["check"]["prompts"] == 16
    assert result["same_answer_pct"] == 100.0  # the same (fake) model: every answer alike
    assert set(result["per_setting"]) == {"noinstr_symbols", "noinstr_labels"}
    assert all(r["difference_pp"] == [0.0, 0.0, 0.0] and r["n"] == 8 for r in result["per_setting"].values())
    assert "wrote" in capsys.readouterr().out


def test_a_missing_reference_is_one_line_and_exit_2(tmp_path, capsys):
    script = load_script("dtype_agreement")
    rc = script.main(["--reference", str(tmp_path / "nope"), "--tasks", "toy", "--settings", "flipped",
                      "--eval-out", str(tmp_path / "check"), "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not an evaluation run" in err
    assert not (tmp_path / "a.json").exists()
