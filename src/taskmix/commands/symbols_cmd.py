"""``taskmix symbols``: inspect the symbol pools used for symbol tuning and evaluation.

Examples::

    taskmix symbols show --pool eval --n 20
    taskmix symbols show --pool tuning --kind word --n 10 --seed 3
"""

from __future__ import annotations

import argparse

from ..errors import TaskmixError
from ..seeding import rng_for
from ..symbols import KINDS, pool_sizes, sample_symbols


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("symbols", help="show the arbitrary-symbol pools (tuning / eval)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    s = sub.add_parser("show", help="print pool sizes per kind and a sample of symbols")
    s.add_argument("--pool", default="eval", help="tuning or eval (default: eval)")
    s.add_argument("--n", type=int, default=20, help="how many symbols to sample (default: 20)")
    s.add_argument("--kind", default=None, help="only this kind: integer, letters or word")
    s.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    s.set_defaults(func=run_show)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_show(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise TaskmixError(f"--n must be 0 or more, got {args.n}")
    sizes = pool_sizes(args.pool)
    other = "eval" if args.pool == "tuning" else "tuning"
    print(f"pool {args.pool}: {sum(sizes.values())} symbols (disjoint from the {other} pool)")
    for kind in KINDS:
        print(f"  {kind:<8} {sizes[kind]:>7}")
    sample = sample_symbols(args.pool, args.n, rng_for(args.seed, "symbols-show", args.pool), kind=args.kind)
    if sample:
        print(f"sample of {len(sample)}{' ' + args.kind if args.kind else ''} (seed {args.seed}):")
        print("  " + " ".join(sample))
    return 0
