"""Select-then-symbol-tune, the symbol mode of the INSTA tuning plan: its configs (symbol-tuning
mixtures at equal budget, symbol-eval targets scored in the symbol settings and flipped), its
collector and summary per setting and pooled, and one results file shared by both modes."""

from __future__ import annotations

import json

import pytest

from taskmix.errors import TaskmixError
from taskmix.evaluation.suites import suite_tasks
from taskmix.pipeline import experiment, insta_plan, insta_results
from taskmix.pipeline.experiment import load_experiment
from tests.plugins.scripts import load_script

SYMBOL_EVAL = {t.name for t in suite_tasks("symbol-eval")}


def _plan(tmp_path, **kw):
    return insta_plan.InstaPlan(**{"mode": "symbol", "aligned_encoder": str(tmp_path / "enc"), "runs": str(tmp_path / "runs"), **kw})


def test_symbol_plan_symbol_tunes_at_equal_budget_and_scores_the_symbol_settings(tmp_path):
    plan = _plan(tmp_path)
    assert plan.targets == ("subj", "tweeteval/hate") and all(t in SYMBOL_EVAL for t in plan.targets)
    runs = insta_plan.plan_runs(plan)
    assert len(runs) == 2 * (1 + 6)  # per target: the base model, then insta, aligned, 3 draws, all; 4-shot only
    assert {r.protocol for r in runs} == {"four_shot"} and all(r.name.startswith("sst-") for r in runs)
    tuned = [r for r in runs if "train" in r.config]
    assert len(tuned) == 12
    for target in plan.targets:
        for key in ("build", "train", "eval", "model", "seed"):
            assert len({json.dumps(r.config[key], sort_keys=True) for r in tuned if r.targets == (target,)}) == 1, key
    build, train, ev = tuned[0].config["build"], tuned[0].config["train"], tuned[0].config["eval"]
    assert build["instruction_share"] == 0.2 and build["per_task_cap"] == 160
    assert train["max_steps"] * train["batch_size"] == 3 * build["per_task_cap"]  # one pass, every condition
    assert train["lora"] is True and train["lr"] == 2e-4 and train["label_loss"] == "context"
    assert ev["settings"] == ["instr_symbols", "noinstr_symbols", "flipped"] and ev["k"] == 4 and ev["seeds"] == [0, 1, 2]
    base = next(r for r in runs if r.targets == ("subj",) and r.condition == "base")
    assert base.config["eval"] == ev and "train" not in base.config
    sel = {r.condition: r.config["select"] for r in tuned if r.targets == ("tweeteval/hate",)}
    assert sel["insta"] == {"target": "tweeteval/hate", "k": 3} and sel["all"]["method"] == "all"
    assert [sel[f"random{d}"]["draw"] for d in range(3)] == [0, 1, 2]
    # the instruction plan of the same targets writes other run folders
    other = insta_plan.plan_runs(insta_plan.InstaPlan(targets=plan.targets, runs=plan.runs))
    assert not {r.run_dir for r in runs} & {r.run_dir for r in other}
    assert {r.config["build"]["instruction_share"] for r in other if "train" in r.config} == {1.0}


def test_symbol_configs_load_and_their_pools_hold_no_evaluation_task(tmp_path, mirror):
    plan = _plan(tmp_path, aligned_encoder="", draws=2)
    insta_plan.check_plan(plan)
    paths = insta_plan.write_configs(insta_plan.plan_runs(plan), tmp_path / "configs")
    assert len(paths) == 2 * (1 + 4)
    insta_plan.validate_configs(paths)
    cfg = load_experiment(tmp_path / "configs" / "sst-tweeteval-hate-random1.yaml")
    assert cfg.select.method == "random" and cfg.select.pool and not set(cfg.select.pool) & SYMBOL_EVAL
    assert cfg.eval_config("m", "o").settings == ("instr_symbols", "noinstr_symbols", "flipped")


def test_symbol_plan_refuses_targets_outside_symbol_eval_and_pools_with_one(tmp_path, mirror, monkeypatch):
    with pytest.raises(TaskmixError, match="mode must be one of instruction, symbol"):
        insta_plan.InstaPlan(mode="symbols")
    insta_plan.check_plan(insta_plan.InstaPlan(targets=("cb",)))  # an instruction-mode target
    with pytest.raises(TaskmixError, match="symbol mode: target 'cb' is not a symbol-eval task"):
        insta_plan.check_plan(_plan(tmp_path, targets=("subj", "cb")))
    monkeypatch.setattr(experiment, "DEFAULT_TASKS", ("sst2", "mr", "subj", "rte"))
    with pytest.raises(TaskmixError, match="the pool of target 'tweeteval/hate' holds the evaluation task 'subj'"):
        insta_plan.check_plan(_plan(tmp_path))


