"""Collect a symbol-tuning experiment into benchmarks/results/symbol_tuning.json.

The experiment itself is run with taskmix's own commands (the JSON records them):

    taskmix run configs/symbol_tuning.yaml                      # build, train, eval base + tuned
    taskmix eval --model smollm2-135m --suite algorithmic --max-examples 30 --out runs/st-base-alg
    taskmix eval --model runs/symbol-tuning/train/run/model --suite algorithmic --max-examples 30 \\
        --out runs/st-tuned-alg
    # the same symbol-eval with fresh exemplars per query (the paper's protocol), both models
    taskmix eval --model smollm2-135m --suite symbol-eval --settings all --k 4 --max-examples 30 \\
        --dtype bfloat16 --out runs/st-base-fresh          # and --model runs/.../model --out runs/st-tuned-fresh

This script reads the evaluation folders and the training run, and writes, per model,
``base`` and ``tuned`` accuracies (instr_labels, noinstr_labels, instr_symbols,
noinstr_symbols, flipped, list_functions, simple_turing_concepts), their 95% intervals, the
tuned-minus-base differences with paired bootstrap intervals, the issue's goals, the
compute budget and the commands. With ``--base-fresh``/``--tuned-fresh`` the headline
symbol-eval numbers are those of fresh exemplars per query (the paper's protocol), and the
shared-demonstration run is reported beside them under ``shared_demos``::

    .venv/bin/python benchmarks/symbol_tuning.py --model smollm2-135m \\
        --base runs/symbol-tuning/eval-base/results --tuned runs/symbol-tuning/eval-tuned/results \\
        --base-algorithmic runs/st-base-alg --tuned-algorithmic runs/st-tuned-alg \\
        --base-fresh runs/st-base-fresh --tuned-fresh runs/st-tuned-fresh \\
        --train-run runs/symbol-tuning/train/run --config configs/symbol_tuning.yaml
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from taskmix.errors import TaskmixError  # noqa: E402
from taskmix.evaluation.compare import compare_runs  # noqa: E402
from taskmix.evaluation.results import AVERAGE, EvalRun, read_run  # noqa: E402
from taskmix.evaluation.stats import paired_bootstrap_difference, stratified_bootstrap_mean  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "symbol_tuning.json"
SETTINGS = ("instr_labels", "noinstr_labels", "instr_symbols", "noinstr_symbols", "flipped")
ALGORITHMIC = {"list_functions": "bigbench/list_functions/", "simple_turing_concepts": "bigbench/simp_turing_concept"}


def setting_scores(run: EvalRun) -> dict[str, tuple[float, float, float]]:
    """(mean, low, high) per symbol-eval setting: the run's average rows."""
    return {s.setting: (s.accuracy, s.ci_low, s.ci_high) for s in run.averages if s.setting in SETTINGS}


