"""The INSTA tuning plan: one valid `taskmix run` config per (target, condition, protocol) at
equal budget, and the summary over targets on hand-computed per-target differences."""

from __future__ import annotations

import json

import pytest

from taskmix.errors import ConfigError
from taskmix.pipeline import insta_plan, insta_results
from taskmix.pipeline.experiment import load_experiment


def _plan(tmp_path, targets=("cb", "subj"), **kw):
    return insta_plan.InstaPlan(targets=targets, aligned_encoder=str(tmp_path / "enc"), runs=str(tmp_path / "runs"), **kw)


def test_conditions():
    assert insta_plan.conditions(insta_plan.InstaPlan()) == ("insta", "random0", "random1", "random2", "all")
    assert insta_plan.conditions(insta_plan.InstaPlan(aligned_encoder="e", draws=2)) == ("insta", "aligned", "random0", "random1", "all")


def test_every_condition_has_the_same_budget_and_protocol(tmp_path):
    runs = insta_plan.plan_runs(_plan(tmp_path))
    assert len(runs) == 2 * (2 + 2 * 6)  # per target: base 4-shot and 0-shot, then 6 conditions x 2 protocols
    tuned = [r for r in runs if "train" in r.config]
    assert len(tuned) == 12 and len({r.name for r in runs}) == len(runs)
    for key in ("build", "train", "eval", "model", "seed"):
        assert len({json.dumps(r.config[key], sort_keys=True) for r in tuned if r.targets == ("cb",)}) == 1, key
    train = tuned[0].config["train"]
    assert train["max_steps"] * train["batch_size"] == 3 * tuned[0].config["build"]["per_task_cap"]  # one pass
    assert train["label_loss"] == "context" and tuned[0].config["build"]["instruction_share"] == 1.0
    assert tuned[0].config["build"]["class_counts"] == "independent"  # the dense loss cannot count labels
    sel = {r.condition: r.config["select"] for r in tuned if r.targets == ("cb",)}
    assert sel["insta"] == {"target": "cb", "k": 3}
    assert sel["aligned"] == {"target": "cb", "k": 3, "encoder": str(tmp_path / "enc")}
    assert [sel[f"random{d}"]["draw"] for d in range(3)] == [0, 1, 2]
    assert sel["all"]["method"] == "all"
    evals = {(r.condition, r.protocol): r for r in runs if r.targets == ("cb",)}
    assert evals[("insta", "four_shot")].config["eval"]["k"] == 4
    zero = evals[("insta", "zero_shot")]
    assert zero.config["eval"]["k"] == 0 and zero.config["model"] == str(tmp_path / "runs" / "cb-insta" / "train" / "run" / "model")
    assert zero.config["eval"]["seeds"] == [0, 1, 2] and "train" not in zero.config
    assert zero.eval_folder == tmp_path / "runs" / "cb-insta-zeroshot" / "eval-base" / "results"
    assert evals[("insta", "four_shot")].eval_folder == tmp_path / "runs" / "cb-insta" / "eval-tuned" / "results"
    order = [r.name for r in runs]
    assert order.index("cb-insta") < order.index("cb-insta-zeroshot")


def test_written_configs_load_as_taskmix_run_configs(tmp_path, mirror):
    runs = insta_plan.plan_runs(_plan(tmp_path))
    paths = insta_plan.write_configs(runs, tmp_path / "configs", note="a test")
    insta_plan.validate_configs(paths)
    cfg = load_experiment(tmp_path / "configs" / "cb-random1.yaml")
    assert cfg.select.method == "random" and cfg.select.draw == 1 and "cb" not in cfg.select.pool
    index = insta_plan.read_index(tmp_path / "configs")
    assert [row["config"] for row in index] == [str(p) for p in paths]
    (tmp_path / "configs" / "cb-all.yaml").write_text("name: x\nselect: {target: cb, candidates: [cb]}\nbuild: {}\neval: {tasks: [cb]}\n")
    with pytest.raises(ConfigError, match=r"cb-all\.yaml: select: target 'cb' is in candidates"):
        insta_plan.validate_configs(paths)


PER_TARGET = {
    "a": {"insta_minus_random": [10.0, 20.0, 30.0], "insta_minus_all": [5.0]},
    "b": {"insta_minus_random": [0.0, -6.0, 3.0], "insta_minus_all": [-1.0]},
}


