"""Which prompt tokens carry the loss under ``label_loss: context``.

A mixture records, per prompt, the composer's :class:`~taskmix.records.Segment` spans:
characters ``[start, end)`` of the prompt, and for each exemplar label its class and
whether that class appeared earlier in the prompt (``inferable``). Training works on
tokens, so the spans are mapped with the tokenizer's character offsets:

* a token belongs to a span when its first character lies inside it (``start <= a <
  end`` for the token's offsets ``(a, b)``); zero-width tokens (special tokens such as
  BOS) belong to no span;
* a prompt that is too long loses tokens from its start, after its first token (see
  :func:`taskmix.training.data.tokenise`); an exemplar label is then a target only if all
  its tokens are kept *and* an earlier label of its class is entirely kept, so a label
  whose first appearance was cut away is not trained (it can no longer be inferred).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import TaskmixError
from ..records import Segment


def context_targets(offsets: Sequence[tuple[int, int]], segments: Sequence[Segment], dropped: int = 0) -> list[int]:
    """Indices, in the prompt as kept, of the tokens of its inferable exemplar labels.

    ``offsets``: the ``(start, end)`` character offsets of every prompt token before
    truncation (the tokenizer's ``offset_mapping``). ``dropped``: how many tokens after the
    first were cut from the start (tokens ``1 .. dropped``); a kept token ``j`` has index
    ``j - dropped`` (the first token keeps index 0). Indices are ascending.
    """
    import numpy as np

    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    real = np.nonzero(spans[:, 1] > spans[:, 0])[0]
    starts = spans[real, 0]
    if np.any(np.diff(starts) < 0):
        raise TaskmixError("the tokenizer's character offsets are not in text order; label_loss: context cannot use them")
    seen: set[int] = set()
    out: list[int] = []
    for seg in segments:
        if seg.kind != "exemplar_label":
            continue
        lo, hi = np.searchsorted(starts, [seg.start, seg.end])
        tokens = real[lo:hi]
        if not len(tokens) or not all(j == 0 or j > dropped for j in tokens):
            continue  # no token of its own, or (partly) cut away: neither a target nor a shown class
        kept = [int(j) - dropped if j else 0 for j in tokens]
        if seg.inferable and seg.label_class in seen and kept[0] > 0:
            out.extend(kept)
        if seg.label_class is not None:
            seen.add(seg.label_class)
    return out


def check_offsets_tokenizer(tokenizer: Any) -> None:
    """Refuse a tokenizer that cannot give character offsets (a slow, Python tokenizer)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TaskmixError(f"label_loss: context maps label spans with the tokenizer's character offsets, which "
                           f"{type(tokenizer).__name__} (a slow tokenizer) cannot give; use a model with a fast "
                           f"tokenizer (tokenizer.json) or label_loss: query")
