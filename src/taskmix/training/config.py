"""The training configuration: one frozen dataclass, every field documented and validated."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

from ..config import KEY_NEUTRAL, canonical_dtype
from ..errors import ConfigError
from ..prompts.builder import SETTING_NAMES

SCHEDULES = ("linear", "cosine", "constant")
BATCHING = ("bucket", "shuffle", "sequential")
LABEL_LOSSES = ("query", "context")
#: Tasks of the in-context check during training (``eval_every``): a small subset of the
#: ``icl-dev`` suite (held out from tuning, and not the ``symbol-eval`` datasets).
DEFAULT_EVAL_TASKS = ("tweeteval/emotion", "imdb")
#: Settings of the in-context check (``flipped`` runs only on binary tasks).
DEFAULT_EVAL_SETTINGS = ("noinstr_symbols", "flipped")


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
        freeze_embeddings: full fine-tuning without the input embeddings (nor an output layer
            tied to them): they get no gradient and no optimizer state. For a model whose
            vocabulary dominates its size (Gemma 3 270M: 262,144 x 640 of its 268M weights)
            this saves most of the memory and time of the update; see the README's training
            section for the measured effect. LoRA never trains them, so it is refused with ``lora``.
        gradient_checkpointing: keep only each layer's input during the forward pass and
            recompute the rest in the backward pass: the same losses and trained weights with
            less memory and more compute (Gemma 3 270M, LoRA, batch 8 x 512: 2.4x less peak
            memory, 1.5x slower; see the README's training section).
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling numerator (scale = alpha / r).
        lora_dropout: dropout on the LoRA input.
        lora_targets: module names that get adapters (e.g. ``q_proj``); empty means all linear layers.
        save_adapter: for LoRA runs, also save the bare adapter next to the merged model.
        dtype: ``fp32`` (or ``float32``), ``bf16`` (or ``bfloat16``) or ``auto`` (bf16 where the
            training device multiplies it natively, else fp32; the run records the one used);
            stored as ``fp32``/``bf16``. bf16 keeps fp32 master weights and optimizer state and
            runs forward/backward under ``torch.autocast`` (bf16 matmuls); checkpoints and the
            final model are fp32.
        seed: seeds model init of LoRA weights, dropout and the data order.
        save_every: write a resumable checkpoint every this many optimizer steps (0: only at the end).
        keep_checkpoints: how many recent checkpoints to keep (older ones are removed after a
            newer one is complete); 0 keeps all.
        log_every: append a line to ``loss.jsonl`` every this many optimizer steps.
        progress: show a progress bar (with tokens per second) on stderr.
        label_loss: which label tokens carry the loss. ``query`` (the default, and what runs
            made before this field did): the target only, i.e. the query's label.
            ``context``: also the label of every exemplar whose class was already shown
            earlier in the same prompt (the mixture's ``inferable`` exemplar-label spans),
            which the context fully determines; the first appearance of each class is never
            a target (it cannot be inferred). A label's tokens are the prompt tokens whose
            first character lies inside its span (special tokens such as BOS belong to no
            span); when a long prompt loses tokens from its start, a label stays a target
            only if all its tokens and an earlier label of its class are still there.
            Instruction-tuning prompts (natural labels and the instruction) follow the same
            rule: the first natural label of a class could be guessed from the instruction,
            but that is zero-shot classification, not reading the context, and one rule for
            both kinds keeps the instruction share of the supervised labels about the share
            of prompts (both kinds draw exemplars alike). Every target token weighs the same:
            the loss stays the mean over all target tokens of a step, so an exemplar label
            counts as much as the query's (simple, and gradient accumulation and several
            processes stay exact). ``context`` needs a mixture built with label spans (a
            ``segments`` list per prompt; rebuild older mixtures) and a fast tokenizer. Build its
            mixture with ``class_counts: independent``: when every class shows the same number
            of exemplars, the last labels of a prompt follow from counting the labels already
            shown, and the loss rewards that shortcut instead of reading the inputs.
        eval_every: every this many optimizer steps (and after the last step, and once
            before the first) evaluate the model being trained in context and log the
            accuracy per setting in ``loss.jsonl`` (``"icl": {setting: accuracy}``, the mean
            over ``eval_tasks``) and in ``loss.png``; 0 turns the check off. The check uses
            the same prompts every time, scores in fp32 without gradients, leaves weights and
            random streams as they were, and does not count towards tokens per second.
        eval_tasks: task names (catalogue or user files) of the check; by default
            :data:`DEFAULT_EVAL_TASKS`.
        eval_settings: evaluation settings of the check (a setting that does not apply to a
            task, e.g. ``flipped`` on a 4-class task, is skipped for it).
        eval_queries: evaluated queries per task (a seeded sample of its test split, from
            ``seed``), each with 4 exemplars per class.
        eval_block_size: queries per demonstration block (blocks share their exemplars,
            format and symbol mapping; see ``taskmix eval --block-size``).
        eval_max_length: token budget of a check prompt; exemplars are dropped to fit it, down
            to one per class, as ``taskmix eval`` does, and a query that cannot fit even then
            is left out (the first check says how many).
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
    freeze_embeddings: bool = False
    gradient_checkpointing: bool = field(default=False, metadata={KEY_NEUTRAL: False})  # added later (key_dict)
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
    label_loss: Literal["query", "context"] = "query"
    eval_every: int = 0
    eval_tasks: tuple[str, ...] = DEFAULT_EVAL_TASKS
    eval_settings: tuple[str, ...] = DEFAULT_EVAL_SETTINGS
    eval_queries: int = 24
    eval_block_size: int = 8
    eval_max_length: int = 1024

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
        if self.freeze_embeddings and self.lora:
            bad("freeze_embeddings", "applies to full fine-tuning (LoRA never trains the embeddings); drop one of them")
        if self.label_loss not in LABEL_LOSSES:
            bad("label_loss", f"must be one of {', '.join(LABEL_LOSSES)}")
        if self.eval_every < 0:
            bad("eval_every", "must be >= 0 (0: no in-context check)")
        for name in ("eval_queries", "eval_block_size"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.eval_max_length < 8:
            bad("eval_max_length", "must be >= 8")
        if self.eval_every and not self.eval_tasks:
            bad("eval_tasks", "must name at least one task when eval_every is set")
        if self.eval_every and not self.eval_settings:
            bad("eval_settings", "must name at least one setting when eval_every is set")
        for setting in self.eval_settings:
            if setting not in SETTING_NAMES:
                bad("eval_settings", f"must hold settings among {', '.join(SETTING_NAMES)}")

    def replace(self, **changes: object) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# Fields that may differ between a run and its resumption without making it a different run
# (the in-context check does not change training).
RESUME_FREE_FIELDS = ("progress", "save_every", "keep_checkpoints", "log_every", "eval_every", "eval_tasks",
                      "eval_settings", "eval_queries", "eval_block_size", "eval_max_length")
# Fields added after runs were recorded, with the value those runs had: a run folder's
# identity leaves them out at that value, so older runs still resume. Stage keys have held
# them from the start; a field added since says so once, with config.KEY_NEUTRAL metadata,
# which both the stage keys and the run identity read.
LATER_FIELDS = {"label_loss": "query", "freeze_embeddings": False}


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
