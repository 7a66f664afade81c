"""INSTA tuning: instruction-tune on the top-k selected tasks vs k random tasks, same budget.

For each target (held-out classification tasks of ``symbol-eval``), INSTA ranks the 16
tuning tasks by instruction similarity (all-MiniLM-L6-v2, mean over templates) and keeps
the top k; a seeded draw of k tasks from the same pool is the control. Both mixtures are
instruction-tuning prompts (``instruction_share: 1.0``: the task's instruction and its
natural labels, 2-10 exemplars per class), with the same number of prompts per task and
the same training steps, and both tuned models and the base model are evaluated on the
target with ``taskmix eval`` (instruction + natural labels, zero-shot and 4-shot).
Every run goes through ``taskmix run`` (content-keyed stages: a rerun skips finished work).

    TASKMIX_MIRROR=../shared/data .venv/bin/python benchmarks/insta_tuning.py \\
        --targets subj tweeteval/hate tweeteval/emotion --k 3 --steps 50

Writes benchmarks/results/insta_tuning.json.
"""

from __future__ import annotations

import argparse
import datetime
from collections import Counter
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from taskmix.errors import TaskmixError  # noqa: E402
from taskmix.evaluation import EvalConfig, compare_runs, read_run, run_eval  # noqa: E402
from taskmix.evaluation.results import AVERAGE  # noqa: E402
from taskmix.mixture.config import DEFAULT_TASKS  # noqa: E402
from taskmix.config import from_dict  # noqa: E402
from taskmix.pipeline.experiment import ExperimentConfig  # noqa: E402
from taskmix.pipeline.run import run_experiment  # noqa: E402
from taskmix.seeding import rng_for  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "insta_tuning.json"
SETTING = "instr_labels"


def experiment(name: str, target: str, tasks: list[str] | None, args: argparse.Namespace) -> dict:
    """The ``taskmix run`` config of one condition (INSTA selection when ``tasks`` is None)."""
    cfg = {
        "name": name,
        "model": args.model,
        "seed": args.seed,
        "out": str(Path(args.runs) / name),
        "build": {"per_task_cap": args.per_task, "max_length": args.max_length, "instruction_share": 1.0},
        "train": {"lora": False, "lr": args.lr, "max_steps": args.steps, "batch_size": args.batch_size,
                  "warmup_steps": 5, "dtype": "bf16", "max_length": args.max_length, "save_every": args.steps},
        "eval": {"tasks": [target], "settings": [SETTING], "k": 4, "max_examples": args.max_examples,
                 "shared_demos": True, "progress": False},
        "report": False,
    }
    if tasks is None:
        cfg["select"] = {"target": target, "k": args.k}
    else:
        cfg["build"]["tasks"] = tasks
    return cfg


def score(folder: Path) -> dict:
    """Accuracy with its Wilson interval, plus balanced accuracy (mean recall per class) and
    the share of the most frequent prediction (1.0: the model gives one answer to all)."""
    run = read_run(folder)
    s = run.score(run.scores[0].task, SETTING)
    rows = [(p.answer, p.prediction) for p in run.predictions]
    classes = sorted({a for a, _ in rows})
    recall = [sum(1 for a, b in rows if a == b == c) / sum(1 for a, _ in rows if a == c) for c in classes]
    counts = Counter(b for _, b in rows)
    return {"accuracy": round(s.accuracy, 4), "ci95": [round(s.ci_low, 4), round(s.ci_high, 4)], "n": s.n,
            "balanced_accuracy": round(sum(recall) / len(recall), 4),
            "top_prediction_share": round(max(counts.values()) / len(rows), 4)}


def difference(a: Path, b: Path) -> dict:
    rows = [r for r in compare_runs(read_run(a), read_run(b)) if r.task != AVERAGE]
    r = rows[0]
    return {"pp": round(100 * r.diff, 1), "ci95_pp": [round(100 * r.ci_low, 1), round(100 * r.ci_high, 1)], "n": r.n}


