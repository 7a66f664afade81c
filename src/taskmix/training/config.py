"""The training configuration: one frozen dataclass, every field documented and validated."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from ..config import canonical_dtype
from ..errors import ConfigError

SCHEDULES = ("linear", "cosine", "constant")
BATCHING = ("bucket", "shuffle", "sequential")


@dataclass(frozen=True)
class TrainConfig:
    """How ``taskmix train`` fine-tunes a causal language model.

    Fields:
        lr: peak learning rate of AdamW (reached at the end of warm-up).
        max_steps: number of optimizer steps; ``None`` means derive it from ``epochs``.
        epochs: passes over the mixture, used when ``max_steps`` is ``None`` (may be fractional).
        batch_size: sequences per micro-batch (per process).
        grad_accum: micro-batches accumulated into one optimizer step. The loss of a step
            is the mean over *all target tokens* of its micro-batches.
        warmup_steps: optimizer steps of linear warm-up from 0 to ``lr``.
        schedule: decay after warm-up: ``linear`` (to ``min_lr_ratio*lr``), ``cosine`` or ``constant``.
        min_lr_ratio: final learning rate as a fraction of ``lr`` for ``linear``/``cosine``.
        weight_decay: AdamW decoupled weight decay (not applied to biases and norm weights).
        adam_beta1: AdamW first-moment coefficient.
        adam_beta2: AdamW second-moment coefficient.
        adam_eps: AdamW epsilon.
        max_grad_norm: clip the global gradient norm to this value; 0 disables clipping.
        max_length: longest sequence in tokens; longer prompts lose tokens from their
            *start* (the target is always kept whole).
        batching: ``bucket`` groups sequences of similar length into a batch (less
            padding); ``shuffle`` batches in plain shuffled order; ``sequential`` keeps the
            file order (every epoch; for benchmarks and debugging).
        bucket_size: how many batches' worth of examples are sorted together by length.
        append_eos: add the tokenizer's end-of-sequence token after the target (and train on it).
        lora: train a LoRA adapter (peft) instead of all weights.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling numerator (scale = alpha / r).
        lora_dropout: dropout on the LoRA input.
        lora_targets: module names that get adapters (e.g. ``q_proj``); empty means all linear layers.
        save_adapter: for LoRA runs, also save the bare adapter next to the merged model.
        dtype: ``fp32`` (or ``float32``) or ``bf16`` (or ``bfloat16``); stored as ``fp32``/``bf16``. bf16 keeps fp32 master weights and optimizer state and
            runs forward/backward under ``torch.autocast`` (bf16 matmuls); checkpoints and the
            final model are fp32.
        seed: seeds model init of LoRA weights, dropout and the data order.
        save_every: write a resumable checkpoint every this many optimizer steps (0: only at the end).
        keep_checkpoints: how many recent checkpoints to keep (older ones are removed after a
            newer one is complete); 0 keeps all.
        log_every: append a line to ``loss.jsonl`` every this many optimizer steps.
        progress: show a progress bar (with tokens per second) on stderr.
    """

    lr: float = 1e-4
    max_steps: int | None = None
    epochs: float = 1.0
    batch_size: int = 8
    grad_accum: int = 1
    warmup_steps: int = 0
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    max_length: int = 1024
    batching: Literal["bucket", "shuffle", "sequential"] = "bucket"
    bucket_size: int = 64
    append_eos: bool = False
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ()
    save_adapter: bool = True
    dtype: str = "fp32"
    seed: int = 0
    save_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ConfigError(f"train config: {name} {why}, got {getattr(self, name)!r}")

        if not self.lr > 0:
            bad("lr", "must be > 0")
        if self.max_steps is not None and self.max_steps < 1:
            bad("max_steps", "must be >= 1")
        if not self.epochs > 0:
            bad("epochs", "must be > 0")
        for name in ("batch_size", "grad_accum", "log_every", "bucket_size", "lora_r", "lora_alpha"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        for name in ("warmup_steps", "save_every", "keep_checkpoints", "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                bad(name, "must be >= 0")
        if self.max_length < 8:
            bad("max_length", "must be >= 8")
        if not 0 <= self.min_lr_ratio <= 1:
            bad("min_lr_ratio", "must be in [0, 1]")
        if not 0 <= self.lora_dropout < 1:
            bad("lora_dropout", "must be in [0, 1)")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                bad(name, "must be in [0, 1)")
        if not self.adam_eps > 0:
            bad("adam_eps", "must be > 0")
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype, "train config"))
        if self.schedule not in SCHEDULES:
            bad("schedule", f"must be one of {', '.join(SCHEDULES)}")
        if self.batching not in BATCHING:
            bad("batching", f"must be one of {', '.join(BATCHING)}")
        if self.seed < 0:
            bad("seed", "must be >= 0")

    def replace(self, **changes: object) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# Fields that may differ between a run and its resumption without making it a different run.
RESUME_FREE_FIELDS = ("progress", "save_every", "keep_checkpoints", "log_every")


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    Linear warm-up ``lr * (step + 1) / warmup_steps`` over the first ``warmup_steps``
    steps, then ``linear``/``cosine`` decay from ``lr`` to ``min_lr_ratio * lr`` at the
    last step, or ``constant``.
    """
    peak = config.lr
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return peak
    decay_steps = max(1, total_steps - config.warmup_steps - 1)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)
    floor = config.min_lr_ratio * peak
    if config.schedule == "linear":
        return floor + (peak - floor) * (1.0 - progress)
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