def algorithmic_groups(run: EvalRun) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Per algorithmic family, per subtask: [(example uid, 1.0/0.0)]."""
    out: dict[str, dict[str, list[tuple[str, float]]]] = {name: {} for name in ALGORITHMIC}
    for p in run.predictions:
        for name, prefix in ALGORITHMIC.items():
            if p.task.startswith(prefix):
                out[name].setdefault(p.task, []).append((p.example_uid, float(p.correct)))
    return out


def diagnostics(run: EvalRun) -> dict[str, dict[str, float]]:
    """Per setting, averaged over datasets: balanced accuracy (mean per-class recall) and
    the share of the most frequent prediction. A model that answers one label for every
    query scores the majority (or minority) share in accuracy but 1/classes in balanced
    accuracy, and its top-prediction share is 1.0."""
    preds: dict[tuple[str, str], list[tuple[int | None, int | None]]] = {}
    for p in run.predictions:
        if p.setting in SETTINGS:
            preds.setdefault((p.task, p.setting), []).append((p.answer, p.prediction))
    per_setting: dict[str, dict[str, list[float]]] = {}
    for (task, setting), rows in preds.items():
        classes = sorted({a for a, _ in rows if a is not None})
        recalls = [sum(1 for a, b in rows if a == c and b == c) / sum(1 for a, _ in rows if a == c) for c in classes]
        counts: dict[int | None, int] = {}
        for _, b in rows:
            counts[b] = counts.get(b, 0) + 1
        bucket = per_setting.setdefault(setting, {"balanced_accuracy": [], "top_prediction_share": []})
        bucket["balanced_accuracy"].append(sum(recalls) / len(recalls))
        bucket["top_prediction_share"].append(max(counts.values()) / len(rows))
    return {s: {k: round(sum(v) / len(v), 4) for k, v in d.items()} for s, d in per_setting.items()}


def protocol_block(base: EvalRun, tuned: EvalRun) -> dict:
    """base/tuned accuracy, intervals and paired differences of one symbol-eval protocol."""
    b, t = setting_scores(base), setting_scores(tuned)
    diffs = {r.setting: (r.diff, r.ci_low, r.ci_high) for r in compare_runs(base, tuned) if r.task == AVERAGE}
    keys = [k for k in SETTINGS if k in b and k in t]
    return {
        "protocol": ("one shared demonstration block per (dataset, setting)" if base.config.get("shared_demos")
                     else "fresh exemplars per query"),
        "examples_per_dataset": base.config.get("max_examples"),
        "dtype": base.config.get("dtype"),
        "base": {k: round(b[k][0], 4) for k in keys},
        "tuned": {k: round(t[k][0], 4) for k in keys},
        "tuned_minus_base_pp": {k: round(100 * diffs[k][0], 1) for k in keys},
        "tuned_minus_base_ci95_pp": {k: [round(100 * diffs[k][1], 1), round(100 * diffs[k][2], 1)] for k in keys},
        "diagnostics": {"base": diagnostics(base), "tuned": diagnostics(tuned)},
    }


def family_scores(run: EvalRun) -> dict[str, tuple[float, float, float]]:
    """list_functions: mean over its subtasks; simple_turing_concepts: its one task."""
    out = {}
    for name, tasks in algorithmic_groups(run).items():
        if tasks:
            out[name] = stratified_bootstrap_mean([[x for _, x in v] for v in tasks.values()], seed=0)
    return out


def family_differences(a: EvalRun, b: EvalRun) -> dict[str, tuple[float, float, float]]:
    ga, gb = algorithmic_groups(a), algorithmic_groups(b)
    out = {}
    for name in ALGORITHMIC:
        xs, ys = [], []
        for task, rows in ga[name].items():
            other = dict(gb[name].get(task, []))
            shared = [(uid, x) for uid, x in rows if uid in other]
            if shared:
                xs.append([x for _, x in shared])
                ys.append([other[uid] for uid, _ in shared])
        if xs:
            out[name] = paired_bootstrap_difference(xs, ys, seed=0)
    return out


def train_budget(train_run: Path) -> dict:
    info = json.loads((train_run / "run.json").read_text())
    rows = [json.loads(line) for line in (train_run / "loss.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "loss" in r]  # step 0 may hold only the in-context check before training
    last = rows[-1]
    cfg = info.get("config", {})
    return {
        "steps": last["step"],
        "batch_size": cfg.get("batch_size"),
        "prompts_seen": last["step"] * cfg.get("batch_size", 0) * cfg.get("grad_accum", 1),
        "tokens_seen": last["tokens"],
        "train_seconds": round(last["tokens"] / last["tokens_per_s"], 1),
        "tokens_per_s": last["tokens_per_s"],
        "lr": cfg.get("lr"),
        "mode": "lora" if cfg.get("lora") else "full fine-tuning",
        "dtype": cfg.get("dtype"),
        "first_loss": rows[0]["loss"],
        "last_loss": last["loss"],
        "mean_loss_last_20": round(sum(r["loss"] for r in rows[-20:]) / len(rows[-20:]), 4),
    }


def timing(run: EvalRun) -> float:
    return round(dict(run.timing).get("total", 0.0), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="name of the model entry (e.g. smollm2-135m)")
    ap.add_argument("--base", required=True, help="symbol-eval run folder of the base model")
    ap.add_argument("--tuned", required=True, help="symbol-eval run folder of the tuned model")
    ap.add_argument("--base-algorithmic", required=True)
    ap.add_argument("--tuned-algorithmic", required=True)
    ap.add_argument("--base-fresh", help="a second symbol-eval run of the base model with fresh exemplars per query")
    ap.add_argument("--tuned-fresh", help="the same for the tuned model")
    ap.add_argument("--train-run", required=True, help="the training run folder (run.json, loss.jsonl)")
    ap.add_argument("--config", required=True, help="the experiment YAML that was run")
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args(argv)
    try:
        base, tuned = read_run(args.base), read_run(args.tuned)
        base_alg, tuned_alg = read_run(args.base_algorithmic), read_run(args.tuned_algorithmic)
        budget = train_budget(Path(args.train_run))
        fresh = (read_run(args.base_fresh), read_run(args.tuned_fresh)) if args.base_fresh and args.tuned_fresh else None
    except (TaskmixError, OSError, KeyError, ValueError) as e:
        print(f"symbol_tuning.py: {e}", file=sys.stderr)
        return 2
    # the headline protocol: fresh exemplars per query (the paper's) when that run is given;
    # the other symbol-eval run is reported beside it
    main_base, main_tuned = fresh if fresh else (base, tuned)
    other = (base, tuned) if fresh else None
    b = {**setting_scores(main_base), **family_scores(base_alg)}
    t = {**setting_scores(main_tuned), **family_scores(tuned_alg)}
    diffs = {r.setting: (r.diff, r.ci_low, r.ci_high) for r in compare_runs(main_base, main_tuned) if r.task == AVERAGE}
    diffs.update(family_differences(base_alg, tuned_alg))
    keys = [*SETTINGS, *ALGORITHMIC]
    pp = {k: round(100 * (t[k][0] - b[k][0]), 1) for k in keys}
    symbol_gain = round((pp["instr_symbols"] + pp["noinstr_symbols"]) / 2, 1)
    relevant_loss = round(-min(pp["instr_labels"], pp["noinstr_labels"]), 1)
    entry = {
        "base": {k: round(b[k][0], 4) for k in keys},
        "tuned": {k: round(t[k][0], 4) for k in keys},
        "ci95": {
            "base": {k: [round(b[k][1], 4), round(b[k][2], 4)] for k in keys},
            "tuned": {k: [round(t[k][1], 4), round(t[k][2], 4)] for k in keys},
            "tuned_minus_base": {k: [round(diffs[k][1], 4), round(diffs[k][2], 4)] for k in keys},
            "how": "symbol-eval: unweighted mean over datasets, stratified bootstrap (2,000); differences: paired "
                   "bootstrap over the same examples; algorithmic: mean over subtasks, same bootstraps",
        },
        "tuned_minus_base_pp": pp,
        "protocol": protocol_block(main_base, main_tuned)["protocol"],
        "diagnostics": {"base": diagnostics(main_base), "tuned": diagnostics(main_tuned)},
        "goals": {
            "symbol_settings_mean_gain_pp": symbol_gain, "symbol_goal_met (>= +5)": symbol_gain >= 5,
            "flipped_gain_pp": pp["flipped"], "flipped_goal_met (>= +10)": pp["flipped"] >= 10,
            "relevant_labels_worst_loss_pp": relevant_loss, "relevant_goal_met (<= 2)": relevant_loss <= 2,
        },
        "budget": {
            **budget,
            "eval_seconds": {"base": timing(main_base), "tuned": timing(main_tuned), "base_algorithmic": timing(base_alg),
                             "tuned_algorithmic": timing(tuned_alg)},
            "eval_examples": {"symbol_eval_per_dataset": main_base.config.get("max_examples"),
                              "algorithmic_per_subtask": base_alg.config.get("max_examples")},
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        },
        "commands": [
            f"taskmix run {args.config}",
            f"taskmix eval --model {base_alg.model} --suite algorithmic --max-examples "
            f"{base_alg.config.get('max_examples')} --out {args.base_algorithmic}",
            f"taskmix eval --model {tuned_alg.model} --suite algorithmic --max-examples "
            f"{tuned_alg.config.get('max_examples')} --out {args.tuned_algorithmic}",
            *([f"taskmix eval --model {r.model} --suite symbol-eval --settings all --k {r.config.get('k')} "
               f"--max-examples {r.config.get('max_examples')} --dtype {r.config.get('dtype')} --out {folder}"
               for r, folder in zip(fresh, (args.base_fresh, args.tuned_fresh))] if fresh else []),
            "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        ],
        "fingerprints": {"base": base.fingerprint, "tuned": tuned.fingerprint},
        **({"shared_demos": protocol_block(*other)} if other else {}),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.is_file() else {"models": {}}
    data.setdefault("models", {})[args.model] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({"base": entry["base"], "tuned": entry["tuned"], "goals": entry["goals"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
