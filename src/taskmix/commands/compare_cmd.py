"""``taskmix compare``: differences between two evaluation runs.

Example::

    taskmix compare runs/base runs/symbol-tuned

Prints, per setting, one sentence saying what changed from A to B (pooled over seeds) and
whether the 95% interval excludes 0; then, per (dataset, setting) scored by both runs,
accuracy of each and the difference B - A in accuracy and balanced accuracy with 95% paired
bootstrap intervals, the share of queries both answered alike, and the average difference
per setting over datasets. Predictions pair up by seed, task, setting and example (runs
with other seeds pair on the seeds both evaluated, e.g. a one-seed check against a
three-seed run); intervals resample demonstration sets (queries that shared one move
together). Runs shown different prompts, or sharing no example, are refused (exit 2).
"""

from __future__ import annotations

import argparse

from ..evaluation.compare import compare_folders, format_differences
from ..evaluation.config import OUTPUT_ONLY_FIELDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="compare two evaluation runs (paired bootstrap)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_a", help="first run folder (A)")
    p.add_argument("run_b", help="second run folder (B)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    a, b, rows = compare_folders(args.run_a, args.run_b, seed=args.seed)
    if a.fingerprint == b.fingerprint and a.run_key == b.run_key:
        print("note: both folders hold the same evaluation of the same model")
    skip = set(OUTPUT_ONLY_FIELDS)
    changed = sorted(k for k in set(a.config) | set(b.config) if k not in skip and a.config.get(k) != b.config.get(k))
    if changed:
        print("config differences: " + ", ".join(f"{k}: {a.config.get(k)!r} -> {b.config.get(k)!r}" for k in changed))
    if a.config.get("dtype") != b.config.get("dtype"):
        print(f"note: the runs used other dtypes ({a.config.get('dtype')} vs {b.config.get('dtype')}); the dtype alone "
              "changes some answers (README, Precision), so compare two models evaluated in one dtype (--dtype)")
    seeds_a, seeds_b = a.run_seeds, b.run_seeds
    if set(seeds_a) != set(seeds_b):
        shared = ", ".join(str(s) for s in seeds_a if s in seeds_b)
        print(f"note: the runs evaluated other seeds; pairs come from the seeds both evaluated: {shared}")
    print(format_differences(rows, f"{args.run_a} ({a.model})", f"{args.run_b} ({b.model})"), end="")
    return 0
