"""``taskmix train``: fine-tune a causal LM on a built mixture (full or LoRA).

Examples::

    taskmix train --model smollm2-135m --data mixtures/symbol --out runs/symbol --lora
    taskmix train --model runs/base/model --data mixtures/symbol --out runs/full \\
        --config my_train.yaml --steps 200 --dtype bf16
    taskmix train --model gemma3-270m --data mixtures/symbol --out runs/ctx --full \\
        --label-loss context --eval-every 25

``--config`` takes a YAML file of TrainConfig fields (e.g. ``lr: 3.0e-4``, ``max_steps:
200``); flags override it. Run again with the same arguments to resume from the latest
checkpoint; an output folder holding a different run is refused. Works under
``accelerate launch -m taskmix train ...``.
"""

from __future__ import annotations

import argparse

from ..config import load_config
from ..fileio import write_failures
from ..progress import quiet_libraries
from ..training.config import TrainConfig
from ..training.data import check_mixture
from ..training.loop import train
from .flags import add_config_flags, given

OVERRIDES = ("lora", "max_steps", "epochs", "lr", "batch_size", "grad_accum", "max_length", "dtype", "seed",
             "save_every", "progress", "label_loss", "eval_every", "eval_tasks", "freeze_embeddings",
             "gradient_checkpointing")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="fine-tune a causal LM on a mixture (full or LoRA)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF model folder or a known alias (e.g. smollm2-135m)")
    p.add_argument("--data", required=True, help="mixture folder built by `taskmix build` (or a prompts JSONL)")
    p.add_argument("--out", required=True, help="run folder (created; resumed if it holds the same run)")
    p.add_argument("--config", help="YAML file of TrainConfig fields (flags override it)")
    mode = p.add_mutually_exclusive_group()
    add_config_flags(mode, TrainConfig, "lora")
    mode.add_argument("--full", dest="lora", action="store_false", help="full fine-tuning (overrides the config)")
    add_config_flags(p, TrainConfig, *(k for k in OVERRIDES if k != "lora"), rename={"max_steps": "--steps"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(TrainConfig, args.config) if args.config else TrainConfig()
    changes = given(args, *OVERRIDES)
    if changes:
        config = config.replace(**changes)
    quiet_libraries(config.progress)
    check_mixture(args.data, config.label_loss)  # a malformed mixture is found before the model loads

    with write_failures(args.out):
        result = train(args.model, args.data, args.out, config)
    if result.complete and result.model_dir is not None and result.last_loss is not None:
        steps = f"{result.steps} step{'s' if result.steps != 1 else ''}"
        print(f"trained {steps} (last loss {result.last_loss:.4f}, {result.tokens_per_s:,.0f} tokens/s); "
              f"model in {result.model_dir}")
    return 0
