"""`taskmix compare`: paired differences over seeds and demonstration sets, and refusals."""

from __future__ import annotations

import pytest

from taskmix.cli import main
from taskmix.errors import TaskmixError
from taskmix.evaluation.compare import compare_runs, describe, format_differences, prompts_digest
from taskmix.evaluation.results import PREDICTIONS_FILE, EvalRun, Prediction, write_run
from taskmix.evaluation.stats import paired_bootstrap_difference
from taskmix.seeding import derive_seed
from tests.test_eval_cli import one_line_error


def pred(seed, uid, correct, answer, demo_set="", task="t", setting="s"):
    return Prediction(task=task, setting=setting, example_uid=uid, correct=bool(correct), answer=answer,
                      prediction=answer if correct else 1 - answer, candidates=(" a", " b"), seed=seed,
                      demo_set=demo_set)


def run(preds, model="m", **config) -> EvalRun:
    return EvalRun("key-" + model, {"k": 2, "seed": 0, **config}, model, model, (), (), tuple(preds))


def two_seed_runs(demo_sets=True):
    """Seeds 0 and 1, the same two examples (x: class 0, y: class 1) under each; under
    seed 0 base gets y wrong and tuned gets it right; under seed 1 both get everything."""
    block = (lambda s: f"block{s}") if demo_sets else (lambda s: "")
    base = [pred(0, "x", 1, 0, block(0)), pred(0, "y", 0, 1, block(0)), pred(1, "x", 1, 0, block(1)), pred(1, "y", 1, 1, block(1))]
    tuned = [pred(0, "x", 1, 0, block(0)), pred(0, "y", 1, 1, block(0)), pred(1, "x", 1, 0, block(1)), pred(1, "y", 1, 1, block(1))]
    tuned.append(pred(2, "x", 1, 0, block(2)))  # a seed base did not run: not paired
    return run(base, "base"), run(tuned, "tuned")


def test_paired_compare_pools_seeds_and_resamples_demonstration_sets_by_hand():
    # the seed-0 block moves by +0.5 (accuracy and balanced accuracy), the seed-1 block by 0;
    # replicates draw blocks (0,0), (0,1), (1,1): +0.5, +0.25, 0, so 0.25 in [0, 0.5]
    (row,) = compare_runs(*two_seed_runs(), seed=0, n_boot=2000)
    assert (row.task, row.setting, row.n, row.clusters) == ("t", "s", 4, 2)
    assert (row.acc_a, row.acc_b, row.diff, row.ci_low, row.ci_high) == (0.75, 1.0, 0.25, 0.0, 0.5)
    assert (row.bal_a, row.bal_b, row.bal_diff, row.bal_low, row.bal_high) == (0.75, 1.0, 0.25, 0.0, 0.5)
    assert not row.excludes_zero


def test_without_demonstration_sets_every_pair_is_its_own_cluster():
    (row,) = compare_runs(*two_seed_runs(demo_sets=False), seed=0, n_boot=500)
    # pairs in (seed, uid) order: x0, y0, x1, y1; the per-example paired bootstrap, same seed
    expected = paired_bootstrap_difference([[1, 0, 1, 1]], [[1, 1, 1, 1]], derive_seed(0, "t", "s") % 2**32, 500)
    assert (row.diff, row.ci_low, row.ci_high) == expected
    assert row.clusters == 4


def test_one_demonstration_set_per_dataset_gives_no_interval():
    base = [pred(0, u, c, 0, "all") for u, c in zip("abcd", [0, 0, 1, 0])]
    tuned = [pred(0, u, 1, 0, "all") for u in "abcd"]
    (row,) = compare_runs(run(base), run(tuned, "tuned"), n_boot=200)
    assert row.no_interval and not row.excludes_zero and (row.ci_low, row.ci_high) == (-1.0, 1.0)
    (sentence,) = describe((row,), "base", "tuned")
    assert "+75.0 pp accuracy" in sentence and "no interval" in sentence and "more seeds" in sentence


