"""Cluster bootstrap, per-cell summaries and diagnostics against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taskmix.evaluation.results import EvalRun, Prediction, read_run, write_run
from taskmix.evaluation.stats import (
    Outcomes, cluster_bootstrap, cluster_index, paired_bootstrap_difference, paired_cluster_bootstrap,
    stratified_bootstrap_mean, wilson_interval,
)
from taskmix.evaluation.summary import (
    CellOutcomes, Diagnostics, average_cells, has_interval, run_diagnostics, summarize_cell,
)
from taskmix.seeding import derive_seed


def singletons(values) -> Outcomes:
    return Outcomes(np.asarray(values, dtype=float), np.arange(len(values)))


def test_one_prompt_per_cluster_gives_the_per_example_numbers():
    groups = [[1, 1, 0, 1, 0, 1, 1, 0, 0, 1], [0, 0, 1, 0, 0, 0, 1]]
    # the values stratified_bootstrap_mean gave before clusters existed (same seed)
    expected = (0.44285714285714284, 0.22142857142857142, 0.660892857142857)
    assert stratified_bootstrap_mean(groups, seed=7, n_boot=300) == expected
    assert cluster_bootstrap([singletons(g) for g in groups], seed=7, n_boot=300) == expected
    a, b = [0, 0, 1, 1, 0, 1], [1, 0, 1, 1, 1, 0]
    expected = (0.16666666666666666, -0.3333333333333333, 0.6666666666666666)
    assert paired_bootstrap_difference([a], [b], seed=3, n_boot=300) == expected
    assert paired_cluster_bootstrap([singletons(a)], [singletons(b)], seed=3, n_boot=300) == expected


def test_blocks_sharing_one_answer_get_the_interval_of_the_block_count():
    # 100 queries in 10 blocks of 10; every block's queries share one outcome (6 blocks right)
    blocks = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1]
    correct = np.repeat(blocks, 10).astype(float)
    clustered = cluster_bootstrap([Outcomes(correct, np.repeat(np.arange(10), 10))], seed=1, n_boot=2000)
    as_ten = stratified_bootstrap_mean([blocks], seed=1, n_boot=2000)  # 10 independent queries
    as_hundred = cluster_bootstrap([singletons(correct)], seed=1, n_boot=2000)  # pretending independence
    assert clustered == pytest.approx(as_ten)
    assert clustered[0] == 0.6
    width = clustered[2] - clustered[1]
    assert width > 2.5 * (as_hundred[2] - as_hundred[1])
    assert width > 0.5  # about +-0.3 for 10 draws at p = 0.6, against +-0.1 for 100


def test_cluster_index_numbers_clusters_in_first_seen_order():
    assert cluster_index(["s1", "s0", "s1", "x", "s0"]).tolist() == [0, 1, 0, 2, 1]
    assert cluster_index([]).tolist() == []


def test_balanced_accuracy_bootstrap_point_and_two_cluster_interval():
    # gold 0 0 0 0 | 1 1 in two clusters; recall class 0 = 1/4, class 1 = 2/2 -> 0.625
    o = Outcomes(np.array([1, 0, 0, 0, 1, 1.0]), np.arange(6), np.array([0, 0, 0, 0, 1, 1]))
    assert cluster_bootstrap([o], seed=0, n_boot=200, balanced=True)[0] == pytest.approx(0.625)
    # cluster 0 holds class 0 (all right), cluster 1 class 1 (all wrong): a replicate of
    # only one cluster has one class present, recall 1 or 0; both: 0.5
    two = Outcomes(np.array([1, 1, 0, 0.0]), np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]))
    point, lo, hi = cluster_bootstrap([two], seed=0, n_boot=4000, balanced=True)
    assert (point, lo, hi) == (0.5, 0.0, 1.0)


def test_paired_compare_over_two_clusters_by_hand():
    # seed 0's block: A right on 1 of 2, B on 2 of 2 (+0.5); seed 1's block: both 2 of 2 (0).
    # Replicates draw the blocks (0,0), (0,1), (1,1): differences 0.5, 0.25, 0, so the 95%
    # interval is [0, 0.5] around 0.25; balanced accuracy (class 0 then class 1 in each
    # block) moves the same way
    clusters, answers = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    a = Outcomes(np.array([1, 0, 1, 1.0]), clusters, answers)
    b = Outcomes(np.array([1, 1, 1, 1.0]), clusters, answers)
    assert paired_cluster_bootstrap([a], [b], seed=5, n_boot=4000) == (0.25, 0.0, 0.5)
    assert paired_cluster_bootstrap([a], [b], seed=5, n_boot=4000, balanced=True) == (0.25, 0.0, 0.5)


def pred(i: int, correct: bool, answer=0, prediction=0, demo_set: str = "", seed: int = 0, task="t", setting="s", **kw):
    return Prediction(task=task, setting=setting, example_uid=f"u{i}", correct=correct, answer=answer,
                      prediction=prediction, candidates=(" a", " b"), seed=seed, demo_set=demo_set, **kw)


def cell_of(preds) -> CellOutcomes:
    cell = CellOutcomes("t", "s")
    cell.add(preds)
    return cell


def test_summarize_cell_keeps_wilson_for_fresh_exemplars_and_resamples_blocks():
    outcomes = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 1]
    fresh = summarize_cell(cell_of(pred(i, bool(c)) for i, c in enumerate(outcomes)), seed=0, n_boot=500)
    assert (fresh.n, fresh.correct) == (12, 8)
    assert (fresh.ci_low, fresh.ci_high) == wilson_interval(8, 12)
    assert dict(fresh.extra)["interval"] == "wilson" and dict(fresh.extra)["clusters"] == "12"
    blocks = summarize_cell(cell_of(pred(i, bool(c), demo_set=f"b{i // 4}") for i, c in enumerate(outcomes)),
                            seed=0, n_boot=500)
    extra = dict(blocks.extra)
    assert extra["interval"] == "cluster bootstrap (500)"
    assert (extra["clusters"], extra["largest_cluster"]) == ("3", "4")
    assert blocks.accuracy == fresh.accuracy and has_interval(blocks)
    # one demonstration set for every query: nothing to resample, so no interval
    one = summarize_cell(cell_of(pred(i, bool(c), demo_set="all") for i, c in enumerate(outcomes)), seed=0, n_boot=500)
    assert (one.ci_low, one.ci_high) == (0.0, 1.0) and not has_interval(one)


def test_the_same_demo_set_id_under_two_seeds_is_two_clusters():
    cell = cell_of([pred(0, True, demo_set="b0", seed=0), pred(1, False, demo_set="b0", seed=0),
                    pred(0, True, demo_set="b0", seed=1), pred(1, True, demo_set="b0", seed=1)])
    d = cell.diagnostics()
    assert (d.clusters, d.largest_cluster) == (2, 2)


def test_a_default_answer_cannot_hide():
    # 8 of 10 gold answers are class 0 and the model always answers 0: accuracy 0.8,
    # balanced accuracy (recall 1 for class 0, 0 for class 1) 0.5, one answer for all
    preds = [pred(i, i < 8, answer=0 if i < 8 else 1, prediction=0) for i in range(10)]
    score = summarize_cell(cell_of(preds), seed=0, n_boot=200)
    d = Diagnostics.of(score)
    assert score.accuracy == 0.8
    assert (d.balanced_accuracy, d.top_share, d.chance, d.classes) == (0.5, 1.0, 0.5, 2)
    assert d.one_answer
    assert d.balanced_ci[0] <= 0.5 <= d.balanced_ci[1]
    varied = cell_of(pred(i, True, answer=i % 2, prediction=i % 2) for i in range(10)).diagnostics()
    assert (varied.balanced_accuracy, varied.top_share) == (1.0, 0.5) and not varied.one_answer


def test_free_form_cells_count_the_most_frequent_generated_answer():
    gens = ["[1]", "[1]", "[2]", "[1]", "[]"]
    preds = [Prediction(task="t", setting="s", example_uid=f"u{i}", correct=g == "[1]", target="[1]", generated=g)
             for i, g in enumerate(gens)]
    score = summarize_cell(cell_of(preds), seed=0, n_boot=200)
    d = Diagnostics.of(score)
    assert dict(score.extra)["metric"] == "exact_match"
    assert d.top_share == 0.6 and d.balanced_accuracy is None and d.chance is None and d.classes == 0


def test_averages_equal_the_per_example_stratified_bootstrap_and_average_the_diagnostics():
    a = cell_of(pred(i, c, answer=i % 2, prediction=0) for i, c in enumerate([1, 0, 1, 0, 1, 0]))
    b = CellOutcomes("u", "s")
    b.add(Prediction(task="u", setting="s", example_uid=f"v{i}", correct=bool(c), answer=i % 3, prediction=p,
                     candidates=(" x", " y", " z")) for i, (c, p) in enumerate(zip([1, 1, 1, 0], [0, 1, 2, 1])))
    (avg,) = average_cells([a, b], seed=4, n_boot=300)
    expected = stratified_bootstrap_mean([[1, 0, 1, 0, 1, 0], [1, 1, 1, 0]],
                                         seed=derive_seed(4, "bootstrap", "s") % 2**32, n_boot=300)
    assert (avg.accuracy, avg.ci_low, avg.ci_high) == expected
    assert (avg.task, avg.n, avg.correct) == ("average", 10, 6)
    assert dict(avg.extra)["interval"] == "stratified bootstrap (300)"
    d = Diagnostics.of(avg)
    # balanced: a = mean(3/3, 0/3) = 0.5 (it answers 0 to all); b = mean(1/2, 1, 1) = 5/6
    assert d.balanced_accuracy == pytest.approx((0.5 + 5 / 6) / 2)
    assert d.top_share == pytest.approx((1.0 + 0.5) / 2)
    assert d.chance == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_diagnostics_survive_results_json_and_old_files_still_read(tmp_path):
    preds = [pred(i, i < 8, answer=0 if i < 8 else 1, prediction=0, demo_set=f"b{i // 5}", seed=2) for i in range(10)]
    score = summarize_cell(cell_of(preds), seed=0, n_boot=200)
    run = EvalRun("k", {"k": 2}, "m", "f", (score,), average_cells([cell_of(preds)], n_boot=200), tuple(preds))
    write_run(tmp_path / "run", run, plots=False)
    back = read_run(tmp_path / "run")
    assert back.scores == run.scores and list(back.predictions) == list(preds)
    assert Diagnostics.of(back.scores[0]) == Diagnostics.of(score)
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["scores"][0]["extra"]["top_prediction_share"] == "1.0"
    assert json.loads((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()[0])["demo_set"] == "b0"
    # a prediction line written before seeds and demonstration sets: seed 0, its own cluster
    old = {k: v for k, v in preds[0].to_json().items() if k not in ("seed", "demo_set")}
    p = Prediction.from_json(old)
    assert (p.seed, p.demo_set) == (0, "")
    # an old score has no diagnostics; the report computes their points from the predictions
    plain = type(score)(score.task, score.setting, score.n, score.correct, score.accuracy, score.ci_low, score.ci_high,
                        (("metric", "accuracy"),))
    assert Diagnostics.of(plain) is None
    diags = run_diagnostics((plain,), (), preds)
    assert diags[("t", "s")].balanced_accuracy == 0.5 and diags[("average", "s")].top_share == 1.0


def test_results_markdown_shows_balanced_accuracy_baseline_and_flags(tmp_path):
    preds = [pred(i, i < 8, answer=0 if i < 8 else 1, prediction=0) for i in range(10)]
    run = EvalRun("k", {"k": 2, "block_size": 5}, "m", "f", (summarize_cell(cell_of(preds), n_boot=200),),
                  average_cells([cell_of(preds)], n_boot=200), tuple(preds))
    write_run(tmp_path / "run", run, plots=False)
    md = (tmp_path / "run" / "results.md").read_text()
    assert "| t | 10 | 50.0 | 80.0 [" in md and ", bal. 50.0 \u26a0 100% one answer |" in md
    assert "random-guess baseline: 50.0% on average over 1 classification datasets" in md
    assert "one demonstration set per block of 5 queries" in md
