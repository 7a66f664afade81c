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
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

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
    run = read_run(folder)
    s = run.score(run.scores[0].task, SETTING)
    return {"accuracy": round(s.accuracy, 4), "ci95": [round(s.ci_low, 4), round(s.ci_high, 4)], "n": s.n}


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
        results = {}
        for cond, tasks in (("insta", None), ("random", random_tasks)):
            cfg = from_dict(ExperimentConfig, experiment(f"{slug}-{cond}", target, tasks, args), where=f"{slug}-{cond}")
            res = run_experiment(cfg, log=lambda m: print(m, flush=True))
            chosen = [s.name for s in res.selected] if res.selected else random_tasks
            evals = dict(res.evals)
            results[cond] = {"tasks": chosen, "tuned_model": str(res.tuned_model), "eval": evals["tuned"],
                             "base_eval": evals["base"]}
        base4 = results["insta"]["base_eval"]
        zs = {name: zero_shot(model, target, Path(args.runs) / f"{slug}-zeroshot-{name}", args)
              for name, model in (("base", args.model), ("insta", results["insta"]["tuned_model"]),
                                  ("random", results["random"]["tuned_model"]))}
        targets[target] = {
            "insta_tasks": results["insta"]["tasks"],
            "random_tasks": results["random"]["tasks"],
            "four_shot": {
                "base": score(base4), "insta": score(results["insta"]["eval"]), "random": score(results["random"]["eval"]),
                "insta_minus_random": difference(results["random"]["eval"], results["insta"]["eval"]),
                "insta_minus_base": difference(base4, results["insta"]["eval"]),
                "random_minus_base": difference(base4, results["random"]["eval"]),
            },
            "zero_shot": {
                "base": score(zs["base"]), "insta": score(zs["insta"]), "random": score(zs["random"]),
                "insta_minus_random": difference(zs["random"], zs["insta"]),
                "insta_minus_base": difference(zs["base"], zs["insta"]),
                "random_minus_base": difference(zs["base"], zs["random"]),
            },
        }
    data = {
        "what": "instruction tuning on the k INSTA-selected tasks vs k random tasks (same prompts per task, same "
                "steps); accuracy on the target with its instruction and natural labels",
        "model": args.model,
        "targets": targets,
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


if __name__ == "__main__":
    raise SystemExit(main())