def test_describe_says_whether_the_interval_excludes_zero():
    base = [pred(0, f"u{i}", 0, i % 2, task=t) for t in ("t1", "t2") for i in range(20)]
    tuned = [pred(0, f"u{i}", 1, i % 2, task=t) for t in ("t1", "t2") for i in range(20)]
    rows = compare_runs(run(base), run(tuned, "tuned"), n_boot=200)
    assert [r.task for r in rows] == ["t1", "t2", "average"]
    (sentence,) = describe(rows, "base", "tuned")
    assert sentence.startswith("s (mean over 2 datasets): tuned - base = +100.0 pp accuracy (0.0 -> 100.0)")
    assert "excludes 0 (tuned better)" in sentence and "balanced accuracy +100.0 pp" in sentence
    text = format_differences(rows, "base", "tuned")
    assert text.splitlines()[3] == describe(rows, "A", "B")[0] and "+100.0 [+100.0, +100.0] *" in text


def test_runs_shown_different_prompts_or_sharing_nothing_are_refused():
    base, tuned = two_seed_runs()
    with pytest.raises(TaskmixError, match=r"different prompts \(k: 2 vs 4\)"):
        compare_runs(base, run(tuned.predictions, "tuned", k=4))
    moved = [Prediction(**{**p.to_json(), "candidates": p.candidates, "demo_set": "other"}) for p in tuned.predictions]
    with pytest.raises(TaskmixError, match=r"t / s example 'x' \(seed 0\) has demo_set 'block0' vs 'other'"):
        compare_runs(base, run(moved, "tuned"))
    elsewhere = [Prediction(**{**p.to_json(), "candidates": p.candidates, "task": "z"}) for p in tuned.predictions]
    with pytest.raises(TaskmixError, match="share no scored example"):
        compare_runs(base, run(elsewhere, "tuned"))


def test_compare_command_exits_non_zero_when_nothing_can_be_compared(tmp_path, capsys):
    base, tuned = two_seed_runs()
    write_run(tmp_path / "base", base, plots=False)
    write_run(tmp_path / "tuned", tuned, plots=False)
    assert main(["compare", str(tmp_path / "base"), str(tmp_path / "tuned")]) == 0
    out = capsys.readouterr().out
    assert "s (t): B - A = +25.0 pp accuracy (75.0 -> 100.0), 95% interval [+0.0, +50.0] includes 0" in out
    other = [Prediction(**{**p.to_json(), "candidates": p.candidates, "example_uid": "new"}) for p in tuned.predictions]
    write_run(tmp_path / "other", run(other, "tuned"), plots=False)
    one_line_error(capsys, ["compare", str(tmp_path / "base"), str(tmp_path / "other")], "share no scored example")
    (tmp_path / "tuned" / PREDICTIONS_FILE).unlink()
    one_line_error(capsys, ["compare", str(tmp_path / "base"), str(tmp_path / "tuned")], "no predictions.jsonl")


def test_a_pool_of_settings_is_the_mean_over_all_its_cells_with_one_interval():
    # two datasets x two symbol settings, four queries each (two blocks of two); per cell the
    # queries base and tuned get right: the cell gains are 0, +0.25, +0.5, +0.25 -> pooled +0.25
    right = {("t1", "instr_symbols"): ([1, 1, 0, 0], [1, 1, 0, 0]),
             ("t2", "instr_symbols"): ([1, 0, 0, 0], [1, 1, 0, 0]),
             ("t1", "noinstr_symbols"): ([1, 0, 0, 0], [1, 1, 1, 0]),
             ("t2", "noinstr_symbols"): ([0, 0, 0, 0], [1, 0, 0, 0])}
    base = [pred(0, f"u{i}", c, i % 2, f"b{i // 2}", task, setting)
            for (task, setting), (b, _) in right.items() for i, c in enumerate(b)]
    tuned = [pred(0, f"u{i}", c, i % 2, f"b{i // 2}", task, setting)
             for (task, setting), (_, t) in right.items() for i, c in enumerate(t)]
    rows = compare_runs(run(base), run(tuned, "tuned"), n_boot=300, pools={"symbols_mean": ("instr_symbols", "noinstr_symbols")})
    pooled = next(r for r in rows if r.setting == "symbols_mean")
    per_setting = {r.setting: r.diff for r in rows if r.task == "average" and r.setting != "symbols_mean"}
    assert per_setting == {"instr_symbols": 0.125, "noinstr_symbols": 0.375}
    assert (pooled.task, pooled.n, pooled.clusters) == ("average", 16, 8)
    assert pooled.diff == pytest.approx(0.25)
    assert pooled.ci_low <= 0.25 <= pooled.ci_high
    # a pool with a setting that was not compared is left out
    assert not [r for r in compare_runs(run(base), run(tuned, "tuned"), n_boot=50, pools={"x": ("instr_symbols", "flipped")})
                if r.setting == "x"]


