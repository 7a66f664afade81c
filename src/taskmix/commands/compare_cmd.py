"""``taskmix compare``: differences between two evaluation runs.

Example::

    taskmix compare runs/base runs/symbol-tuned

Prints, per (dataset, setting) scored by both runs, accuracy of each and the difference
B - A with a 95% paired bootstrap interval over the examples both runs scored, then the
average difference per setting (stratified paired bootstrap). Two runs with no
(dataset, setting) pair in common, or a run folder without its ``predictions.jsonl``,
are an error: there is nothing to compare.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="compare two evaluation runs (paired bootstrap)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_a", help="first run folder (A)")
    p.add_argument("run_b", help="second run folder (B)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import TaskmixError
    from ..evaluation.compare import compare_folders, format_differences
    from ..evaluation.config import OUTPUT_ONLY_FIELDS
    from ..evaluation.results import PREDICTIONS_FILE, read_results

    for folder in (args.run_a, args.run_b):
        read_results(folder)  # not a run folder: says so
        if not (Path(folder) / PREDICTIONS_FILE).is_file():
            raise TaskmixError(f"{folder}: no {PREDICTIONS_FILE}: the run's predictions are needed to compare it")
    a, b, rows = compare_folders(args.run_a, args.run_b, seed=args.seed)
    if not rows:
        raise TaskmixError(f"{args.run_a} and {args.run_b} have no (dataset, setting) pair scored by both; "
                           "nothing to compare")
    if a.fingerprint == b.fingerprint and a.run_key == b.run_key:
        print("note: both folders hold the same evaluation of the same model")
    skip = set(OUTPUT_ONLY_FIELDS)
    changed = sorted(k for k in set(a.config) | set(b.config) if k not in skip and a.config.get(k) != b.config.get(k))
    if changed:
        print("config differences: " + ", ".join(f"{k}: {a.config.get(k)!r} -> {b.config.get(k)!r}" for k in changed))
    print(format_differences(rows, f"{args.run_a} ({a.model})", f"{args.run_b} ({b.model})"), end="")
    return 0
