"""``taskmix export lm-eval``: our evaluation prompts as lm-evaluation-harness tasks."""

from __future__ import annotations

import argparse

from ..config import from_dict
from ..evaluation.config import EvalConfig
from ..evaluation.plan import (
    build_prompt_sets,
    check_model_spec,
    context_budget,
    eval_examples,
    load_eval_model,
    plan_tasks,
    token_counter,
)
from ..export.lm_eval import export_prompts


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export evaluation prompts to other tools (lm-evaluation-harness)",
        description=(
            "Write lm-evaluation-harness task YAML plus JSONL data holding exactly the prompts "
            "`taskmix eval` scores, so `lm_eval --include_path DIR --tasks <group>` reproduces "
            "taskmix's accuracy. Example: taskmix export lm-eval --suite symbol-eval --out exports/symbol-eval"
        ),
    )
    sub = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    q = sub.add_parser("lm-eval", help="lm-evaluation-harness task YAML + data files")
    q.add_argument("--suite", help="a named suite (symbol-eval, algorithmic)")
    q.add_argument("--tasks", help="comma-separated task names or task files")
    q.add_argument("--settings", default="all", help="comma-separated settings, or all (default)")
    q.add_argument("--k", type=int, default=4, help="exemplars per class (default 4)")
    q.add_argument("--max-examples", type=int, default=100, help="examples per task (default 100)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--shared-demos", action="store_true", help="one demonstration block per (task, setting, seed)")
    q.add_argument("--format", default="random", help="prompt format name, or random")
    q.add_argument("--model", default="smollm2-135m",
                   help="model whose tokenizer and context length fit the prompts (default smollm2-135m)")
    q.add_argument("--group", default="taskmix", help="lm-eval group name and task-name prefix")
    q.add_argument("--out", required=True, help="folder for the YAML and JSONL files")
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data = {
        "model": args.model, "suite": args.suite, "k": args.k, "max_examples": args.max_examples,
        "seed": args.seed, "shared_demos": args.shared_demos, "format": args.format,
        "settings": [s.strip() for s in args.settings.split(",") if s.strip()],
        "tasks": [t.strip() for t in (args.tasks or "").split(",") if t.strip()], "progress": False,
    }
    if not data["suite"] and not data["tasks"]:
        data["suite"] = "symbol-eval"
    config = from_dict(EvalConfig, data, where="export")
    check_model_spec(config.model)
    planned = plan_tasks(config)
    work = [(pt, eval_examples(pt.task, config)) for pt in planned]
    model = load_eval_model(config)
    prompt_sets = build_prompt_sets(work, config, token_counter(model), context_budget(model, config))
    exported = export_prompts((p for _, _, prompts in prompt_sets for p in prompts), args.out, group=args.group)
    for e in exported:
        print(f"{e.name}\t{e.n} prompts\t{e.yaml_path}")
    print(f"run: lm_eval --model hf --model_args pretrained=<model folder>,dtype=float32 "
          f"--include_path {args.out} --tasks {args.group}")
    return 0