def test_prompts_digest_is_what_a_run_was_shown_not_what_it_answered():
    base, _ = two_seed_runs()
    other_answers = run([pred(p.seed, p.example_uid, not p.correct, p.answer, p.demo_set) for p in reversed(base.predictions)],
                        "other")
    assert prompts_digest(other_answers) == prompts_digest(base)  # another model, other order, same prompts
    assert prompts_digest(run(base.predictions, "base", k=4)) != prompts_digest(base)
    moved = [pred(p.seed, p.example_uid, p.correct, p.answer, "other" if p.example_uid == "x" else p.demo_set)
             for p in base.predictions]
    assert prompts_digest(run(moved, "base")) != prompts_digest(base)
    assert prompts_digest(run(base.predictions[:3], "base")) != prompts_digest(base)


def test_runs_with_other_seed_lists_pair_on_the_seeds_both_evaluated(tmp_path, capsys):
    base, tuned = two_seed_runs()
    three = run(base.predictions, "base", seeds=[0, 1], dtype="bf16")
    one = run([p for p in tuned.predictions if p.seed == 0], "tuned", seeds=[0], dtype="bf16")
    (row,) = compare_runs(three, one, n_boot=200)
    # seed 0 only: x right in both, y wrong in base and right in tuned
    assert (row.n, row.acc_a, row.acc_b, row.diff) == (2, 0.5, 1.0, 0.5)
    with pytest.raises(TaskmixError, match=r"share no seed \(0, 1 vs 2\)"):
        compare_runs(three, run(tuned.predictions, "tuned", seeds=[2], dtype="bf16"))
    write_run(tmp_path / "three", three, plots=False)
    write_run(tmp_path / "one", one, plots=False)
    assert main(["compare", str(tmp_path / "three"), str(tmp_path / "one")]) == 0
    out = capsys.readouterr().out
    assert "pairs come from the seeds both evaluated: 0\n" in out and "other dtypes" not in out
    write_run(tmp_path / "fp32", run(one.predictions, "tuned", seeds=[0], dtype="fp32"), plots=False)
    assert main(["compare", str(tmp_path / "one"), str(tmp_path / "fp32")]) == 0
    out = capsys.readouterr().out
    assert "note: the runs used other dtypes (bf16 vs fp32)" in out


def test_agree_is_the_share_of_paired_queries_answered_alike_averaged_over_datasets():
    # t1: base answers 0,0,1,1 and tuned 0,1,1,0 (2 of 4 alike); t2: all four alike
    def preds(given, task):
        return [Prediction(task=task, setting="s", example_uid=f"u{i}", correct=g == 0, answer=0, prediction=g,
                           candidates=(" a", " b")) for i, g in enumerate(given)]
    base = run(preds([0, 0, 1, 1], "t1") + preds([1, 0, 1, 0], "t2"))
    tuned = run(preds([0, 1, 1, 0], "t1") + preds([1, 0, 1, 0], "t2"), "tuned")
    rows = {r.task: r for r in compare_runs(base, tuned, n_boot=50)}
    assert (rows["t1"].agree, rows["t2"].agree, rows["average"].agree) == (0.5, 1.0, 0.75)
    # the same accuracy can hide changed answers: t1's accuracy is 50% in both runs
    assert rows["t1"].diff == 0.0
    generated = [Prediction(task="g", setting="s", example_uid=u, correct=False, target="x", generated=t)
                 for u, t in (("a", "yes"), ("b", "no"))]
    other = [Prediction(task="g", setting="s", example_uid=u, correct=False, target="x", generated=t)
             for u, t in (("a", "yes"), ("b", "maybe"))]
    (row,) = compare_runs(run(generated), run(other, "other"), n_boot=50)
    assert row.agree == 0.5
    assert "same %" in format_differences(tuple(rows.values()), "base", "tuned")