def test_collect_symbol_mode_per_setting_and_pooled(tmp_path, tiny_model_dir, smollm2_dir, mirror):
    from taskmix.evaluation import EvalConfig, run_eval
    from tests.plugins.models import make_tiny_llama

    other = make_tiny_llama(tmp_path / "other", smollm2_dir, seed=1)
    folders = {}
    # model a scored on two targets (as a shared_pool control is), model b on subj alone
    for label, model, tasks in (("a", tiny_model_dir, ("subj", "tweeteval/hate")), ("b", other, ("subj",))):
        folders[label] = tmp_path / label
        run_eval(EvalConfig(model=str(model), tasks=tasks, settings=insta_plan.SYMBOL_SETTINGS, k=1, max_examples=8,
                            seeds=(0, 1), out=str(folders[label]), progress=False, plots=False))
    # base, the draws and the whole pool are model a; INSTA is model b
    models = {"base": "a", "insta": "b", "random0": "a", "random1": "a", "all": "a"}
    index = [{"target": "subj", "condition": c, "protocol": "four_shot", "config": "-", "run_dir": str(tmp_path / c),
              "eval": str(folders[m])} for c, m in models.items()]
    targets, diffs = insta_results.collect(index, "symbol")
    entry = targets["subj"]
    assert set(entry) == {"conditions", "symbols_mean", "instr_symbols", "noinstr_symbols", "flipped"}
    gain = {}
    for setting in insta_plan.SYMBOL_SETTINGS:
        block = entry[setting]
        gain[setting] = round(100 * (block["insta"]["accuracy"] - block["base"]["accuracy"]), 2)
        assert block["random1"]["minus_base"]["pp"] == 0.0
        assert block["insta_minus_random"]["pp"] == pytest.approx(gain[setting], abs=0.01)
        assert block["insta_minus_all"]["pp"] == pytest.approx(gain[setting], abs=0.01)
    pooled = entry["symbols_mean"]
    # the same 16 queries per symbol setting: the pooled row is the mean of the two settings
    for cond in ("base", "insta", "random0"):  # subj's cells only, though model a also scored hate
        assert pooled[cond]["accuracy"] == pytest.approx(
            (entry["instr_symbols"][cond]["accuracy"] + entry["noinstr_symbols"][cond]["accuracy"]) / 2, abs=1e-4)
    mean_gain = (gain["instr_symbols"] + gain["noinstr_symbols"]) / 2
    assert pooled["insta_minus_random"]["pp"] == pytest.approx(mean_gain, abs=0.01)
    assert diffs["symbols_mean"]["accuracy"]["subj"]["insta_minus_random"] == pytest.approx([mean_gain] * 2, abs=0.01)
    summary = insta_results.summary_of(diffs, seed=0, mode="symbol")
    assert summary["n_targets"] == 1 and summary["insta_minus_random"]["mean"] == pytest.approx(mean_gain, abs=0.01)
    assert summary["flipped"]["insta_minus_all"]["mean"] == pytest.approx(gain["flipped"], abs=0.01)
    assert "symbols_mean" in summary["protocol"] and "zero_shot" not in summary and "goals" in summary
    # without a base run: the accuracies alone, the pooled one the mean of the two settings
    alone, _ = insta_results.collect([r for r in index if r["condition"] != "base"], "symbol")
    assert alone["subj"]["symbols_mean"]["insta"]["accuracy"] == pytest.approx(pooled["insta"]["accuracy"], abs=1e-4)


SMOLLM2 = {"model": "smollm2-135m", "targets": {"subj": {}}}