def test_summary_over_targets_on_hand_computed_differences():
    s = insta_results.summarise(PER_TARGET, seed=0, n_boot=4000)
    assert s["n_targets"] == 2
    # per target: INSTA minus the mean of the draws: a 20, b -1; the mean over targets 9.5.
    # Resampling two targets gives the means -1, 9.5, 20 with chances 1/4, 1/2, 1/4: the
    # 2.5% and 97.5% quantiles are the two extremes.
    assert s["insta_minus_random"] == {"mean": 9.5, "ci95": [-1.0, 20.0]}
    assert s["insta_minus_all"] == {"mean": 2.0, "ci95": [-1.0, 5.0]}
    assert "aligned_minus_random" not in s
    assert s["per_target"]["insta_minus_random"] == {"a": 20.0, "b": -1.0}
    assert s["n_targets_of"] == {"insta_minus_random": 2, "insta_minus_all": 2}
    same = insta_results.summarise({t: {"aligned_minus_random": [4.0]} for t in "xyz"})
    assert same["aligned_minus_random"] == {"mean": 4.0, "ci95": [4.0, 4.0]}
    g = insta_results.goals(s)
    assert g["insta_above_random"]["met"] is False and g["insta_at_least_all"]["met"] is True


def test_history_keeps_the_earlier_file():
    smollm2 = {"model": "smollm2-135m", "targets": {"subj": {}}}
    new = {"summary": {"n_targets": 5}}
    assert insta_results.keep_history(smollm2, new, "smollm2") == {**new, "history": {"smollm2": smollm2}}
    rerun = insta_results.keep_history({**new, "history": {"smollm2": smollm2}}, {"summary": {"n_targets": 6}}, "x")
    assert rerun["history"] == {"smollm2": smollm2} and rerun["summary"]["n_targets"] == 6
    assert insta_results.keep_history(None, new, "x") == new


def test_collect_pairs_each_condition_with_the_base_and_the_controls(tmp_path, tiny_model_dir, smollm2_dir, mirror):
    from taskmix.evaluation import EvalConfig, run_eval
    from tests.plugins.models import make_tiny_llama

    other = make_tiny_llama(tmp_path / "other", smollm2_dir, seed=1)
    folders = {}
    for label, model in (("a", tiny_model_dir), ("b", other)):
        folders[label] = tmp_path / label
        run_eval(EvalConfig(model=str(model), tasks=("subj",), settings=(insta_plan.SETTING,), k=1, max_examples=8,
                            seeds=(0, 1), out=str(folders[label]), progress=False, plots=False))
    # base, the draws and the whole pool are model a; INSTA is model b; nothing ran zero-shot
    models = {"base": "a", "insta": "b", "random0": "a", "random1": "a", "all": "a"}
    index = [{"target": "subj", "condition": c, "protocol": "four_shot", "config": "-", "run_dir": str(tmp_path / c),
              "eval": str(folders[m])} for c, m in models.items()]
    targets, diffs = insta_results.collect(index)
    block = targets["subj"]["four_shot"]
    assert "zero_shot" not in targets["subj"]
    gain = round(100 * (block["insta"]["accuracy"] - block["base"]["accuracy"]), 2)
    assert block["random0"]["minus_base"]["pp"] == 0.0
    from collections import Counter

    from taskmix.evaluation.results import read_run

    for cond, label in (("base", "a"), ("insta", "b")):  # the share of the most frequent prediction
        answers = Counter(p.prediction for p in read_run(folders[label]).predictions)
        assert block[cond]["top_prediction_share"] == pytest.approx(max(answers.values()) / sum(answers.values()), abs=1e-4)
    assert block["insta_minus_random"]["pp"] == pytest.approx(gain, abs=0.01)
    assert set(block["insta_minus_random"]["runs"]) == {"random0", "random1"}
    assert block["insta_minus_all"]["pp"] == pytest.approx(gain, abs=0.01)
    assert diffs["four_shot"]["accuracy"]["subj"]["insta_minus_random"] == pytest.approx([gain, gain], abs=0.01)
    summary = insta_results.summary_of(diffs, seed=0)
    assert summary["n_targets"] == 1 and summary["insta_minus_random"]["mean"] == pytest.approx(gain, abs=0.01)
    assert summary["insta_minus_random"]["ci95"][0] == summary["insta_minus_random"]["ci95"][1]  # one target
    assert summary["zero_shot"]["n_targets"] == 0 and "goals" in summary


def test_targets_are_checked_and_stale_configs_removed(tmp_path, mirror):
    from taskmix.errors import TaskmixError

    insta_plan.check_targets(["cb", "tweeteval/emotion"])
    with pytest.raises(TaskmixError, match="nosuchtask"):
        insta_plan.check_targets(["cb", "nosuchtask"])
    folder = tmp_path / "configs"
    insta_plan.write_configs(insta_plan.plan_runs(_plan(tmp_path)), folder)
    assert (folder / "subj-all.yaml").is_file()
    insta_plan.write_configs(insta_plan.plan_runs(_plan(tmp_path, draws=1)), folder)
    assert not (folder / "cb-random2.yaml").exists() and (folder / "cb-random0.yaml").is_file()
    assert len(list(folder.glob("*.yaml"))) == len(insta_plan.read_index(folder))


