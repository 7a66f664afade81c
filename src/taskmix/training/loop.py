"""The training loop: full fine-tuning or LoRA of a Hugging Face causal LM.

One loop, written out (no HF Trainer), run through :class:`accelerate.Accelerator` so
that ``accelerate launch`` works unchanged and single-process CPU is the default.

* Batches are right-padded and attention is causal, so the attention mask is dropped (no
  real token can attend to a pad) and SDPA runs its ``is_causal`` kernel.
* Loss only on target tokens: the base model's hidden states are computed for the whole
  sequence, the positions that predict a target token are gathered, and the output layer
  is applied *only there* (:mod:`.loss`); no full-vocabulary logits for the rest. The
  model is loaded (fp32, optional LoRA) and finally saved by :mod:`.model`.
* Gradient accumulation is done here (not by Accelerate): a step's loss is the sum of
  token cross-entropies of its micro-batches divided by their total target tokens.
  Gradients are synchronised only on the last micro-batch (``accelerator.no_sync``).
* Several processes (``accelerate launch --multi_gpu --num_processes N``, also on CPU
  with gloo; see docs/scaling.md): ``batch_size`` is per process, the batch plan is cut
  into *global* micro-batches of ``batch_size * N`` examples and process ``r`` takes the
  strided slice ``[r::N]`` of each. Target-token counts are all-reduced, each process
  scales its summed loss by ``N / global_targets`` (DDP averages), so the gradient and
  the logged loss are the exact global token mean: the run equals one process with
  ``batch_size * N`` up to float rounding.
* bf16: fp32 master weights and AdamW state; forward and backward under
  ``torch.autocast(bfloat16)``. Checkpoints and the final model are fp32.
* Exact resume: the data order is a pure function of (seed, epoch); checkpoints hold
  weights, optimizer, scheduler step, RNG and the number of consumed micro-batches.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import TaskmixError
from ..models.precision import device_type, with_concrete_dtype
from ..models.prepare import resolve_model_dir
from ..progress import progress_bar
from ..seeding import derive_seed
from . import rundir
from .checkpoint import TrainState, checkpoint_dirs, load_checkpoint, save_checkpoint
from .config import TrainConfig, lr_at
from .data import batch_plan, check_mixture, collate, prompts_path, read_examples, tokenise
from .icl_check import ICLCheck
from .loss import target_loss
from .model import load_for_training, save_final
from .parallel import check_sharding, empty_like, full_state_dict, global_sum, shard_batch


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or stopped) run produced."""

    out_dir: Path
    steps: int
    total_steps: int
    last_loss: float | None
    tokens_per_s: float
    model_dir: Path | None
    resumed_from: int | None
    complete: bool


def make_optimizer(model: Any, config: TrainConfig) -> Any:
    """AdamW; weight decay only on matrices (not biases and norm weights)."""
    import torch

    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]],
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
        foreach=False,
    )


def total_steps_for(n_batches: int, config: TrainConfig, world: int = 1) -> int:
    """Optimizer steps of the run: ``max_steps``, else ``epochs`` over ``n_batches``
    micro-batches (global ones: the loop passes ``world=1``) in groups of ``grad_accum``."""
    if config.max_steps is not None:
        return config.max_steps
    return max(1, math.ceil(config.epochs * n_batches / (config.grad_accum * world)))