def test_each_mode_keeps_the_other_modes_results():
    sym, sym2 = {"summary": {"n_targets": 2}}, {"summary": {"n_targets": 3}}
    instr, instr2 = {"summary": {"n_targets": 5}}, {"summary": {"n_targets": 6}}
    first = insta_results.merge_results(SMOLLM2, sym, "symbol", "old")
    assert first == {**SMOLLM2, "select_then_symbol_tune": sym}
    second = insta_results.merge_results(first, instr, "instruction", "old")
    assert second == {**instr, "history": {"old": SMOLLM2}, "select_then_symbol_tune": sym}
    third = insta_results.merge_results(second, sym2, "symbol", "old")
    assert third == {**instr, "history": {"old": SMOLLM2}, "select_then_symbol_tune": sym2}
    fourth = insta_results.merge_results(third, instr2, "instruction", "old")
    assert fourth == {**instr2, "history": {"old": SMOLLM2}, "select_then_symbol_tune": sym2}
    assert insta_results.merge_results(None, sym, "symbol", "old") == {"select_then_symbol_tune": sym}


def _script():
    return load_script("insta_tuning")


def test_the_runner_keeps_the_other_modes_results_in_the_file(tmp_path, mirror):
    script = _script()
    out = tmp_path / "insta_tuning.json"
    out.write_text(json.dumps({"summary": {"n_targets": 5}, "targets": {"cb": {}}, "history": {"old": SMOLLM2}}))
    common = ["--collect-only", "--no-aligned", "--no-reuse", "--draws", "1", "--runs", str(tmp_path / "runs"), "--out", str(out)]
    assert script.main(["--symbol", "--configs", str(tmp_path / "sym"), *common]) == 0
    data = json.loads(out.read_text())
    assert data["summary"] == {"n_targets": 5} and data["targets"] == {"cb": {}} and data["history"] == {"old": SMOLLM2}
    sym = data["select_then_symbol_tune"]
    assert sym["plan"]["mode"] == "symbol" and set(sym["targets"]) == {"subj", "tweeteval/hate"}
    assert len(list((tmp_path / "sym").glob("*.yaml"))) == 2 * (1 + 3)
    assert script.main(["--targets", "cb", "--configs", str(tmp_path / "instr"), *common, "--note", "ran alone"]) == 0
    data = json.loads(out.read_text())
    assert data["select_then_symbol_tune"] == sym and data["plan"]["mode"] == "instruction"
    assert data["history"] == {"old": SMOLLM2} and set(data["targets"]) == {"cb"}
    # the notes say the budget and what has no results (nothing ran here), then the user's line
    budget, missing, user = data["notes"]
    assert budget.startswith("Budget: 60 steps x 8 = 480 prompts per condition (LoRA r 16, lr 0.0002")
    assert missing == ("Without results (left out of every figure): base (four_shot): cb; base (zero_shot): cb; "
                       "insta (four_shot): cb; insta (zero_shot): cb; random0 (four_shot): cb; "
                       "random0 (zero_shot): cb; all (four_shot): cb; all (zero_shot): cb")
    assert user == "ran alone" and sym["notes"][-1].startswith("Without results")


def test_the_runner_records_the_encoder_and_refuses_an_unreadable_results_file(tmp_path, mirror):
    script = _script()
    enc = tmp_path / "enc"
    enc.mkdir()
    (enc / "taskmix_align.json").write_text(json.dumps({"epochs": 1, "pairs": 10}))
    out = tmp_path / "insta_tuning.json"
    common = ["--collect-only", "--no-reuse", "--targets", "cb", "--draws", "1", "--runs", str(tmp_path / "runs"),
              "--configs", str(tmp_path / "configs"), "--out", str(out)]
    assert script.main([*common, "--aligned-encoder", str(enc)]) == 0
    assert json.loads(out.read_text())["aligned_encoder"] == {"path": str(enc.resolve()), "epochs": 1, "pairs": 10}
    assert script.main([*common, "--aligned-encoder", str(tmp_path / "untrained")]) == 0
    assert json.loads(out.read_text())["aligned_encoder"] is None
    for text, message in (('{"summary": ', "unreadable results file"), ("[1]", "not a results file")):
        out.write_text(text)
        with pytest.raises(TaskmixError, match=message):
            script.main([*common, "--no-aligned"])
        assert out.read_text() == text  # never overwritten


def test_a_plan_whose_steps_do_not_make_one_pass_is_refused(mirror):
    insta_plan.check_plan(insta_plan.InstaPlan(targets=("cb",)))  # 60 x 8 == 3 x 160
    with pytest.raises(TaskmixError, match=r"steps x batch size \(60 x 8 = 480 prompts\) must equal k x per-task cap \(5 x 160 = 800\)"):
        insta_plan.check_plan(insta_plan.InstaPlan(targets=("cb",), k=5))
