"""``taskmix export lm-eval``: our evaluation prompts as lm-evaluation-harness tasks."""

from __future__ import annotations

import argparse

from ..config import from_dict
from ..errors import ConfigError
from ..evaluation.config import EvalConfig
from ..evaluation.plan import build_prompt_sets, context_budget, eval_examples, load_eval_model, plan_tasks, token_counter
from ..evaluation.preflight import prepare_eval
from ..export.lm_eval import check_export_dir, export_prompts
from ..progress import quiet_libraries
from .flags import add_config_flags, given

# EvalConfig fields that decide the exported prompts (defaults and help come from EvalConfig)
FIELDS = ("model", "suite", "tasks", "settings", "k", "max_examples", "seed", "block_size", "shared_demos", "format",
          "max_context_tokens", "text_field", "label_field", "eval_split")
DEFAULT_MODEL = "smollm2-135m"  # export needs a tokenizer and a context length even without --model


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
    add_config_flags(q, EvalConfig, *FIELDS, defaults={"model": DEFAULT_MODEL})
    q.add_argument("--group", default="taskmix", help="lm-eval group name and task-name prefix (default: taskmix)")
    q.add_argument("--out", required=True, help="folder for the YAML and JSONL files (new, empty, or an earlier export)")
    q.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out (its files are removed)")
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data = {"model": DEFAULT_MODEL, **given(args, *FIELDS), "progress": False}
    for key in ("tasks", "settings"):
        if key in data and not data[key]:
            raise ConfigError(f"export: --{key} is given but names nothing")
    if not data.get("suite") and not data.get("tasks"):
        data["suite"] = "symbol-eval"
    config = from_dict(EvalConfig, data, where="export")
    quiet_libraries(False)
    check_export_dir(args.out, args.overwrite)
    load = prepare_eval(config)  # everything checkable before the model loads
    planned = plan_tasks(config, load)
    work = [(pt, eval_examples(pt.task, config)) for pt in planned]
    model = load_eval_model(config)
    prompt_sets = build_prompt_sets(work, config, token_counter(model), context_budget(model, config))
    exported = export_prompts((p for _, _, prompts in prompt_sets for p in prompts), args.out, group=args.group,
                              overwrite=args.overwrite)
    for e in exported:
        print(f"{e.name}\t{e.n} prompts\t{e.yaml_path}")
    print(f"run: lm_eval --model hf --model_args pretrained=<model folder>,dtype=float32 "
          f"--include_path {args.out} --tasks {args.group}")
    return 0
