"""``taskmix train``: fine-tune a causal LM on a built mixture (full or LoRA).

Examples::

    taskmix train --model smollm2-135m --data mixtures/symbol --out runs/symbol --lora
    taskmix train --model runs/base/model --data mixtures/symbol --out runs/full \
        --config configs/train.yaml --steps 200 --dtype bf16
    taskmix train --model gemma3-270m --data mixtures/symbol --out runs/ctx --full \
        --label-loss context --eval-every 25

Run again with the same arguments to resume from the latest checkpoint; an output folder
holding a different run is refused. Works under ``accelerate launch -m taskmix train ...``.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="fine-tune a causal LM on a mixture (full or LoRA)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF model folder or a known alias (e.g. smollm2-135m)")
    p.add_argument("--data", required=True, help="mixture folder built by `taskmix build` (or a prompts JSONL)")
    p.add_argument("--out", required=True, help="run folder (created; resumed if it holds the same run)")
    p.add_argument("--config", help="YAML file of TrainConfig fields")
    p.add_argument("--lora", action="store_true", default=None, help="train a LoRA adapter (merged at the end)")
    p.add_argument("--full", dest="lora", action="store_false", help="full fine-tuning (overrides the config)")
    p.add_argument("--steps", type=int, dest="max_steps", help="optimizer steps (overrides epochs)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--grad-accum", type=int, dest="grad_accum")
    p.add_argument("--max-length", type=int, dest="max_length")
    p.add_argument("--dtype", choices=("fp32", "bf16"))
    p.add_argument("--seed", type=int)
    p.add_argument("--save-every", type=int, dest="save_every")
    p.add_argument("--label-loss", dest="label_loss", metavar="{query,context}",
                   help="query: loss on the query's label only (default); context: also on every exemplar label "
                        "whose class appeared earlier in the prompt (needs a mixture built with label spans)")
    p.add_argument("--eval-every", type=int, dest="eval_every", metavar="N",
                   help="check in-context accuracy every N optimizer steps (logged in loss.jsonl and loss.png)")
    p.add_argument("--eval-tasks", dest="eval_tasks", type=_task_list, metavar="T1,T2",
                   help="tasks of the in-context check (default: tweeteval/emotion,imdb)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="hide the progress bar")
    p.set_defaults(func=run)


OVERRIDES = ("lora", "max_steps", "epochs", "lr", "batch_size", "grad_accum", "max_length", "dtype", "seed",
             "save_every", "progress", "label_loss", "eval_every", "eval_tasks")


def _task_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..training.config import TrainConfig

    config = load_config(TrainConfig, args.config) if args.config else TrainConfig()
    changes = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k, None) is not None}
    if changes:
        config = config.replace(**changes)

    from ..training.loop import train

    result = train(args.model, args.data, args.out, config)
    if result.complete and result.model_dir is not None:
        loss = f"{result.last_loss:.4f}" if result.last_loss is not None else "-"
        print(f"trained {result.steps} steps (last loss {loss}, {result.tokens_per_s:,.0f} tokens/s); "
              f"model in {result.model_dir}")
    return 0
