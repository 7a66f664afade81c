"""``taskmix run EXPERIMENT.yaml``: the whole pipeline from one config file."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..config import DTYPE_SPELLINGS
from ..pipeline.experiment import load_experiment, with_dtype
from ..pipeline.run import run_experiment


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run an experiment file: select -> build -> train -> eval -> report",
        description="Run every stage of an experiment YAML; finished stages are skipped, an interrupted one resumes.",
    )
    p.add_argument("config", help="experiment YAML, e.g. configs/demo.yaml or configs/eval_only.yaml")
    p.add_argument("--out", help="run folder (default: the config's out, else runs/<name>)")
    p.add_argument("--no-eval", action="store_true",
                   help="stop after training: no evaluation and no report (a later run without it evaluates, "
                        "reusing the stages that ran)")
    p.add_argument("--dtype", choices=tuple(DTYPE_SPELLINGS),
                   help="the dtype of training and of every evaluation, in place of the file's (e.g. auto for a "
                        "bf16 experiment on a CPU without native bf16; its stages get new keys, the file's run is "
                        "kept aside)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_experiment(args.config)
    if args.out:
        cfg = replace(cfg, out=args.out)
    if args.dtype:
        cfg = with_dtype(cfg, args.dtype)
    result = run_experiment(cfg, evaluate=not args.no_eval)
    print(f"done in {result.seconds:.0f}s: {result.run_dir}")
    if result.report_html:
        print(f"report: {result.report_html}")
    return 0