def train(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrainConfig,
    *,
    stop_after: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` on the mixture ``data`` into ``out_dir``; resume if it holds this run.

    ``stop_after`` ends the run (without saving the final model) after that optimizer
    step, as if killed there (used by tests). Returns a :class:`TrainResult`.
    """
    import torch
    from accelerate import Accelerator

    out_dir = Path(out_dir)
    model_dir = resolve_model_dir(model)
    data_file = prompts_path(data)
    check_mixture(data_file, config.label_loss)  # a bad mixture or eval task fails before the folder is touched
    # auto -> bf16 or fp32 before it is recorded; after the input checks, so a wrong path is the only line printed
    config = with_concrete_dtype(config, device_type(for_training=True))
    check = ICLCheck(config) if config.eval_every else None
    identity = rundir.run_identity(str(model_dir.resolve()), rundir.file_sha256(data_file), config)
    accelerator = Accelerator(mixed_precision="no", cpu=not torch.cuda.is_available())
    previous, error = None, None
    if accelerator.is_main_process:
        try:
            previous = rundir.check_or_claim(out_dir, identity)
        except TaskmixError as e:
            error = str(e)
    # every process learns the main process's verdict (an error, or an already finished run)
    shared = [error, previous]
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(shared)
    error, previous = shared
    if error is not None:
        raise TaskmixError(error)
    if previous and previous.get("status") == "complete":
        if accelerator.is_main_process:
            print(f"taskmix: {out_dir} already holds this finished run; model in {out_dir / rundir.MODEL_DIR}")
        return TrainResult(out_dir, previous.get("steps", 0), previous.get("steps", 0), None, 0.0,
                           out_dir / rundir.MODEL_DIR, None, True)

    torch.manual_seed(derive_seed(config.seed, "torch") % (2**63))
    net, tokenizer = load_for_training(model_dir, config)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    tokens = tokenise(read_examples(data_file), tokenizer, config.max_length, config.append_eos,
                      label_loss=config.label_loss)
    lengths = tokens.lengths
    plans: dict[int, list[Any]] = {}

    world, rank = accelerator.num_processes, accelerator.process_index

    def plan(epoch: int) -> list[Any]:
        if epoch not in plans:
            plans.clear()
            plans[epoch] = batch_plan(lengths, config.batch_size * world, config.seed, epoch, config.batching,
                                      config.bucket_size)
        return plans[epoch]

    n_batches = len(plan(0))  # global micro-batches per epoch
    if world > 1 and len(lengths) < world:
        raise TaskmixError(f"{data_file}: {len(lengths)} examples cannot be shared by {world} processes")
    total = total_steps_for(n_batches, config, 1)

    wrapper = target_loss(net)
    optimizer = make_optimizer(net, config)
    sharded = check_sharding(accelerator, config)
    wrapper, optimizer = accelerator.prepare(wrapper, optimizer)
    inner = accelerator.unwrap_model(wrapper).model

    state = TrainState(step=0, micro_batches=0, tokens=0, elapsed_s=0.0)
    resumed_from = None
    ckpts = checkpoint_dirs(out_dir)
    if ckpts:
        state = load_checkpoint(ckpts[-1], inner, optimizer)
        resumed_from = state.step
        if accelerator.is_main_process:
            rundir.truncate_loss_log(out_dir, state.step)
    elif accelerator.is_main_process:
        rundir.truncate_loss_log(out_dir, -1)
    accelerator.wait_for_everyone()

    log = rundir.LossLog(out_dir) if accelerator.is_main_process else None
    bar = progress_bar(total, config.progress and accelerator.is_main_process, "train", "step", initial=state.step)
    autocast = (
        torch.autocast(device_type=accelerator.device.type, dtype=torch.bfloat16)
        if config.dtype == "bf16"
        else contextlib.nullcontext()
    )
    if check is not None and state.step == 0:  # the model before training, for comparison
        icl = check.baseline(inner, tokenizer)
        if log is not None:
            log.write({"step": 0, "icl": icl})
    wrapper.train()
    step, micro, seen = state.step, state.micro_batches, state.tokens
    start_time, elapsed_before = time.perf_counter(), state.elapsed_s
    run_tokens, last_loss = 0, None
    try:
        while step < total:
            lr = lr_at(step, total, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batches = []
            for k in range(config.grad_accum):
                epoch, index = divmod(micro + k, n_batches)
                batches.append(shard_batch(tokens, plan(epoch)[index], rank, world, pad_id))
            group_targets = global_sum(accelerator, [sum(b.n_targets for b in batches if b is not None)])[0]
            loss_sum = 0.0
            for k, b in enumerate(batches):
                sync = k == len(batches) - 1
                if b is None:  # a short last batch left this process without examples
                    b = empty_like(collate(tokens, plan(0)[0][:1], pad_id))
                ctx = contextlib.nullcontext() if sync else accelerator.no_sync(wrapper)
                with ctx:
                    with autocast:
                        s = wrapper(
                            b.input_ids.to(accelerator.device),
                            b.attention_mask.to(accelerator.device),
                            b.positions.to(accelerator.device),
                            b.labels.to(accelerator.device),
                        )
                    accelerator.backward(s * world / group_targets)  # DDP averages: undo it
                loss_sum += float(s.detach())
            if config.max_grad_norm > 0:
                accelerator.clip_grad_norm_(wrapper.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            micro += config.grad_accum
            step += 1
            loss_sum, step_tokens = global_sum(accelerator, [loss_sum, sum(b.n_tokens for b in batches if b is not None)])
            last_loss = loss_sum / group_targets
            seen += int(step_tokens)
            run_tokens += int(step_tokens)  # all processes: tokens_per_s is the global throughput
            icl = check(inner, tokenizer) if check is not None and check.due(step, total) else None
            elapsed = time.perf_counter() - start_time - (check.seconds if check is not None else 0.0)
            tps = run_tokens / elapsed if elapsed > 0 else 0.0
            if log is not None and (step % config.log_every == 0 or step == total or icl is not None):
                log.write({"step": step, "loss": round(last_loss, 6), "lr": lr, "epoch": round(micro / n_batches, 4),
                           "tokens": seen, "tokens_per_s": round(tps, 1),
                           **({"icl": icl, "icl_seconds": round(check.last_seconds, 1)} if icl is not None else {})})
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}", tok_s=f"{tps:,.0f}")
            if on_step is not None:
                on_step(step, last_loss)
            done = step == total
            if config.save_every and step % config.save_every == 0 and not done:
                _save(accelerator, out_dir, inner, optimizer, config,
                      TrainState(step, micro, seen, elapsed_before + elapsed))
            if stop_after is not None and step >= stop_after and not done:
                return TrainResult(out_dir, step, total, last_loss, tps, None, resumed_from, False)
    finally:
        bar.close()
        if log is not None:
            log.close()

    elapsed = time.perf_counter() - start_time
    tps = run_tokens / elapsed if elapsed > 0 else 0.0
    final_dir = None
    # FSDP shards the weights: gather the full state dict (a collective: every process calls it)
    full_state = full_state_dict(accelerator, wrapper) if sharded else None
    if accelerator.is_main_process:
        final_dir = save_final(out_dir, inner, tokenizer, config, full_state)
        rundir.plot_loss(out_dir)
        rundir.mark(out_dir, status="complete", steps=step, tokens_per_s=round(tps, 1),
                    truncated_examples=tokens.n_truncated, examples=len(tokens))
    accelerator.wait_for_everyone()
    return TrainResult(out_dir, step, total, last_loss, tps, final_dir, resumed_from, True)


def _save(accelerator: Any, out_dir: Path, model: Any, optimizer: Any, config: TrainConfig, state: TrainState) -> None:
    if accelerator.is_main_process:
        save_checkpoint(out_dir, model, optimizer, state, config.keep_checkpoints)
        rundir.plot_loss(out_dir)
    accelerator.wait_for_everyone()
