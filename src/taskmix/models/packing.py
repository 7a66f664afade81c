"""Pack one context and all its candidate continuations into a single model row.

A row is ``context_own + cand_1[:-1] + cand_2[:-1] + ...``. Candidate tokens attend to
the whole context (shared prefix included) and to their own earlier tokens only, and
take the positions they would have right after the context, so each candidate is scored
exactly as if it were appended alone — while the context is computed once. The
log-probability of ``cand[0]`` is read at the last context token, that of ``cand[j]`` at
the row slot holding ``cand[j-1]``. Single-token candidates add no tokens at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

TokenIds = tuple[int, ...]


@dataclass(frozen=True)
class PackedRow:
    """One model row: tokens, their positions and groups (0 = context, k = candidate k)."""

    tokens: tuple[int, ...]
    positions: tuple[int, ...]
    groups: tuple[int, ...]
    # per candidate: (row slots whose hidden state predicts each token, the target tokens)
    score_slots: tuple[tuple[int, ...], ...]
    targets: tuple[TokenIds, ...]

    def __len__(self) -> int:
        return len(self.tokens)


def pack_row(context: TokenIds, shared: int, candidates: Sequence[TokenIds]) -> PackedRow:
    """Pack ``context[shared:]`` and ``candidates`` (``shared`` tokens come from a KV cache)."""
    if not 0 <= shared < len(context):
        raise ValueError("a row must keep at least one context token of its own")
    own = context[shared:]
    tokens = list(own)
    positions = list(range(shared, len(context)))
    groups = [0] * len(own)
    last = len(own) - 1
    slots: list[tuple[int, ...]] = []
    for k, cand in enumerate(candidates, start=1):
        offset = len(tokens)
        body = cand[:-1]
        tokens.extend(body)
        positions.extend(range(len(context), len(context) + len(body)))
        groups.extend([k] * len(body))
        slots.append((last,) + tuple(offset + j for j in range(len(body))))
    return PackedRow(tuple(tokens), tuple(positions), tuple(groups), tuple(slots), tuple(candidates))


def build_batch(rows: Sequence[PackedRow], past_len: int, dtype, sliding_window: int | None = None):
    """Right-padded tensors for ``rows`` that all continue the same ``past_len`` cached tokens.

    Returns ``(input_ids, position_ids, mask)`` where ``mask`` is a float additive mask
    ``(B, 1, Q, past_len + Q)`` (0 = attend), or a dict ``{"full_attention": ...,
    "sliding_attention": ...}`` when ``sliding_window`` is set. Padding queries attend to
    themselves (never to nothing, which would give NaN); real queries never
    see padding.
    """
    import torch

    n = len(rows)
    q = max(len(r) for r in rows)
    ids = torch.zeros((n, q), dtype=torch.long)
    pos = torch.zeros((n, q), dtype=torch.long)
    grp = torch.full((n, q), -1, dtype=torch.long)
    for i, r in enumerate(rows):
        m = len(r)
        ids[i, :m] = torch.tensor(r.tokens)
        pos[i, :m] = torch.tensor(r.positions)
        pos[i, m:] = r.positions[0]
        grp[i, :m] = torch.tensor(r.groups)
    causal = torch.ones((q, q), dtype=torch.bool).tril_()
    gq = grp[:, :, None]
    gk = grp[:, None, :]
    same = (gk == 0) | (gk == gq)
    allowed = causal[None] & same  # (B, Q, Q)
    allowed |= torch.eye(q, dtype=torch.bool)[None]  # padding queries see themselves only
    if past_len:
        allowed = torch.cat([torch.ones((n, q, past_len), dtype=torch.bool), allowed], dim=2)
    full = _additive(allowed, dtype)
    if sliding_window is None:
        return ids, pos, full
    key_pos = torch.cat([torch.arange(past_len).expand(n, past_len), pos], dim=1)  # (B, K)
    near = (pos[:, :, None] - key_pos[:, None, :]) < sliding_window
    return ids, pos, {"full_attention": full, "sliding_attention": _additive(allowed & near, dtype)}


def _additive(allowed, dtype):
    import torch

    mask = torch.zeros(allowed.shape, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]
