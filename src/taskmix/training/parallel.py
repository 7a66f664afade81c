"""Data parallelism for the training loop (DDP on CPU/gloo or GPU; FSDP/DeepSpeed guards).

``batch_size`` is per process: a *global* micro-batch of ``batch_size * world`` examples
is cut strided, process ``r`` taking ``[r::world]``; target-token counts and losses are
summed over processes (:func:`global_sum`) so the loss is the global token mean.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import TaskmixError
from .config import TrainConfig
from .data import TokenisedData, collate


def shard_batch(tokens: TokenisedData, indices: Any, rank: int, world: int, pad_id: int) -> Any:
    """This process's strided share ``indices[rank::world]`` of a global micro-batch, collated
    (``None`` if the share is empty)."""
    mine = indices[rank::world]
    return collate(tokens, mine, pad_id) if len(mine) else None


def empty_like(batch: Any) -> Any:
    """A one-row batch with no targets: the forward still runs (DDP needs every process to
    take part) but adds zero loss and zero gradient."""
    return replace(batch, positions=batch.positions[:0], labels=batch.labels[:0], n_tokens=0, n_targets=0)


def global_sum(accelerator: Any, values: list[float]) -> list[float]:
    """``values`` summed over all processes (float64; unchanged with one process)."""
    if accelerator.num_processes == 1:
        return [float(v) for v in values]
    import torch

    t = torch.tensor(values, dtype=torch.float64, device=accelerator.device)
    torch.distributed.all_reduce(t)
    return [float(v) for v in t.tolist()]


def check_sharding(accelerator: Any, config: TrainConfig) -> bool:
    """True under FSDP/DeepSpeed (``accelerate config``), where each process holds only part
    of the optimizer state (and, for FSDP, of the weights). Checkpoints are written by the
    main process alone, so they (and LoRA merging under FSDP) are refused there."""
    from accelerate.utils import DistributedType

    kind = accelerator.distributed_type
    if kind not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return False
    if config.save_every:
        raise TaskmixError(f"save_every={config.save_every}: checkpoints are not supported under {kind.value}; "
                           "set save_every: 0 (see docs/scaling.md)")
    if config.eval_every and kind == DistributedType.FSDP:
        raise TaskmixError(f"eval_every={config.eval_every}: the in-context check needs whole weights on every "
                           "process, which FSDP does not keep; set eval_every: 0 (see docs/scaling.md)")
    if config.lora and kind == DistributedType.FSDP:
        raise TaskmixError("lora: LoRA training is not supported under FSDP; use DDP or DeepSpeed (docs/scaling.md)")
    return kind == DistributedType.FSDP


def full_state_dict(accelerator: Any, wrapper: Any) -> dict[str, Any] | None:
    """The unsharded weights of the wrapped model (keys without the wrapper's ``model.``)."""
    full = accelerator.get_state_dict(wrapper)
    if not accelerator.is_main_process or full is None:
        return None
    return {k[len("model."):] if k.startswith("model.") else k: v for k, v in full.items()}
