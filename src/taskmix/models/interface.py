"""The language-model interface every backend implements.

Stages that evaluate prompts depend only on this protocol::

    lm = taskmix.models.load_model("smollm2-135m")
    results = lm.loglikelihood([LoglikelihoodRequest(context, " positive"), ...])
    texts = lm.generate([GenerateRequest(context, max_new_tokens=16, stop=("\\n",))])

``fingerprint`` identifies the model weights, tokenizer, dtype and scoring rules: two
models with the same fingerprint give the same numbers, so it keys on-disk caches.
``count_tokens`` and ``context_length`` let the evaluation fit prompts to the model's
context (dropping exemplars, never the query) before it asks for scores.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from ..records import GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult


@runtime_checkable
class LanguageModel(Protocol):
    """A scorer and greedy generator over text requests (see module docstring)."""

    @property
    def fingerprint(self) -> str:
        """Stable identity of weights + tokenizer + dtype + scoring rules."""
        ...

    @property
    def context_length(self) -> int:
        """The most tokens a context can hold; longer contexts lose their start when scored."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` as a context, as :meth:`loglikelihood` encodes it."""
        ...

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """``log p(continuation | context)`` per request, in request order.

        Tokenisation follows lm-evaluation-harness 0.4 (trailing context spaces move to
        the continuation; continuation tokens = tokens(context+continuation) minus the
        context's tokens), so log-probabilities equal lm-eval's ``HFLM``.
        """
        ...

    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuation per request, cut before the first stop string."""
        ...
