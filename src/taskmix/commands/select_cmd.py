"""``taskmix select``: instruction-only task selection (INSTA), and ``select train-encoder``.

Examples::

    taskmix select --pool niv2 --target niv2/task363_sst2_polarity_classification --k 10
    taskmix select --pool niv2 --instruction "Classify the review as positive or negative." --k 5
    taskmix select --pool p3 --target sst2 --k 10 --aggregate max --exclude-same-source
    taskmix select train-encoder --pool p3 --positives same_task --out encoders/p3-aligned --epochs 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..catalogue import FILE_SUFFIXES, default_root
from ..errors import TaskmixError
from ..paths import mirror_dir
from ..selection import build_index, build_pool, select_by_instruction, select_for_task
from ..selection.align import POSITIVE_RULES, AlignConfig, train_aligned_encoder
from ..selection.encoder import Encoder
from ..selection.index import POOLS
from ..selection.rank import check_instruction


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "select",
        help="rank a pool's tasks by instruction similarity (INSTA); `select train-encoder` fine-tunes an encoder",
        description="Rank the tasks of a pool by the cosine similarity of their instructions to a target.",
    )
    p.add_argument("action", nargs="?", choices=("train-encoder",), help="train-encoder: fine-tune an aligned encoder")
    p.add_argument("--pool", default="niv2", help="niv2, p3, bigbench or bbh (default: niv2)")
    q = p.add_mutually_exclusive_group()
    q.add_argument("--target", metavar="NAME", help="a task name (in the pool or the catalogue) to select for")
    q.add_argument("--instruction", metavar="TEXT", help="a free-text instruction to select for")
    p.add_argument("--k", type=int, default=10, help="how many tasks to print (default: 10)")
    p.add_argument("--aggregate", choices=("mean", "max"), default="mean", help="how to combine pairwise cosines")
    p.add_argument("--exclude-same-source", action="store_true", help="skip tasks built from the target's source dataset")
    p.add_argument("--english-only", action="store_true", help="NIV2: only English tasks")
    p.add_argument("--encoder", metavar="DIR|ID", help="sentence-transformers folder or cached hub id (default: all-MiniLM-L6-v2)")
    p.add_argument("--data", metavar="DIR", help="data folder (default: the data cache, else $TASKMIX_MIRROR)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    t = p.add_argument_group("train-encoder")
    t.add_argument("--out", metavar="DIR", help="output folder of the fine-tuned encoder")
    t.add_argument("--epochs", type=int, default=1, help="training epochs (INSTA used 5)")
    t.add_argument("--lr", type=float, default=2e-5, help="learning rate (INSTA used 1e-6)")
    t.add_argument("--batch-size", type=int, default=16, help="batch size (default: 16)")
    t.add_argument("--max-pairs", type=int, default=20000, help="cap on training pairs (seeded sample)")
    t.add_argument("--holdout", metavar="NAME", action="append", default=[], help="task kept out of training (repeatable)")
    t.add_argument("--max-seq-length", type=int, default=128, help="token limit while training (default: 128)")
    t.add_argument(
        "--positives", choices=POSITIVE_RULES, default="source_category",
        help="positive pairs: same task or same source dataset and category; any same-category tasks; or same task "
             "only (INSTA's rule on --pool p3: two templates of one dataset)",
    )
    t.add_argument("--seed", type=int, default=0, help="seed for pair sampling and training")
    p.set_defaults(func=run)


def data_root(arg: str | None, probe: str) -> Path:
    """``--data`` if given; else the data cache when it holds ``probe``; else the mirror."""
    if arg:
        root = Path(arg).expanduser()
        if not root.is_dir():
            raise TaskmixError(f"{root}: data folder does not exist")
        return root
    root = default_root()
    mirror = mirror_dir()
    if not (root / probe).exists() and mirror is not None and (mirror / probe).exists():
        return mirror
    return root


_PROBES = {
    "niv2": "derived/niv2_task_metadata.json",
    "p3": "github/bigscience-workshop/promptsource",
    "bigbench": "pypi/bigbench-1.0.0",
    "bbh": "github/suzgunmirac/BIG-Bench-Hard",
}


def run(args: argparse.Namespace) -> int:
    if args.pool not in POOLS:
        raise TaskmixError(f"unknown pool {args.pool!r} (known: {', '.join(POOLS)})")
    if args.action == "train-encoder":
        return run_train(args)
    if args.out is not None:
        raise TaskmixError("--out is for `select train-encoder` only; selection prints its ranking (--json for JSON lines)")
    if args.target is not None and args.target.lower().endswith(FILE_SUFFIXES):  # before the pool is built
        raise TaskmixError(f"{args.target}: a file path, not a task name (task names: `taskmix tasks list`)")
    if args.target is None and args.instruction is None:
        raise TaskmixError("give --target NAME or --instruction TEXT")
    if args.k < 1:
        raise TaskmixError(f"--k must be at least 1, got {args.k}")

    if args.instruction is not None:
        check_instruction(args.instruction)

    encoder = Encoder(args.encoder)
    root = data_root(args.data, _PROBES[args.pool])
    pool = build_pool(args.pool, root, english_only=args.english_only)
    if args.k > len(pool):
        raise TaskmixError(f"--k {args.k} is larger than the {len(pool)} tasks of the {args.pool} pool")
    index = build_index(pool, encoder)
    if args.instruction is not None:
        selected = select_by_instruction(index, encoder, args.instruction, args.k, args.aggregate)
    else:
        selected = select_for_task(
            index, encoder, args.target, args.k, args.aggregate, exclude_same_source=args.exclude_same_source, root=root
        )
    out = sys.stdout
    if args.json:
        for s in selected:
            out.write(json.dumps(s.__dict__) + "\n")
        return 0
    out.write(f"{'rank':>4}  {'score':>6}  {'task':<60} {'category':<28} source\n")
    for s in selected:
        out.write(f"{s.rank:>4}  {s.score:6.3f}  {s.name:<60} {s.category or '-':<28} {s.source_dataset or '-'}\n")
    return 0


def run_train(args: argparse.Namespace) -> int:
    if not args.out:
        raise TaskmixError("train-encoder needs --out DIR")
    config = AlignConfig(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, max_pairs=args.max_pairs, seed=args.seed,
        max_seq_length=args.max_seq_length, positives=args.positives,
    )
    root = data_root(args.data, _PROBES[args.pool])
    report = train_aligned_encoder(
        args.pool, root, Path(args.out), config, encoder=args.encoder, holdout=tuple(args.holdout),
        english_only=args.english_only,
    )
    print(
        f"wrote {report.out} ({report.n_positive} positive, {report.n_negative} negative pairs, "
        f"{report.n_holdout} held-out tasks, {report.seconds:.0f}s)"
    )
    return 0
