"""``taskmix eval``: in-context-learning evaluation of a model.

Examples::

    taskmix eval --model smollm2-135m --suite symbol-eval --settings all --max-examples 30 --out runs/base
    taskmix eval --model runs/tuned/model --tasks subj,tweeteval/hate --settings noinstr_symbols,flipped --out runs/t
    taskmix eval --model smollm2-135m --tasks data/my.jsonl --text-field sentence --label-field label --out runs/mine
    taskmix eval --config eval.yaml --out runs/x          # EvalConfig fields in YAML; flags override

Writes ``results.json``, ``results.md``, ``predictions.jsonl`` and plots into ``--out``.
Without ``--suite`` and ``--tasks`` the suite ``symbol-eval`` is run. An ``--out`` that
holds a different run's results is refused unless ``--overwrite``; rerunning the same
evaluation is cheap (the engine caches model outputs on disk).

Protocols: by default every query gets fresh exemplars; ``--shared-demos`` draws one
demonstration block per (task, setting, seed) and reuses it for all queries (cheaper:
one shared key/value prefix; but results rest on a single draw of exemplars, so seed
variance is larger than the per-example interval shows).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import from_dict, load_yaml
from ..errors import ConfigError
from ..evaluation.config import EvalConfig
from ..evaluation.results import MARKDOWN_FILE
from ..evaluation.runner import run_eval


def _csv(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="in-context-learning evaluation (rank classification / exact match)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML file of EvalConfig fields (flags override it)")
    p.add_argument("--model", help="model alias, model folder or hub id")
    p.add_argument("--suite", help="symbol-eval (default) or algorithmic")
    p.add_argument("--tasks", type=_csv, help="comma-separated task names or task files")
    p.add_argument("--settings", type=_csv, help="comma-separated settings, or all (default)")
    p.add_argument("--k", type=int, help="exemplars per class (default 4)")
    p.add_argument("--max-examples", type=int, dest="max_examples", help="evaluated examples per task (default 100)")
    p.add_argument("--all-examples", action="store_true", dest="all_examples", help="evaluate every test example")
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument("--out", help="run folder to write")
    p.add_argument("--shared-demos", action="store_true", default=None, dest="shared_demos",
                   help="one demonstration block per (task, setting, seed)")
    p.add_argument("--dtype", choices=("float32", "bfloat16"))
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--format", help="prompt format name, or random (default)")
    p.add_argument("--length-normalized", action="store_true", default=None, dest="length_normalized",
                   help="rank labels by mean token log-probability")
    p.add_argument("--max-context-tokens", type=int, dest="max_context_tokens")
    p.add_argument("--max-new-tokens", type=int, dest="max_new_tokens")
    p.add_argument("--text-field", dest="text_field", help="input field of task files")
    p.add_argument("--label-field", dest="label_field", help="label field of task files")
    p.add_argument("--overwrite", action="store_true", default=None, help="replace another run's results in --out")
    p.add_argument("--no-plots", action="store_false", default=None, dest="plots")
    p.add_argument("--no-progress", action="store_false", default=None, dest="progress")
    p.set_defaults(func=run)


FIELDS = ("model", "suite", "tasks", "settings", "k", "max_examples", "seed", "out", "shared_demos", "dtype",
          "batch_size", "format", "length_normalized", "max_context_tokens", "max_new_tokens", "text_field",
          "label_field", "overwrite", "plots", "progress")


def config_from_args(args: argparse.Namespace):
    """The :class:`EvalConfig` of the command line (YAML values first, flags override)."""
    data = {}
    if args.config:
        data = load_yaml(args.config) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{args.config}: expected a mapping of EvalConfig fields")
    for key in ("tasks", "settings"):  # YAML may give "a,b" or "all" as one string
        if isinstance(data.get(key), str):
            data[key] = list(_csv(data[key]))
    for key in FIELDS:
        value = getattr(args, key, None)
        if value is not None:
            data[key] = list(value) if isinstance(value, tuple) else value
    if args.all_examples:
        data["max_examples"] = None
    if not data.get("model"):
        raise ConfigError("eval: --model is required")
    if not data.get("out"):
        raise ConfigError("eval: --out is required")
    if not data.get("suite") and not data.get("tasks"):
        data["suite"] = "symbol-eval"
    return from_dict(EvalConfig, data, where=args.config or "eval")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    run_ = run_eval(config)

    sys.stdout.write((Path(config.out) / MARKDOWN_FILE).read_text(encoding="utf-8"))
    total = dict(run_.timing).get("total", 0.0)
    print(f"\nwrote {config.out} ({len(run_.predictions)} predictions, {total:.1f} s)")
    return 0
