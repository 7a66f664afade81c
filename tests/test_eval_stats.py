"""Intervals and scoring rules against hand-computed values."""

from __future__ import annotations

import pytest

from taskmix.evaluation.scoring import candidate_scores, exact_match, rank_classify
from taskmix.evaluation.stats import paired_bootstrap_difference, stratified_bootstrap_mean, wilson_interval
from taskmix.records import LoglikelihoodResult as R


def test_wilson_matches_hand_computed_values():
    lo, hi = wilson_interval(8, 10)  # textbook: 0.490 .. 0.943
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_stratified_bootstrap_mean_is_seeded_and_brackets_the_mean():
    groups = [[1, 1, 0, 1], [0, 0, 1, 0, 0, 0]]
    mean, lo, hi = stratified_bootstrap_mean(groups, seed=1, n_boot=500)
    assert mean == pytest.approx((0.75 + 1 / 6) / 2)
    assert lo < mean < hi
    assert stratified_bootstrap_mean(groups, seed=1, n_boot=500) == (mean, lo, hi)
    # a constant group has no spread
    assert stratified_bootstrap_mean([[1, 1, 1]], seed=0, n_boot=200) == (1.0, 1.0, 1.0)


def test_paired_bootstrap_difference():
    a = [[0, 0, 1, 1, 0]]
    b = [[1, 0, 1, 1, 1]]
    d, lo, hi = paired_bootstrap_difference(a, b, seed=0, n_boot=1000)
    assert d == pytest.approx(0.4)
    assert 0.0 <= lo <= d <= hi <= 0.8
    same = paired_bootstrap_difference(a, a, seed=0, n_boot=200)
    assert same == (0.0, 0.0, 0.0)


def test_rank_classification_sum_and_length_normalised():
    results = [R(-3.0, 3, False), R(-2.5, 1, False), R(-2.5, 5, False)]
    assert rank_classify(results) == 1  # ties go to the first
    assert candidate_scores(results, True) == (-1.0, -2.5, -0.5)
    assert rank_classify(results, length_normalized=True) == 2


def test_exact_match_trims_and_cuts_at_newline():
    assert exact_match(" [1, 2]\nInput: x", "[1, 2]")
    assert not exact_match("[1, 2, 3]", "[1, 2]")
    assert exact_match(" '10'", "'10'")


def test_compare_legend_only_when_a_row_is_marked():
    from taskmix.evaluation.compare import Difference, format_differences

    flat = (Difference("subj", "flipped", 6, 0.5, 0.5, 0.0, 0.0, 0.0),)
    assert "*" not in format_differences(flat, "a", "b")
    up = (Difference("subj", "flipped", 6, 0.2, 0.8, 0.6, 0.3, 0.9),)
    text = format_differences(up, "a", "b")
    assert "[+30.0, +90.0] *" in text and "interval excludes 0" in text


def test_wilson_interval_always_contains_the_observed_proportion():
    # rounding used to leave the lower bound a hair above 0 at 0/n, which made the plots'
    # error bars negative and crashed an evaluation after its predictions were written
    for n in range(1, 200):
        for correct in (0, 1, n - 1, n):
            if 0 <= correct <= n:
                lo, hi = wilson_interval(correct, n)
                assert 0.0 <= lo <= correct / n <= hi <= 1.0


def test_plots_survive_intervals_that_miss_the_point_estimate(tmp_path):
    from taskmix.evaluation.plots import write_plots
    from taskmix.evaluation.results import EvalRun
    from taskmix.records import Score

    score = Score("t", "instr_labels", 30, 0, 0.0, 1e-17, 0.11, ())
    avg = Score("average", "instr_labels", 30, 0, 0.2, 0.2000001, 0.3, ())
    run = EvalRun("k", {}, "m", "f", (score,), (avg,), ())
    assert len(write_plots(tmp_path, run)) == 2


def test_spearman_and_its_exact_permutation_p_against_hand_computed_values():
    from taskmix.evaluation.stats import average_ranks, spearman, spearman_exact_p

    assert average_ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1,2,3,4) vs (2,1,4,3): d^2 sums to 4, rho = 1 - 6*4 / (4*15) = 0.6
    assert spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    # of the 24 orderings of 4, rho is 1 once, 0.8 three times, 0.6 once, and as often the negatives: 10 reach |0.6|
    assert spearman_exact_p([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(10 / 24)
    assert spearman_exact_p([1, 2, 3], [1, 2, 3]) == pytest.approx(2 / 6)  # only the two perfect orderings
    # ties: ranks (1, 2.5, 2.5, 4) and (1, 2, 3.5, 3.5): sum of products of deviations 3.75, of squares 4.5 each
    assert spearman([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(3.75 / 4.5)
    assert spearman([1, 2], [5, 3]) == pytest.approx(-1.0) and spearman_exact_p([1, 2], [5, 3]) == 1.0
    assert spearman([1], [2]) is None and spearman([], []) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman_exact_p([1, 1, 1], [1, 2, 3]) is None
    assert spearman_exact_p(list(range(10)), list(range(10))) is None  # beyond max_n
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2, 3])


def test_spearman_p_is_exact_up_to_nine_runs_and_a_seeded_monte_carlo_beyond():
    from taskmix.evaluation.stats import spearman_exact_p, spearman_p

    x, y = [1, 2, 3, 4], [2, 1, 4, 3]
    assert spearman_p(x, y) == (spearman_exact_p(x, y), "exact")
    p, method = spearman_p(x, y, max_exact=0)  # forced Monte Carlo: near the exact 10/24
    assert method == "monte carlo" and abs(p - 10 / 24) < 0.01
    assert spearman_p(x, y, max_exact=0) == (p, method)  # seeded: the same p again
    assert spearman_p(x, y, max_exact=0, seed=1)[0] != p
    # ten runs in the same order: only 2 of 10! orderings reach |rho| = 1, so no draw of 1,000 does
    assert spearman_p(list(range(10)), list(range(10)), n_perm=1000) == (1 / 1001, "monte carlo")
    assert spearman_p([1, 1, 1], [1, 2, 3]) == (None, None)


def test_pairwise_reliability_against_hand_computed_values():
    from taskmix.evaluation.stats import pairwise_reliability

    assert pairwise_reliability([2.0, 0.0], [1.0, 1.0]) == pytest.approx(0.5)  # mean d^2 2, mean se^2 1
    assert pairwise_reliability([3.0, -3.0], [0.0, 0.0]) == 1.0
    assert pairwise_reliability([1.0], [2.0]) == 0.0  # noise larger than the difference: floored
    assert pairwise_reliability([], []) is None and pairwise_reliability([0.0], [1.0]) is None
    with pytest.raises(ValueError):
        pairwise_reliability([1.0], [])
