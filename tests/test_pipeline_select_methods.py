"""The select section's methods (insta, random, all): config validation, the pool, the
equal-budget cap, stage keys of older runs, and the controls run through `taskmix run`."""

from __future__ import annotations

import json

import pytest

from taskmix.cli import main
from taskmix.config import to_dict
from taskmix.errors import ConfigError, TaskmixError
from taskmix.mixture.build import prompt_check
from taskmix.mixture.config import DEFAULT_TASKS, MixtureConfig
from taskmix.pipeline.experiment import ExperimentConfig, SelectSection, load_experiment
from taskmix.pipeline.run import run_experiment
from taskmix.selection.controls import draw_order

HEAD = "name: x\nbuild: {per_task_cap: 160}\neval: {tasks: [subj]}\n"


def _load(tmp_path, select: str):
    p = tmp_path / "exp.yaml"
    p.write_text(HEAD + f"select: {select}\n")
    return load_experiment(p)


@pytest.mark.parametrize("select, message", [
    ("{target: cb, candidates: [sst2, cb, mr]}", "target 'cb' is in candidates, the pool it is selected from; remove it"),
    ("{target: subj, k: 4, candidates: [sst2, mr, trec]}", "k 4 is larger than the 3 tasks of the pool"),
    ("{target: cb, k: 16}", r"k 16 is larger than the 15 tasks of the pool \(the symbol-tuning datasets without the target\)"),
    ("{target: subj, method: best}", "method must be one of insta, random, all, got 'best'"),
    ("{target: subj, draw: 1}", "draw applies to method random"),
    ("{target: subj, method: random, draw: -1}", "draw applies to method random and is 0 or more"),
    ("{target: subj, candidates: [sst2, sst2, mr]}", "candidates must not repeat a task"),
])
def test_bad_select_sections_fail_by_name(tmp_path, select, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, select)


