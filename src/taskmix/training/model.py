"""The model under training: loaded in fp32 (with a LoRA adapter if asked), saved at the end.

:func:`load_for_training` reads a Hugging Face model folder and its tokenizer;
:func:`save_final` writes the trained model as a standard folder ``model/`` (LoRA merged
into the weights) and, for LoRA with ``save_adapter``, the bare adapter in ``adapter/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import TaskmixError
from ..seeding import derive_seed
from . import rundir
from .config import TrainConfig


def load_for_training(model_dir: Path, config: TrainConfig) -> tuple[Any, Any]:
    """(model, tokenizer) in fp32, with a LoRA adapter if ``config.lora``, the input
    embeddings frozen if ``config.freeze_embeddings``, layers recomputed in the backward
    pass if ``config.gradient_checkpointing``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise TaskmixError(f"{model_dir}: cannot load model ({' '.join(str(e).split())[:200]})") from None
    model.config.use_cache = False
    if config.gradient_checkpointing:  # non-reentrant: needs no input that requires grad (LoRA, frozen embeddings)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.freeze_embeddings:  # the output layer too when it is the same tensor (tied)
        model.get_input_embeddings().weight.requires_grad_(False)
    if config.lora:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(derive_seed(config.seed, "lora-init") % (2**63))
        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_targets) or "all-linear",
            task_type="CAUSAL_LM",
        )
        try:
            model = get_peft_model(model, lora)
        except ValueError as e:
            raise TaskmixError(f"lora_targets {list(config.lora_targets)}: {e}") from None
    return model, tokenizer


def save_final(out_dir: Path, model: Any, tokenizer: Any, config: TrainConfig,
               state_dict: dict[str, Any] | None = None) -> Path:
    """Save a standard HF folder ``model/`` (LoRA merged into the weights) and, for LoRA
    with ``save_adapter``, the bare adapter in ``adapter/``. Written via temp folders.
    ``state_dict``: the full weights when the model itself is sharded (FSDP)."""
    final = out_dir / rundir.MODEL_DIR

    def publish(tmp: Path, dest: Path) -> None:
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)

    if config.lora:
        if config.save_adapter:
            tmp = out_dir / ".adapter.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            model.save_pretrained(tmp)
            publish(tmp, out_dir / rundir.ADAPTER_DIR)
        model = model.merge_and_unload()
    model.config.use_cache = True
    tmp = out_dir / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, state_dict=state_dict)
    tokenizer.save_pretrained(tmp)
    publish(tmp, final)
    return final
