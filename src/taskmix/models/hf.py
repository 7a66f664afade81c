"""The Hugging Face backend of :class:`~taskmix.models.interface.LanguageModel`.

Scoring work is organised so that nothing is computed twice and nothing is wasted:

- requests are tokenised exactly like lm-evaluation-harness 0.4 (:mod:`.encoding`);
- identical contexts are merged, and all candidate continuations of a context are packed
  into the context's row with a tree attention mask (:mod:`.packing`): one forward pass
  per distinct context;
- token prefixes shared by several contexts (a demonstration block, an instruction) are
  found automatically (:mod:`.prefix_tree`), run once, and their key/value cache is reused;
- the LM head is applied only to the hidden states at scored positions;
- rows are length-sorted into batches; results go to an sqlite cache (:mod:`.cache`)
  batch by batch, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import TaskmixError
from ..progress import progress_bar
from ..records import GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult
from .cache import ResultCache, request_key
from .encoding import encode_pair, make_encoder, prefix_token_id, truncate_left
from .generation import generate_greedy
from .packing import PackedRow, build_batch, pack_row
from .prefix_tree import PrefixNode, build_prefix_tree

DEFAULT_MAX_LENGTH = 2048


@dataclass
class EngineStats:
    """Counters of the work done (for benchmarks): tokens run through the model, etc."""

    forward_calls: int = 0
    tokens: int = 0  # real tokens run through the model (no padding)
    padded_tokens: int = 0  # row slots including padding
    scored_positions: int = 0  # positions the LM head was applied to
    cache_hits: int = 0
    computed: int = 0
    extra: dict = field(default_factory=dict)


def config_max_length(config: Any) -> int | None:
    """The context length a model config states (``n_positions``,
    ``max_position_embeddings`` or ``n_ctx``, of its text config first); ``None`` if none."""
    for cfg in (getattr(config, "text_config", None), config):
        if cfg is None:
            continue
        for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
    return None


def resolve_max_length(model: Any, tokenizer: Any) -> int:
    """The context length lm-eval's HFLM would use: config, then tokenizer, then 2048."""
    value = config_max_length(model.config)
    if value is not None:
        return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 10**12:
        return value
    return DEFAULT_MAX_LENGTH


