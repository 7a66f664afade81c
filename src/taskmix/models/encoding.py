"""Tokenisation of log-likelihood requests, matching lm-evaluation-harness 0.4 (``HFLM``).

lm-eval encodes a (context, continuation) pair as follows: trailing whitespace of the
context moves to the front of the continuation; the context and the whole
``context + continuation`` are encoded with the tokenizer's default special tokens (off
when the text already starts with the BOS string); the continuation tokens are the whole
encoding minus the first ``len(context tokens)`` tokens. An empty context becomes the
single prefix token (BOS, else EOS). Inputs longer than ``max_length + 1`` tokens are cut
from the left. These functions reproduce that exactly, so our log-probabilities are theirs.
"""

from __future__ import annotations

from typing import Any, Callable

TokenIds = tuple[int, ...]


def make_encoder(tokenizer: Any) -> Callable[[str], list[int]]:
    """lm-eval's ``tok_encode`` for a causal model: default special tokens unless the text starts with BOS."""
    bos_text = tokenizer.bos_token if tokenizer.bos_token_id is not None else None

    def encode(text: str) -> list[int]:
        if bos_text and text.startswith(bos_text):
            return list(tokenizer.encode(text, add_special_tokens=False))
        return list(tokenizer.encode(text))

    return encode


def prefix_token_id(tokenizer: Any) -> int:
    """The token lm-eval uses as context for an empty context: BOS, else EOS."""
    if tokenizer.bos_token_id is not None:
        return int(tokenizer.bos_token_id)
    return int(tokenizer.eos_token_id)


def split_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the front of the continuation (lm-eval rule)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        return context[:-n_spaces], context[-n_spaces:] + continuation
    return context, continuation


def encode_pair(
    encode: Callable[[str], list[int]],
    context: str,
    continuation: str,
    prefix_id: int,
    encode_plain: Callable[[str], list[int]] | None = None,
) -> tuple[TokenIds, TokenIds]:
    """``(context_ids, continuation_ids)`` exactly as lm-eval's ``HFLM.loglikelihood`` builds them.

    ``encode`` is :func:`make_encoder`'s function; ``encode_plain`` encodes without special
    tokens (used for an empty context) and defaults to ``encode``.
    """
    if context == "":
        cont = list((encode_plain or encode)(continuation))
        if cont and cont[0] == prefix_id:
            return tuple(cont[:1]), tuple(cont[1:])
        return (prefix_id,), tuple(cont)
    context, continuation = split_trailing_space(context, continuation)
    whole = encode(context + continuation)
    ctx = encode(context)
    return tuple(ctx), tuple(whole[len(ctx):])


def truncate_left(context: TokenIds, continuation: TokenIds, max_length: int) -> TokenIds:
    """Cut the context from the left so that ``context + continuation`` fits ``max_length + 1`` tokens.

    The model input is ``(context + continuation)[:-1]``, so ``max_length + 1`` tokens fit.
    At least one context token is always kept.
    """
    excess = len(context) + len(continuation) - (max_length + 1)
    if excess <= 0:
        return context
    return context[min(excess, len(context) - 1):]
