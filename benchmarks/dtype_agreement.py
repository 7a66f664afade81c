"""Does another dtype change what a model answers? Re-evaluate part of a stored run in
another dtype on the same prompts and compare.

The check runs ``taskmix eval`` with the reference run's protocol (block size, k, format,
examples) on a subset of its tasks, settings and seeds, in ``--dtype``, then pairs the two
runs with :func:`taskmix.evaluation.compare.compare_runs`: per setting the accuracy and
balanced-accuracy difference (B = this dtype minus the reference) with paired 95%
intervals, and the share of queries answered alike. It also records the seconds per prompt
of the new run. Gemma 3 270M, fp32 on this CPU against the stored bf16 base run::

    python benchmarks/dtype_agreement.py --reference benchmarks/results/symbol_tuning_gemma3_fresh/base \\
        --dtype fp32 --tasks subj,raft/twitter_complaints,tweeteval/stance_feminist \\
        --settings noinstr_symbols,flipped,noinstr_labels --seeds 0 \\
        --eval-out runs/fp32-agreement/base --out benchmarks/results/dtype_agreement.json

An ``--eval-out`` folder that already holds this evaluation (same run key) is reused, not run
again (``run_finished`` says when it was written; the load averages are this script's). Base and tuned models must be compared in one dtype: this measures how much of a
difference the dtype alone would make.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from taskmix.config import from_dict
from taskmix.errors import TaskmixError
from taskmix.evaluation.compare import compare_runs, headline
from taskmix.evaluation.config import EvalConfig
from taskmix.evaluation.results import read_run
from taskmix.evaluation.runner import run_eval
from taskmix.models.precision import with_concrete_dtype


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def check_config(reference: dict, args: argparse.Namespace) -> EvalConfig:
    """The reference's protocol on the chosen subset, in ``--dtype``, writing to ``--eval-out``."""
    data = dict(reference)
    data.pop("effective_block_size", None)  # derived, not a config field
    data.update(suite=None, tasks=args.tasks.split(","), settings=args.settings.split(","), dtype=args.dtype,
                seeds=[int(s) for s in args.seeds.split(",")], out=args.eval_out, overwrite=False)
    config = from_dict(EvalConfig, data, where="check")
    return replace(config, seed=config.seeds[0])


def row_json(r) -> dict:
    return {"n": r.n, "accuracy_reference": round(100 * r.acc_a, 2), "accuracy": round(100 * r.acc_b, 2),
            "difference_pp": [round(100 * x, 2) for x in (r.diff, r.ci_low, r.ci_high)],
            "balanced_difference_pp": [round(100 * x, 2) for x in (r.bal_diff, r.bal_low, r.bal_high)]
            if r.bal_diff is not None else None,
            "same_answer_pct": round(100 * r.agree, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", required=True, help="a stored evaluation run folder (with predictions.jsonl)")
    p.add_argument("--dtype", default="fp32", help="the dtype to check (fp32, bf16, auto)")
    p.add_argument("--tasks", required=True, help="comma-separated tasks of the reference to re-evaluate")
    p.add_argument("--settings", required=True, help="comma-separated settings to re-evaluate")
    p.add_argument("--seeds", default="0", help="comma-separated seeds of the reference to re-evaluate")
    p.add_argument("--eval-out", required=True, help="run folder of the new evaluation (reused if it holds it)")
    p.add_argument("--out", required=True, help="results JSON")
    args = p.parse_args(argv)
    load_start = os.getloadavg()
    try:
        reference = read_run(args.reference)
        config = with_concrete_dtype(check_config(reference.config, args), "cpu")
        existing = read_run(args.eval_out) if (Path(args.eval_out) / "results.json").is_file() else None
        reused = existing is not None and existing.run_key == config.run_key()
        if not reused:
            run_eval(config)
        run = read_run(args.eval_out)
        rows = compare_runs(reference, run)
    except TaskmixError as e:
        print(f"dtype_agreement: error: {e}", file=sys.stderr)
        return 2
    results_file = Path(args.eval_out) / "results.json"
    timing = dict(run.timing)
    finished = datetime.fromtimestamp(results_file.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    prompts = len(run.predictions)
    same = sum(r.agree * r.n for r in rows if r.task != "average") / sum(r.n for r in rows if r.task != "average")
    result = {
        "reference": {"folder": args.reference, "dtype": reference.config.get("dtype"), "model": reference.model},
        "check": {"folder": args.eval_out, "dtype": config.dtype, "prompts": prompts, "reused_stored_run": reused,
                  "run_finished": finished,
                  "inference_seconds": round(timing["inference"], 1),
                  "seconds_per_prompt": round(timing["inference"] / prompts, 3)},
        "same_answer_pct": round(100 * same, 2),
        "per_setting": {s: row_json(r) for s, r in headline(rows).items()},
        "per_dataset": {f"{r.task}/{r.setting}": row_json(r) for r in rows if r.task != "average"},
        "reading": "B = the checked dtype, A = the reference; differences B - A in pp with paired 95% intervals",
        "command": "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"same answer on {result['same_answer_pct']:.1f}% of {prompts} queries; per setting (pp, B - A):")
    for s, r in result["per_setting"].items():
        print(f"  {s}: {r['difference_pp']} accuracy, {r['balanced_difference_pp']} balanced")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