def test_bad_plans_and_indexes_are_one_line_errors(tmp_path):
    from taskmix.errors import TaskmixError

    with pytest.raises(TaskmixError, match="distinct targets"):
        insta_plan.InstaPlan(targets=("cb", "cb"))
    with pytest.raises(TaskmixError, match="draws, k and shots must be at least 1, got 0, 3, 4"):
        insta_plan.InstaPlan(draws=0)
    with pytest.raises(TaskmixError, match="no plan index"):
        insta_plan.read_index(tmp_path)
    index = tmp_path / insta_plan.INDEX_FILE
    for text, message in (("[{", "unreadable plan index"), ('{"target": "cb"}', "not a plan index"),
                          ('[{"target": "cb"}]', "not a plan index")):
        index.write_text(text)
        with pytest.raises(TaskmixError, match=message):
            insta_plan.read_index(tmp_path)
    # writing configs over an unreadable index says so instead of failing on it
    with pytest.raises(TaskmixError, match="delete it and write the configs again"):
        insta_plan.write_configs(insta_plan.plan_runs(_plan(tmp_path)), tmp_path)


def test_condition_info_reads_what_a_condition_trained_on(tmp_path):
    run = tmp_path / "cb-random0"
    (run / "select").mkdir(parents=True)
    (run / "select" / "selection.json").write_text(json.dumps({
        "tasks": [{"name": "sst2"}, {"name": "mr"}], "replaced": [{"task": "x", "reason": "r", "replaced_by": "mr"}],
        "removed_from_pool": ["cb"], "excluded_same_source": []}))
    (run / "build" / "mixture").mkdir(parents=True)
    (run / "build" / "mixture" / "manifest.json").write_text(json.dumps(
        {"n_prompts": 480, "tasks": {"sst2": {"written": 240}, "mr": {"written": 240}}}))
    log = run / "train" / "run" / "loss.jsonl"
    log.parent.mkdir(parents=True)
    # a training that stopped after its in-context check: no step yet, and a line cut by the kill
    log.write_text('{"step": 0, "icl": {"instr_labels": 0.5}}\n{"step": 5, "lo')
    info = insta_results.condition_info(run)
    assert info == {"tasks": ["sst2", "mr"], "replaced": [{"task": "x", "reason": "r", "replaced_by": "mr"}],
                    "removed_from_pool": ["cb"], "prompts": 480, "prompts_per_task": {"sst2": 240, "mr": 240}}
    log.write_text('{"step": 0, "icl": {}}\n{"step": 5, "loss": 2.0, "tokens": 900}\n{"step": 10, "loss": 1.5, "tokens": 1800}\n')
    info = insta_results.condition_info(run)
    assert info["steps"] == 10 and info["tokens_seen"] == 1800
    assert insta_results.condition_info(tmp_path / "not-run") == {}


def test_a_shared_pool_trains_each_control_once_and_evaluates_it_on_every_target(tmp_path, mirror):
    plan = _plan(tmp_path, shared_pool=True, targets=("cb", "rte", "subj"))
    insta_plan.check_plan(plan)
    pool = insta_plan.shared_pool_of(plan)
    assert len(pool) == 14 and not {"cb", "rte"} & set(pool)
    runs = insta_plan.plan_runs(plan)
    # base x 2 protocols; insta and aligned per target x 2; random0-2 and all once x 2
    assert len(runs) == 2 + 2 * 2 * 3 + 4 * 2 and len({r.name for r in runs}) == len(runs)
    assert [r.name for r in runs][:4] == ["shared-base", "shared-base-zeroshot", "cb-insta", "cb-insta-zeroshot"]
    assert [r.condition for r in runs][-2:] == ["aligned", "aligned"]  # the aligned encoder's runs come last
    shared = {r.name: r for r in runs if r.targets == plan.targets}
    assert sorted(shared) == sorted(["shared-base", "shared-base-zeroshot", *(f"shared-{c}{z}" for c in
                                     ("random0", "random1", "random2", "all") for z in ("", "-zeroshot"))])
    assert shared["shared-random1"].config["eval"]["tasks"] == ["cb", "rte", "subj"]
    assert shared["shared-random1"].config["select"] == {
        "instruction": "controls shared by cb, rte, subj", "k": 3, "candidates": list(pool), "method": "random", "draw": 1}
    insta = next(r for r in runs if r.name == "rte-insta")
    assert insta.config["select"] == {"target": "rte", "k": 3, "candidates": list(pool)}
    assert insta.config["eval"]["tasks"] == ["rte"]
    paths = insta_plan.write_configs(runs, tmp_path / "configs")
    insta_plan.validate_configs(paths)
    index = insta_plan.read_index(tmp_path / "configs")
    assert len(paths) == len(runs) and len(index) == 3 * (2 + 2 * 2 + 4 * 2)  # every target has every row
    rows = {(r["target"], r["condition"], r["protocol"]): r for r in index}
    assert rows[("subj", "random2", "zero_shot")]["eval"] == rows[("cb", "random2", "zero_shot")]["eval"]
    assert rows[("subj", "random2", "zero_shot")]["eval"].endswith("shared-random2-zeroshot/eval-base/results")


