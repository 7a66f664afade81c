"""``taskmix eval``: in-context-learning evaluation of a model.

Examples::

    taskmix eval --model smollm2-135m --suite symbol-eval --settings all --max-examples 30 --out runs/base
    taskmix eval --model runs/tuned/model --tasks subj,tweeteval/hate --settings noinstr_symbols,flipped --out runs/t
    taskmix eval --model smollm2-135m --tasks data/my.jsonl --text-field sentence --label-field label --out runs/mine
    taskmix eval --config eval.yaml --out runs/x          # EvalConfig fields in YAML; flags override

Writes ``results.json``, ``results.md``, ``predictions.jsonl`` and plots into ``--out``.
Without ``--suite`` and ``--tasks`` the suite ``symbol-eval`` is run. An ``--out`` that
holds a different run's results is refused unless ``--overwrite``; one that holds
anything else is refused; rerunning the same evaluation is cheap (the engine caches
model outputs on disk). Everything that can be checked without the model (tasks,
settings, exemplars per class, the output folder) is checked before it is loaded.

Protocols: ``--block-size G`` deals the queries of a (task, setting) into seeded groups of
G that share one demonstration block (G=1: fresh exemplars per query); ``--shared-demos``
is one block for all queries. ``--seeds 0,1,2`` evaluates several seeds and pools them.
Intervals resample demonstration sets, not queries, so shared blocks cannot hide their
variance.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ..config import from_dict, load_mapping
from ..errors import ConfigError
from ..evaluation.config import EvalConfig
from ..evaluation.preflight import prepare_eval, previous_run_key, remove_stale_plots
from ..evaluation.results import MARKDOWN_FILE
from ..evaluation.runner import run_eval
from ..fileio import write_failures
from ..progress import quiet_libraries
from .flags import add_config_flags, csv_list, given

FIELDS = tuple(f.name for f in dataclasses.fields(EvalConfig))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="in-context-learning evaluation (rank classification / exact match)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML file of EvalConfig fields (flags override it)")
    add_config_flags(p, EvalConfig, *FIELDS)
    p.add_argument("--all-examples", action="store_true", dest="all_examples", help="evaluate every test example")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The :class:`EvalConfig` of the command line (YAML values first, flags override)."""
    data = load_mapping(args.config, "EvalConfig fields") if args.config else {}
    for key in ("tasks", "settings"):  # YAML may give "a,b" or "all" as one string
        if isinstance(data.get(key), str):
            data[key] = list(csv_list(data[key]))
    data.update(given(args, *FIELDS))
    for key in ("tasks", "settings"):
        if key in data and isinstance(data[key], list) and not data[key]:
            raise ConfigError(f"eval: {key} is given but names nothing (--{key} '' or an empty list)")
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
    quiet_libraries(config.progress)
    previous = previous_run_key(config.out)
    load = prepare_eval(config)  # everything checkable before the model loads
    with write_failures(config.out):
        run_ = run_eval(config, loader=load)
    if not config.plots and previous not in (None, run_.run_key):
        remove_stale_plots(config.out)  # they showed the run this one replaced
    sys.stdout.write((Path(config.out) / MARKDOWN_FILE).read_text(encoding="utf-8"))
    total = dict(run_.timing).get("total", 0.0)
    print(f"\nwrote {config.out} ({len(run_.predictions)} predictions, {total:.1f} s)")
    return 0
