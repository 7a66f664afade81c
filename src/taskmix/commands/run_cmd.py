"""``taskmix run EXPERIMENT.yaml``: the whole pipeline from one config file."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..pipeline.experiment import load_experiment
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_experiment(args.config)
    if args.out:
        cfg = replace(cfg, out=args.out)
    result = run_experiment(cfg, evaluate=not args.no_eval)
    print(f"done in {result.seconds:.0f}s: {result.run_dir}")
    if result.report_html:
        print(f"report: {result.report_html}")
    return 0
