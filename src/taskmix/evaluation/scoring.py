"""Turning model outputs into predictions.

* :func:`rank_classify`: the candidate whose continuation has the highest log-likelihood
  after the prompt (the sum over its tokens; with ``length_normalized`` the mean per
  token). Ties go to the lowest index, so the rule is deterministic.
* :func:`exact_match`: generated text equals the target after trimming whitespace (and,
  for generation up to a stop string, after cutting at the first newline).
"""

from __future__ import annotations

from typing import Sequence

from ..records import LoglikelihoodResult


def candidate_scores(results: Sequence[LoglikelihoodResult], length_normalized: bool = False) -> tuple[float, ...]:
    """The ranking score per candidate: summed log-probability, or its per-token mean."""
    if length_normalized:
        return tuple(r.logprob / max(1, r.n_tokens) for r in results)
    return tuple(r.logprob for r in results)


def rank_classify(results: Sequence[LoglikelihoodResult], length_normalized: bool = False) -> int:
    """Index of the best-scoring candidate (first one on ties)."""
    if not results:
        raise ValueError("rank classification needs at least one candidate")
    scores = candidate_scores(results, length_normalized)
    best = 0
    for i, s in enumerate(scores):
        if s > scores[best]:
            best = i
    return best


def normalize_answer(text: str) -> str:
    """Generated text up to its first newline, without surrounding whitespace."""
    return text.strip().split("\n", 1)[0].strip()


def exact_match(generated: str, target: str) -> bool:
    """Whether the generation (normalised) equals the target (stripped)."""
    return normalize_answer(generated) == target.strip()