def test_a_condition_selecting_an_earlier_conditions_tasks_evaluates_its_model(tmp_path, mirror):
    plan = _plan(tmp_path, shared_pool=True, targets=("cb", "rte", "subj"))
    nli, sentiment = frozenset({"mnli", "snli", "qnli"}), frozenset({"sst2", "mr", "sst5"})
    selections = {("cb", "insta"): nli, ("rte", "insta"): nli, ("subj", "insta"): sentiment,
                  ("cb", "aligned"): frozenset({"mnli", "snli", "rte2"}), ("subj", "aligned"): sentiment}
    runs = {r.name: r for r in insta_plan.plan_runs(plan, selections)}
    root = tmp_path / "runs"
    assert "train" in runs["cb-insta"].config and "train" in runs["cb-aligned"].config
    for name, trained in (("rte-insta", "cb-insta"), ("subj-aligned", "subj-insta")):
        four, zero = runs[name], runs[f"{name}-zeroshot"]
        assert "train" not in four.config and "select" not in four.config
        assert four.config["model"] == zero.config["model"] == str(root / trained / "train" / "run" / "model")
        assert four.config["eval"] == runs[trained].config["eval"] | {"tasks": [name.split("-")[0]]}
        assert four.trained_dir == zero.trained_dir == root / trained
        assert four.eval_folder == root / name / "eval-base" / "results"
    assert "train" in runs["rte-aligned"].config  # no selection known: trained
    paths = insta_plan.write_configs(list(runs.values()), tmp_path / "configs")
    insta_plan.validate_configs(paths)
    assert "(the model trained in cb-insta: the same tasks)" in (tmp_path / "configs" / "rte-insta.yaml").read_text()
    rows = {(r["target"], r["condition"], r["protocol"]): r for r in insta_plan.read_index(tmp_path / "configs")}
    assert rows[("rte", "insta", "zero_shot")]["run_dir"] == str(root / "cb-insta")
    assert rows[("rte", "insta", "four_shot")]["eval"] == str(root / "rte-insta" / "eval-base" / "results")


def test_planned_selections_are_the_select_stages(tmp_path, mirror):
    from taskmix.pipeline.experiment import SelectSection
    from taskmix.pipeline.run import run_selection

    plan = insta_plan.InstaPlan(targets=("cb", "rte"), shared_pool=True, runs=str(tmp_path))
    chosen = insta_plan.planned_selections(plan)
    assert set(chosen) == {("cb", "insta"), ("rte", "insta")}  # no aligned encoder, no control
    pool = insta_plan.shared_pool_of(plan)
    assert chosen[("cb", "insta")] == {c.name for c in run_selection(SelectSection(target="cb", k=3, candidates=pool), 0).tasks}
    assert chosen[("cb", "insta")] == chosen[("rte", "insta")] == {"mnli", "snli", "qnli"}  # all-MiniLM-L6-v2, 2026-11-30


def test_the_markdown_table_averages_the_draws_and_leaves_out_what_did_not_run():
    def model(acc, bal, top):
        return {"accuracy": acc, "balanced_accuracy": bal, "top_prediction_share": top}

    def run(pp, bal, lo, hi):
        return {"pp": pp, "balanced_pp": bal, "ci95_pp": [lo, hi]}

    block = {"base": model(0.5, 0.5, 0.9), "insta": model(0.6, 0.55, 0.7),
             "random0": model(0.4, 0.45, 0.8), "random1": model(0.5, 0.55, 0.6), "all": model(0.55, None, 1.0),
             "insta_minus_random": {"pp": 15.0, "runs": {"random0": run(20.0, 10.0, 5.0, 30.0),
                                                          "random1": run(10.0, 0.0, -2.0, 20.0)}}}
    table = insta_results.markdown_table({"cb": {"four_shot": block}, "rte": {}})
    assert table.splitlines() == [
        "| target | view | base | INSTA | random (mean of 2) | all | INSTA - random |",
        "|---|---|---|---|---|---|---|",
        "| cb | four-shot | 50.0 / 50.0 / 90.0 | 60.0 / 55.0 / 70.0 | 45.0 / 50.0 / 70.0 | 55.0 / - / 100.0 "
        "| +15.0 / +5.0 ([+5.0, +30.0], [-2.0, +20.0]) |",
    ]