def test_target_in_candidates_is_one_line_and_a_nonzero_exit(tmp_path, capsys):
    p = tmp_path / "exp.yaml"
    p.write_text(HEAD + "select: {target: rte, k: 2, candidates: [rte, mnli, snli]}\n")
    assert main(["run", str(p)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "target 'rte' is in candidates" in err and "remove it from candidates" in err
    assert not (tmp_path / "runs").exists()


def test_default_pool_leaves_the_target_out():
    cb = SelectSection(target="cb", k=3)
    assert "cb" not in cb.pool and len(cb.pool) == len(DEFAULT_TASKS) - 1 and cb.removed_from_pool == ("cb",)
    subj = SelectSection(target="subj", k=3)
    assert subj.pool == DEFAULT_TASKS and subj.removed_from_pool == ()
    assert SelectSection(target="cb", k=2, candidates=("sst2", "mr")).pool == ("sst2", "mr")


def test_the_select_key_of_earlier_runs_is_unchanged():
    earlier = {"target": "subj", "instruction": "", "k": 4, "candidates": [], "with_templates": True,
               "aggregate": "mean", "encoder": "", "exclude_same_source": True}  # the fields before method/draw
    assert SelectSection(target="subj", k=4).identity() == earlier
    drawn = SelectSection(target="subj", k=4, method="random", draw=2).identity()
    assert drawn == {**earlier, "method": "random", "draw": 2}
    assert set(to_dict(SelectSection(target="subj"))) == set(earlier) | {"method", "draw"}


def test_all_gets_the_budget_of_k_tasks():
    def mixture(method: str, n: int):
        cfg = ExperimentConfig(name="x", eval={"tasks": ["subj"]}, build={"per_task_cap": 160},
                               select=SelectSection(target="cb", k=3, method=method))
        return cfg.mixture_config(tuple(DEFAULT_TASKS[:n]))

    assert mixture("all", 15).per_task_cap == 32  # ceil(3 * 160 / 15): 480 prompts or more
    assert mixture("all", 14).per_task_cap == 35
    assert mixture("insta", 3).per_task_cap == 160 and mixture("random", 3).per_task_cap == 160


def test_prompt_check_says_why_a_task_yields_no_prompt(mirror):
    check = prompt_check(MixtureConfig(tasks=("sst2",), max_length=64, min_exemplars_per_class=1,
                                       max_exemplars_per_class=1, instruction_share=1.0))
    assert check("sst2") is None
    reason = check("agnews")
    assert "yields no prompt" in reason and "max_length 64" in reason
    with pytest.raises(TaskmixError, match="held out for evaluation"):
        check("subj")


# sst2 and cola fit 64 estimated tokens with one exemplar per class; rte and agnews do not
CANDIDATES = ("sst2", "cola", "rte", "agnews")
CONTROL = """
name: control
model: {model}
out: {out}
seed: 0
select: {{target: subj, k: {k}, method: {method}, candidates: [{candidates}]{draw}}}
build: {{per_task_cap: 4, tokenizer: "", max_length: 64, min_exemplars_per_class: 1, max_exemplars_per_class: 1, instruction_share: 1.0}}
eval: {{tasks: [subj], settings: [instr_labels], k: 0, max_examples: 2, progress: false, plots: false}}
report: false
"""


def _run_control(tmp_path, model, method, k, draw=None, extra=""):
    p = tmp_path / f"{method}.yaml"
    p.write_text(CONTROL.format(model=model, out=tmp_path / method, k=k, method=method, candidates=", ".join(CANDIDATES),
                                draw=(f", draw: {draw}" if draw is not None else "") + extra))
    run_experiment(load_experiment(p), log=lambda m: None)
    selection = json.loads((tmp_path / method / "select" / "selection.json").read_text())
    manifest = json.loads((tmp_path / method / "build" / "mixture" / "manifest.json").read_text())
    return selection, manifest


def test_random_draw_replaces_a_task_that_cannot_fit_and_says_so(tmp_path, tiny_model_dir, mirror):
    draw = next(d for d in range(20) if set(draw_order(CANDIDATES, 0, d, key="subj")[:2]) & {"rte", "agnews"})
    selection, manifest = _run_control(tmp_path, tiny_model_dir, "random", 2, draw)
    assert {t["name"] for t in selection["tasks"]} == {"sst2", "cola"} == set(manifest["tasks"])
    assert selection["method"] == "random" and selection["draw"] == {"seed": 0, "draw": draw}
    replaced = selection["replaced"]
    assert replaced and {r["task"] for r in replaced} <= {"rte", "agnews"}
    assert all("max_length 64" in r["reason"] and r["replaced_by"] in {"sst2", "cola"} for r in replaced)


def test_all_samples_the_buildable_pool_evenly_at_the_budget(tmp_path, tiny_model_dir, mirror):
    selection, manifest = _run_control(tmp_path, tiny_model_dir, "all", 1)
    assert [t["name"] for t in selection["tasks"]] == ["sst2", "cola"]
    assert {r["task"] for r in selection["replaced"]} == {"rte", "agnews"}
    assert all(r["replaced_by"] is None for r in selection["replaced"])
    assert selection["per_task_cap"] == 2  # ceil(1 * 4 / 2): the 4 prompts of one task, split evenly
    assert {k: v["written"] for k, v in manifest["tasks"].items()} == {"sst2": 2, "cola": 2}


def test_insta_through_taskmix_run_records_its_pool(tmp_path, tiny_model_dir, mirror, minilm_path):
    selection, manifest = _run_control(tmp_path, tiny_model_dir, "insta", 1, extra=f", encoder: {minilm_path}")
    assert selection["method"] == "insta" and selection["pool"] == list(CANDIDATES)
    assert len(selection["tasks"]) == 1 and selection["tasks"][0]["score"] != 0.0
    assert "draw" not in selection and "per_task_cap" not in selection and selection["replaced"] == []
    assert list(manifest["tasks"]) == [selection["tasks"][0]["name"]]
