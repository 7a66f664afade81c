"""How the demonstration-block size G trades cost against seed-to-seed spread.

For each G in {1, 5, 10, 25, n} and each seed, evaluate a model on a subset of symbol-eval
(the same tasks, settings and examples for every G) and record wall seconds, prompts per
second, the model tokens the engine ran (and padded), and each setting's mean accuracy and
balanced accuracy over datasets. The spread of a setting's mean is its standard deviation
over seeds; the default block size is the largest G whose spread (averaged over settings)
stays within 1.25x that of G=1 (fresh exemplars).

    python benchmarks/eval_blocks.py --model gemma3-270m --seeds 0,1,2,3,4 \\
        --tasks subj,tweeteval/hate,ade,tweeteval/stance_feminist \\
        --settings noinstr_labels,noinstr_symbols --max-examples 30 --out benchmarks/results/eval_blocks.json

The engine's result cache is off, so every G pays its own way. Cost is measured in process CPU
seconds (wall seconds and model tokens are recorded too); run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from taskmix.evaluation.config import EvalConfig
from taskmix.evaluation.runner import run_eval
from taskmix.models import load_model

SPREAD_TOLERANCE = 1.25


def balanced_accuracy(predictions) -> float:
    """Mean recall over the gold classes present."""
    hits: dict[int, list[int]] = {}
    for p in predictions:
        hits.setdefault(p.answer, []).append(int(p.correct))
    return sum(sum(v) / len(v) for v in hits.values()) / len(hits)


def setting_means(run) -> dict[str, dict[str, float]]:
    """Per setting: mean over datasets of accuracy and balanced accuracy."""
    cells: dict[tuple[str, str], list] = {}
    for p in run.predictions:
        cells.setdefault((p.task, p.setting), []).append(p)
    out: dict[str, dict[str, list[float]]] = {}
    for (task, setting), preds in cells.items():
        acc = sum(p.correct for p in preds) / len(preds)
        out.setdefault(setting, {"accuracy": [], "balanced_accuracy": []})
        out[setting]["accuracy"].append(acc)
        out[setting]["balanced_accuracy"].append(balanced_accuracy(preds))
    return {s: {k: 100 * statistics.fmean(v) for k, v in d.items()} for s, d in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--tasks", default="subj,tweeteval/hate,ade,tweeteval/stance_feminist")
    ap.add_argument("--settings", default="noinstr_labels,noinstr_symbols")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--blocks", default="1,5,10,25,n", help="block sizes; n = one block for all queries")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-examples", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results/eval_blocks.json")
    args = ap.parse_args(argv)

    seeds = [int(s) for s in args.seeds.split(",")]
    blocks = [None if b == "n" else int(b) for b in args.blocks.split(",")]
    base = EvalConfig(model=args.model, tasks=tuple(args.tasks.split(",")), settings=tuple(args.settings.split(",")),
                      k=args.k, max_examples=args.max_examples, dtype=args.dtype, batch_size=args.batch_size,
                      progress=False, plots=False, out="unused")
    lm = load_model(args.model, dtype=args.dtype, batch_size=args.batch_size, show_progress=False, use_cache=False)
    load_avg_start = os.getloadavg()
    rows = []
    for g in blocks:
        per_seed = []
        for seed in seeds:
            config = replace(base, seed=seed, block_size=g, shared_demos=False) if g else \
                replace(base, seed=seed, shared_demos=True)
            before = (lm.stats.tokens, lm.stats.padded_tokens, lm.stats.forward_calls)
            t0, c0 = time.perf_counter(), time.process_time()
            run = run_eval(config, model=lm, write=False)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            n = len(run.predictions)
            per_seed.append({
                "seed": seed, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "prompts": n,
                "tokens": lm.stats.tokens - before[0], "padded_tokens": lm.stats.padded_tokens - before[1],
                "forward_calls": lm.stats.forward_calls - before[2], "means": setting_means(run),
                "demo_sets": len({(p.task, p.setting, p.example_uid) for p in run.predictions}) if g == 1 else None,
            })
            print(f"G={g or 'n'} seed={seed}: {n} prompts in {seconds:.1f} s ({n / seconds:.2f}/s), "
                  f"{per_seed[-1]['tokens']} tokens", file=sys.stderr, flush=True)
        settings = sorted(per_seed[0]["means"])
        spread = {s: {m: statistics.stdev([r["means"][s][m] for r in per_seed]) for m in ("accuracy", "balanced_accuracy")}
                  for s in settings}
        mean = {s: {m: statistics.fmean([r["means"][s][m] for r in per_seed]) for m in ("accuracy", "balanced_accuracy")}
                for s in settings}
        seconds = sum(r["seconds"] for r in per_seed)
        cpu = sum(r["cpu_seconds"] for r in per_seed)
        prompts = sum(r["prompts"] for r in per_seed)
        rows.append({"block_size": g if g else "n", "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                     "prompts": prompts, "prompts_per_second": round(prompts / seconds, 3),
                     "prompts_per_cpu_second": round(prompts / cpu, 3), "tokens": sum(r["tokens"] for r in per_seed),
                     "padded_tokens": sum(r["padded_tokens"] for r in per_seed),
                     "mean_over_seeds": mean, "spread_over_seeds": spread,
                     "mean_spread": statistics.fmean(v["accuracy"] for v in spread.values()), "per_seed": per_seed})
    fresh = rows[0]
    assert fresh["block_size"] == 1, "the first block size must be 1 (fresh exemplars)"
    ok = [r for r in rows if r["mean_spread"] <= SPREAD_TOLERANCE * fresh["mean_spread"]]
    default = max(ok, key=lambda r: r["prompts_per_cpu_second"])  # the largest such G is also the cheapest
    ratio_spread = statistics.fmean(
        default["spread_over_seeds"][s]["accuracy"] / fresh["spread_over_seeds"][s]["accuracy"]
        for s in fresh["spread_over_seeds"] if fresh["spread_over_seeds"][s]["accuracy"] > 0
    )
    result = {
        "default_block_size": default["block_size"],
        "cost_ratio_vs_fresh": round(fresh["cpu_seconds"] / default["cpu_seconds"], 2),
        "cost_ratio_vs_fresh_wall": round(fresh["seconds"] / default["seconds"], 2),
        "token_ratio_vs_fresh": round(fresh["tokens"] / default["tokens"], 2),
        "cost": "process CPU seconds (robust to other jobs on the machine); wall seconds and model tokens beside",
        "spread_ratio_vs_fresh": round(ratio_spread, 3),
        "rule": f"largest G whose mean seed-to-seed spread of the setting means is within {SPREAD_TOLERANCE}x G=1's",
        "rows": rows,
        "command": "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "load_average_start": load_avg_start, "load_average_end": os.getloadavg(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": {"model": args.model, "dtype": args.dtype, "tasks": args.tasks.split(","),
                   "settings": args.settings.split(","), "k": args.k, "max_examples": args.max_examples,
                   "seeds": seeds},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("default_block_size", "cost_ratio_vs_fresh", "spread_ratio_vs_fresh")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