def zero_shot(model: str, target: str, out: Path, args: argparse.Namespace) -> Path:
    cfg = EvalConfig(model=model, tasks=(target,), settings=(SETTING,), k=0, max_examples=args.max_examples,
                     out=str(out), progress=False, plots=False)
    if not (out / "results.json").is_file():
        run_eval(cfg)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=["subj", "tweeteval/hate", "tweeteval/emotion"])
    ap.add_argument("--k", type=int, default=3, help="tasks to tune on")
    ap.add_argument("--per-task", type=int, default=160, help="prompts per tuning task")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--max-examples", type=int, default=300, help="evaluated examples per target")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default=str(ROOT / "runs" / "insta-tuning"))
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args(argv)

    targets: dict[str, dict] = {}
    t0 = time.time()
    for target in args.targets:
        slug = target.replace("/", "-")
        random_tasks = sorted(rng_for(args.seed, "insta-random-control", target).sample(sorted(DEFAULT_TASKS), args.k))
        results: dict[str, dict] = {}
        failed: dict[str, str] = {}
        for cond, tasks in (("insta", None), ("random", random_tasks)):
            cfg = from_dict(ExperimentConfig, experiment(f"{slug}-{cond}", target, tasks, args), where=f"{slug}-{cond}")
            try:
                res = run_experiment(cfg, log=lambda m: print(m, flush=True))
            except TaskmixError as e:  # e.g. a task that cannot fit max_length: recorded, not hidden
                failed[cond] = str(e)
                print(f"[{slug}-{cond}] failed: {e}", flush=True)
                continue
            chosen = [s.name for s in res.selected] if res.selected else random_tasks
            evals = dict(res.evals)
            results[cond] = {"tasks": chosen, "tuned_model": str(res.tuned_model), "eval": evals["tuned"],
                             "base_eval": evals["base"]}
        if not results:
            targets[target] = {"failed": failed}
            continue
        base4 = next(iter(results.values()))["base_eval"]
        zs = {"base": zero_shot(args.model, target, Path(args.runs) / f"{slug}-zeroshot-base", args)}
        for cond, r in results.items():
            zs[cond] = zero_shot(r["tuned_model"], target, Path(args.runs) / f"{slug}-zeroshot-{cond}", args)
        entry: dict = {"insta_tasks": results.get("insta", {}).get("tasks"), "random_tasks": random_tasks}
        if failed:
            entry["failed"] = failed
        for protocol, folders in (("four_shot", {"base": base4, **{c: r["eval"] for c, r in results.items()}}),
                                  ("zero_shot", zs)):
            block = {name: score(folder) for name, folder in folders.items()}
            for a, b in (("random", "insta"), ("base", "insta"), ("base", "random")):
                if a in folders and b in folders:
                    block[f"{b}_minus_{a}"] = difference(folders[a], folders[b])
            entry[protocol] = block
        targets[target] = entry
    data = {
        "what": "instruction tuning on the k INSTA-selected tasks vs k random tasks (same prompts per task, same "
                "steps); accuracy on the target with its instruction and natural labels",
        "model": args.model,
        "targets": targets,
        "notes": ["wall_s is this invocation's time; stages finished by an earlier invocation are skipped "
                  "(content-keyed), so a rerun that only collects takes about a minute"],
        "budget": {"k": args.k, "prompts_per_task": args.per_task, "steps": args.steps, "batch_size": args.batch_size,
                   "lr": args.lr, "max_length": args.max_length, "mode": "full fine-tuning, bf16",
                   "eval_examples_per_target": args.max_examples, "wall_s": round(time.time() - t0, 1),
                   "pool": list(DEFAULT_TASKS)},
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    Path(args.out).write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(targets, indent=2))
    return 0


def cli() -> int:
    try:
        return main()
    except TaskmixError as e:
        print(f"insta_tuning.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(cli())
