"""``taskmix build``: build a training mixture.

Examples::

    taskmix build symbol --config my_mixture.yaml --out mixtures/symbol   # MixtureConfig fields in YAML
    taskmix build symbol --out mixtures/small --cap 50 --tasks sst2 rte trec --seed 1
    taskmix build symbol --select-for subj --k 5 --out mixtures/for-subj   # INSTA picks the tasks

The mixture folder holds ``prompts.jsonl``, ``dataset/`` (Hugging Face ``save_to_disk``)
and ``manifest.json`` (config, seed, counts, content hash).
"""

from __future__ import annotations

import argparse
import dataclasses

from ..config import load_config
from ..errors import TaskmixError
from ..mixture.build import build_symbol_mixture
from ..mixture.config import MixtureConfig
from ..selection.tuning_pool import select_tuning
from .flags import add_config_flags, given

OVERRIDES = ("per_task_cap", "max_length", "tokenizer", "instruction_share", "flipped_share", "class_counts",
             "exemplar_choice", "similar_pool", "similar_share", "seed")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("build", help="build a training mixture (symbol tuning)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    s = kinds.add_parser("symbol", help="the symbol-tuning mixture (labels remapped to symbols)")
    s.add_argument("--config", help="YAML file of MixtureConfig fields (flags override it)")
    s.add_argument("--out", required=True, help="mixture folder to create (e.g. mixtures/symbol)")
    s.add_argument("--tasks", nargs="+", help="tuning tasks, separated by spaces (replaces the config's list)")
    s.add_argument("--extra-tasks", nargs="+", dest="extra_tasks", help="tasks added to the list")
    add_config_flags(s, MixtureConfig, *OVERRIDES, rename={"per_task_cap": "--cap"})
    s.add_argument("--select-for", dest="select_for", metavar="TARGET",
                   help="keep only the --k tuning tasks whose instructions are closest to TARGET's (INSTA)")
    s.add_argument("--k", type=int, default=5, help="with --select-for: how many tasks to keep (default 5)")
    s.add_argument("--encoder", help="with --select-for: sentence-transformers folder (default all-MiniLM-L6-v2)")
    s.set_defaults(func=run_symbol)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_symbol(args: argparse.Namespace) -> int:
    config = load_config(MixtureConfig, args.config) if args.config else MixtureConfig()
    changes = given(args, *OVERRIDES)
    for key in ("tasks", "extra_tasks"):
        if getattr(args, key):
            changes[key] = tuple(getattr(args, key))
    if changes:
        config = dataclasses.replace(config, **changes)
    if args.select_for is not None:
        if not args.select_for.strip():
            raise TaskmixError("--select-for needs a task name, got an empty string")

        pool = tuple(t for t in config.all_tasks if t != args.select_for)  # a target is never tuned on
        chosen = select_tuning(pool, args.k, target=args.select_for, encoder=args.encoder).tasks
        print("selected for " + args.select_for + ": " + ", ".join(f"{c.name} ({c.score:.3f})" for c in chosen))
        config = dataclasses.replace(config, tasks=tuple(c.name for c in chosen), extra_tasks=())

    result = build_symbol_mixture(config, args.out)
    if result.already_built:
        print(f"{result.out_dir}: already built with this config ({result.n_prompts} prompts, "
              f"sha256 {result.content_sha256[:12]})")
        return 0
    per_task = ", ".join(f"{k} {v}" for k, v in result.counts)
    print(f"built {result.n_prompts} prompts into {result.out_dir} ({per_task}); sha256 {result.content_sha256[:12]}")
    if result.skipped:
        print("skipped queries whose prompt cannot fit max_length: "
              + ", ".join(f"{k} {v}" for k, v in result.skipped) + " (counted in manifest.json)")
    return 0
