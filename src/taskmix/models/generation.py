"""Greedy generation for :class:`~taskmix.models.hf.HFLanguageModel`.

Requests are sorted by length and batched with left padding; within a batch every row
stops at its first stop string, at EOS, or at its own ``max_new_tokens`` (batches group
requests with the same limit, so a row's text never depends on its neighbours' limits).
Results are cached like scores.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from ..errors import TaskmixError
from ..progress import progress_bar
from ..records import GenerateRequest
from .cache import request_key


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest occurrence of any non-empty stop string."""
    end = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                end = min(end, i)
    return text[:end]


def generate_greedy(lm: Any, requests: list[GenerateRequest]) -> list[str]:
    """Greedy generation for ``lm`` (an ``HFLanguageModel``); see module docstring."""
    import torch

    for r in requests:
        if not isinstance(r, GenerateRequest):
            raise TaskmixError(f"generate expects GenerateRequest records, got {type(r).__name__}")
        if r.max_new_tokens < 1:
            raise TaskmixError(f"max_new_tokens must be at least 1, got {r.max_new_tokens}")
    keys = [request_key("gen", r.context, r.max_new_tokens, list(r.stop)) for r in requests]
    done: dict[str, str] = {}
    if lm.cache is not None:
        done.update({k: str(v) for k, v in lm.cache.get_many(lm.fingerprint, keys).items()})
    todo: dict[str, GenerateRequest] = {}
    for k, r in zip(keys, requests):
        if k not in done:
            todo.setdefault(k, r)
    groups: dict[int, list[tuple[str, list[int], GenerateRequest]]] = defaultdict(list)
    for k, r in todo.items():
        ids = lm.context_ids(r.context)
        ids = ids[-max(1, lm.max_length - r.max_new_tokens):]
        groups[r.max_new_tokens].append((k, ids, r))
    tok = lm.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    progress = progress_bar(len(todo), lm.show_progress and len(todo) > 0, "generating", "req", leave=False)
    try:
        with torch.inference_mode():
            for max_new, items in sorted(groups.items()):
                items.sort(key=lambda item: -len(item[1]))
                for start in range(0, len(items), lm.batch_size):
                    batch = items[start : start + lm.batch_size]
                    texts = _generate_batch(lm, [ids for _, ids, _ in batch], [r.stop for _, _, r in batch], max_new, pad_id)
                    stored = [(k, t) for (k, _, _), t in zip(batch, texts)]
                    done.update(stored)
                    if lm.cache is not None:
                        lm.cache.put_many(lm.fingerprint, stored)
                    progress.update(len(batch))
    finally:
        progress.close()
    return [done[k] for k in keys]


def _generate_batch(lm: Any, prompts: list[list[int]], stops: list[tuple[str, ...]], max_new: int, pad_id: int) -> list[str]:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p)
        mask[i, width - len(p) :] = 1
    tok = lm.tokenizer

    class _StopStrings(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            new = input_ids[:, width:]
            flags = []
            for row, stop in zip(new.tolist(), stops):
                text = tok.decode(row, skip_special_tokens=True)
                flags.append(any(s and s in text for s in stop))
            return torch.tensor(flags, dtype=torch.bool)

    out = lm.model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=max_new,
        do_sample=False,
        num_beams=1,
        temperature=None,
        top_p=None,
        top_k=None,
        pad_token_id=pad_id,
        stopping_criteria=StoppingCriteriaList([_StopStrings()]),
    )
    texts = []
    eos = tok.eos_token_id
    for row, stop in zip(out[:, width:].tolist(), stops):
        if eos is not None and eos in row:
            row = row[: row.index(eos)]
        texts.append(cut_at_stop(tok.decode(row, skip_special_tokens=True), stop))
    return texts