class HFLanguageModel:
    """A causal LM from transformers behind the :class:`LanguageModel` protocol."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        fingerprint: str,
        batch_size: int = 16,
        cache: ResultCache | None = None,
        show_progress: bool = True,
        min_shared_prefix: int = 16,
        max_batch_tokens: int = 16384,
        max_length: int | None = None,
    ):
        if batch_size < 1:
            raise TaskmixError(f"batch size must be at least 1, got {batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._fingerprint = fingerprint
        self.batch_size = batch_size
        self.cache = cache
        self.show_progress = show_progress
        self.min_shared_prefix = min_shared_prefix
        self.max_batch_tokens = max_batch_tokens
        self.max_length = max_length or resolve_max_length(model, tokenizer)
        self.stats = EngineStats()
        self._encode = make_encoder(tokenizer)
        self._encode_plain = lambda text: list(tokenizer.encode(text, add_special_tokens=False))
        self._prefix_id = prefix_token_id(tokenizer)
        self._decoder = getattr(model, model.base_model_prefix)
        self._head = model.get_output_embeddings()
        self._head_fp32 = None  # (weight stamp, float32 weight): see _logits
        text_cfg = model.config.get_text_config()
        self._softcap = getattr(text_cfg, "final_logit_softcapping", None)
        layer_types = getattr(text_cfg, "layer_types", None) or ()
        self._sliding = getattr(text_cfg, "sliding_window", None) if "sliding_attention" in layer_types else None
        self._dtype = next(model.parameters()).dtype
        self._device = next(model.parameters()).device  # a model being trained may sit on a GPU

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def context_length(self) -> int:
        """Tokens the model reads at most (``max_length``; longer contexts lose their start)."""
        return self.max_length

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` as a context (lm-eval encoding)."""
        return len(self._encode(text))

    def context_ids(self, text: str) -> list[int]:
        """The token ids of ``text`` as a context (lm-eval encoding); an empty context is
        the one token lm-eval conditions on instead (BOS, or EOS without one)."""
        return list(self._encode(text)) if text else [self._prefix_id]

    # ------------------------------------------------------------------ loglikelihood
    def encode_request(self, request: LoglikelihoodRequest) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """lm-eval's ``(context_ids, continuation_ids)`` for a request, left-truncated to fit."""
        ctx, cont = encode_pair(self._encode, request.context, request.continuation, self._prefix_id, self._encode_plain)
        if len(cont) > self.max_length:
            raise TaskmixError(f"continuation of {len(cont)} tokens exceeds the model's {self.max_length}-token context")
        return truncate_left(ctx, cont, self.max_length), cont

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """``log p(continuation | context)`` per request (see :class:`LanguageModel`)."""
        requests = list(requests)
        for r in requests:
            if not isinstance(r, LoglikelihoodRequest):
                raise TaskmixError(f"loglikelihood expects LoglikelihoodRequest records, got {type(r).__name__}")
        keys = [request_key("ll", r.context, r.continuation) for r in requests]
        done: dict[str, LoglikelihoodResult] = {}
        if self.cache is not None:
            for key, value in self.cache.get_many(self._fingerprint, keys).items():
                done[key] = LoglikelihoodResult(float(value[0]), int(value[1]), bool(value[2]))
            self.stats.cache_hits += sum(1 for k in keys if k in done)
        todo: dict[str, LoglikelihoodRequest] = {}
        for key, r in zip(keys, requests):
            if key not in done:
                todo.setdefault(key, r)
        if todo:
            self._score(todo, done)
        return [done[k] for k in keys]

    def _score(self, todo: dict[str, LoglikelihoodRequest], done: dict[str, LoglikelihoodResult]) -> None:
        import torch

        # distinct context -> distinct continuation -> request keys
        by_context: dict[tuple[int, ...], dict[tuple[int, ...], list[str]]] = defaultdict(lambda: defaultdict(list))
        for key, r in todo.items():
            ctx, cont = self.encode_request(r)
            if not cont:
                done[key] = LoglikelihoodResult(0.0, 0, True)
                continue
            by_context[ctx][cont].append(key)
        contexts = list(by_context)
        cands = [list(by_context[c]) for c in contexts]
        tree = build_prefix_tree(contexts, self.min_shared_prefix)
        n = sum(len(v) for c in contexts for v in by_context[c].values())
        progress = progress_bar(n, self.show_progress and n > 0, "scoring", "req", leave=False)
        try:
            with torch.inference_mode():
                self._run_node(tree, None, contexts, cands, by_context, done, progress)
        finally:
            progress.close()

    def _run_node(self, node: PrefixNode, past, contexts, cands, by_context, done, progress) -> None:
        past_len = node.end
        rows = [(i, pack_row(contexts[i], past_len, cands[i])) for i in node.leaves]
        rows.sort(key=lambda item: -len(item[1]))
        start = 0
        while start < len(rows):
            width = len(rows[start][1])
            stop = start + 1
            while stop < len(rows) and stop - start < self.batch_size and (stop - start + 1) * width <= self.max_batch_tokens:
                stop += 1
            batch = rows[start:stop]
            results = self._forward_rows([r for _, r in batch], past, past_len)
            stored = []
            for (i, row), per_cand in zip(batch, results):
                for cont, value in zip(row.targets, per_cand):
                    for key in by_context[contexts[i]][cont]:
                        done[key] = value
                        stored.append((key, [value.logprob, value.n_tokens, value.is_greedy]))
            if self.cache is not None:
                self.cache.put_many(self._fingerprint, stored)
            self.stats.computed += len(stored)
            progress.update(len(stored))
            start = stop
        for child in node.children:
            child_past = self._extend_past(past, node.end, child.segment(contexts))
            self._run_node(child, child_past, contexts, cands, by_context, done, progress)

    def _logits(self, hidden):
        """The output layer in float32 at the scored positions. A bf16 product rounds a logit
        near 20 to a multiple of 0.125, so two labels often tied exactly (and the first one
        won); the float32 copy of the layer's weight is kept while the weight is unchanged
        (a training step updates it in place, which bumps its version)."""
        import torch

        if self._dtype == torch.float32:
            return self._head(hidden)
        weight = self._head.weight
        stamp = (weight.data_ptr(), weight._version)
        if self._head_fp32 is None or self._head_fp32[0] != stamp:
            self._head_fp32 = (stamp, weight.detach().float())
        bias = None if self._head.bias is None else self._head.bias.detach().float()
        return torch.nn.functional.linear(hidden.float(), self._head_fp32[1], bias)

    def _make_cache(self, past, batch: int):
        from transformers import DynamicCache

        cache = DynamicCache()
        if past is not None:
            for layer, (k, v) in enumerate(past):
                cache.update(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1), layer)
        return cache

    def _extend_past(self, past, past_len: int, segment: tuple[int, ...]):
        """Run a shared segment once (batch 1) on top of ``past`` and return the new key/value list."""
        row = PackedRow(segment, tuple(range(past_len, past_len + len(segment))), (0,) * len(segment), (), ())
        ids, pos, mask = self._on_device(build_batch([row], past_len, self._dtype, self._sliding))
        cache = self._make_cache(past, 1)
        self._decoder(input_ids=ids, position_ids=pos, attention_mask=mask, past_key_values=cache, use_cache=True)
        self.stats.forward_calls += 1
        self.stats.tokens += len(segment)
        self.stats.padded_tokens += len(segment)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _forward_rows(self, rows: list[PackedRow], past, past_len: int) -> list[list[LoglikelihoodResult]]:
        import torch

        ids, pos, mask = self._on_device(build_batch(rows, past_len, self._dtype, self._sliding))
        kwargs = {}
        if past is not None:
            kwargs["past_key_values"] = self._make_cache(past, len(rows))
        out = self._decoder(input_ids=ids, position_ids=pos, attention_mask=mask, use_cache=False, **kwargs)
        hidden = out.last_hidden_state
        self.stats.forward_calls += 1
        self.stats.tokens += sum(len(r) for r in rows)
        self.stats.padded_tokens += ids.numel()
        # candidates of one context share its last position: each position goes through the
        # output layer once, however many continuation tokens are scored there
        positions: dict[tuple[int, int], int] = {}
        at_pos, targets = [], []
        for b, r in enumerate(rows):
            for slots, target in zip(r.score_slots, r.targets):
                at_pos.extend(positions.setdefault((b, slot), len(positions)) for slot in slots)
                targets.extend(target)
        row_idx, slot_idx = zip(*positions) if positions else ((), ())
        picked = hidden[torch.tensor(row_idx, device=hidden.device), torch.tensor(slot_idx, device=hidden.device)]
        logits = self._logits(picked)
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        logprobs = torch.log_softmax(logits, dim=-1)
        pos_t = torch.tensor(at_pos, device=logits.device, dtype=torch.long)
        target_t = torch.tensor(targets, device=logits.device, dtype=torch.long)
        token_lp = logprobs[pos_t, target_t].tolist()
        greedy = (logits.argmax(dim=-1)[pos_t] == target_t).tolist()
        self.stats.scored_positions += len(targets)
        results: list[list[LoglikelihoodResult]] = []
        at = 0
        for r in rows:
            per_cand = []
            for target in r.targets:
                n = len(target)
                per_cand.append(LoglikelihoodResult(float(sum(token_lp[at : at + n])), n, bool(all(greedy[at : at + n]))))
                at += n
            results.append(per_cand)
        return results

    def _on_device(self, tensors: tuple) -> tuple:
        """``build_batch``'s tensors (a mask may be a dict of masks) on the model's device."""
        if self._device.type == "cpu":
            return tensors
        return tuple({k: v.to(self._device) for k, v in t.items()} if isinstance(t, dict) else t.to(self._device)
                     for t in tensors)

    # ------------------------------------------------------------------ generation
    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuation per request, cut before the first stop string."""
        return generate_greedy(self, list(requests))
