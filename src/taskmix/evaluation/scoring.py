"""Turning model outputs into predictions.

* :func:`rank_classify`: the candidate whose continuation has the highest log-likelihood
  after the prompt (the sum over its tokens; with ``length_normalized`` the mean per
  token). Ties go to the lowest index, so the rule is deterministic.
* :func:`exact_match`: generated text equals the target after trimming whitespace (and,
  for generation up to a stop string, after cutting at the first newline).
* :func:`score_prompts`: runs a model on prompts of one task and setting and judges each
  one into a :class:`~taskmix.evaluation.results.Prediction`.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..models import LanguageModel
from ..records import GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult, Prompt
from .results import Prediction

CHUNK_PROMPTS = 64  # prompts per engine call (progress granularity; the engine batches inside)


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


def score_prompts(
    model: LanguageModel, prompts: Sequence[Prompt], length_normalized: bool = False, max_new_tokens: int = 48,
    bar: Any = None,
) -> list[Prediction]:
    """Run the model on prompts of one task and setting and judge each one: rank
    classification over the candidates, or exact match of greedy generation."""
    out: list[Prediction] = []
    for start in range(0, len(prompts), CHUNK_PROMPTS):
        chunk = prompts[start : start + CHUNK_PROMPTS]
        if chunk[0].candidates:
            requests = [LoglikelihoodRequest(p.text, c) for p in chunk for c in p.candidates]
            results = model.loglikelihood(requests)
            if len(results) != len(requests):
                raise RuntimeError("the model returned a wrong number of results")
            pos = 0
            for p in chunk:
                rs = results[pos : pos + len(p.candidates)]
                pos += len(p.candidates)
                pred = rank_classify(rs, length_normalized)
                out.append(_prediction(p, correct=pred == p.answer, prediction=pred,
                                       scores=candidate_scores(rs, length_normalized)))
        else:
            gens = model.generate([GenerateRequest(p.text, max_new_tokens, ("\n",)) for p in chunk])
            for p, g in zip(chunk, gens):
                out.append(_prediction(p, correct=exact_match(g, p.target or ""), generated=normalize_answer(g)))
        if bar is not None:
            bar.update(len(chunk))
    return out


def _prediction(p: Prompt, correct: bool, **kw: Any) -> Prediction:
    return Prediction(
        task=p.task, setting=p.setting, example_uid=p.example_uid, correct=bool(correct),
        answer=p.answer, candidates=p.candidates, target=p.target, format_name=p.format_name,
        n_exemplars=len(p.exemplar_uids), dropped_exemplars=p.dropped_exemplars, seed=p.seed, demo_set=p.demo_set,
        **kw,
    )
