"""INSTA tuning: instruction-tune on INSTA's k tasks vs k random tasks vs the whole pool, same budget.

For every target (default: CB and RTE, each left out of the pool while it is the target,
SUBJ, TweetEval hate and emotion) this writes one ``taskmix run`` YAML per condition into
``--configs`` (``taskmix.pipeline.insta_plan``): ``insta`` (INSTA with all-MiniLM-L6-v2),
``aligned`` (INSTA with an encoder aligned the paper's way on promptsource templates, every
target's datasets held out; trained here first unless it exists), ``random0`` .. ``random2``
(seeded draws of k tasks; a drawn task that yields no prompt within max_length is replaced by
the next task of the same draw, recorded in its ``select/selection.json``) and ``all`` (the
whole pool at the budget of k tasks), plus the base model. Every condition trains the same
steps on instruction-tuning prompts (natural labels, the dense label loss); every model is
evaluated on the target 4-shot and zero-shot with the default demonstration blocks, seeds 0-2.
Then it runs them all through ``taskmix run`` (content-keyed stages: a rerun skips finished
work) and writes benchmarks/results/insta_tuning.json: per target the accuracies, balanced
accuracies and the paired INSTA - random (each draw) and INSTA - all intervals
(``compare_runs``), and a top-level ``summary`` over targets (4-shot accuracy; see
``taskmix.pipeline.insta_results`` for the interval). The earlier file is kept under ``history``.

With ``--shared-pool`` every target is selected from one pool, the 16 symbol-tuning datasets
without any target (CB and RTE out for all, as the paper holds P3's evaluation tasks out of its
pool): the random draws and ``all`` then do not depend on the target, so each trains once and
is evaluated on every target (``shared-random0`` ...), as is the base model (``shared-base``).
Before writing the configs the runner asks the select stage's own function which tasks each
INSTA condition will choose; a condition choosing the tasks of one planned before it (CB and
RTE both get MNLI, SNLI and QNLI) evaluates that condition's model instead of training an
identical one (``--no-reuse`` trains it anyway). Compute on the 2-core CPU:

    .venv/bin/python benchmarks/insta_tuning.py --shared-pool --steps 30 --per-task 80 \
        --max-examples 150 --align-pairs 800 --align-lr 5e-5 --align-seq-length 64

With ``--symbol`` it runs the second plan of the same runner, select-then-symbol-tune: for
two ``symbol-eval`` targets (default SUBJ and TweetEval hate) the same conditions symbol-tune
Gemma 3 270M on the selected tasks (symbol-tuning mixtures with a fifth of instruction
prompts, the dense label loss, LoRA r 16 at lr 2e-4, as configs/symbol_tuning_gemma3.yaml;
the same prompts and steps for every condition), and every model is evaluated on the target
4-shot in instr_symbols, noinstr_symbols and flipped (default demonstration blocks, seeds
0-2). Its configs go to configs/insta/symbol/, its run folders are named ``sst-...``, and its
results go under ``select_then_symbol_tune`` in the same results file (the
instruction-tuning results there are kept, and a run without ``--symbol`` keeps that key):
INSTA - random and INSTA - all per setting and pooled over the two symbol settings.

    .venv/bin/python benchmarks/insta_tuning.py --dry-run     # write + validate the YAMLs only
    .venv/bin/python benchmarks/insta_tuning.py               # train, evaluate, collect
    .venv/bin/python benchmarks/insta_tuning.py --collect-only
    .venv/bin/python benchmarks/insta_tuning.py --symbol --dry-run
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from taskmix.errors import TaskmixError  # noqa: E402
from taskmix.fileio import atomic_write_json, read_json_if_present  # noqa: E402
from taskmix.pipeline import insta_plan, insta_results  # noqa: E402
from taskmix.pipeline.experiment import load_experiment  # noqa: E402
from taskmix.training.config import TrainConfig  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "insta_tuning.json"
ALIGN_FILE = "taskmix_align.json"  # what taskmix.selection.align writes beside the encoder
HISTORY_LABEL = "smollm2-135m (3 targets, one random draw, shared demonstration block)"
WHAT = {
    "instruction": "instruction tuning on INSTA's k tasks (instruction-only and aligned encoders) vs k random tasks "
                   "(several draws) vs the whole pool at the same prompts and steps; accuracy on each target with its "
                   "instruction and natural labels, 4-shot and zero-shot",
    "symbol": "select-then-symbol-tune: symbol tuning (instruction_share 0.2, dense label loss) on INSTA's k tasks vs "
              "k random tasks (several draws) vs the whole pool at the same prompts and steps; accuracy on each "
              "symbol-eval target 4-shot in instr_symbols, noinstr_symbols and flipped, and the two symbol settings pooled",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_results(path: Path) -> dict[str, Any] | None:
    """The earlier results file (kept in the new one), or ``None``; an unreadable one is an error, never overwritten."""
    return read_json_if_present(path, "results file", require_object=True)


def encoder_record(folder: Path) -> dict[str, Any] | None:
    """The aligned encoder's folder and its training record; ``None`` before it is trained."""
    meta = read_json_if_present(folder / ALIGN_FILE, "aligned encoder record")
    return None if meta is None else {"path": str(folder), **meta}


def plan_from(args: argparse.Namespace) -> insta_plan.InstaPlan:
    encoder = "" if args.no_aligned else str(Path(args.aligned_encoder).resolve())
    return insta_plan.InstaPlan(
        mode="symbol" if args.symbol else "instruction", targets=tuple(args.targets or ()), model=args.model,
        k=args.k, draws=args.draws, per_task_cap=args.per_task,
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, lora=not args.full, max_length=args.max_length,
        max_examples=args.max_examples, seeds=tuple(args.seeds), seed=args.seed, aligned_encoder=encoder,
        shared_pool=args.shared_pool, runs=str(Path(args.runs).resolve()),
    )


def train_encoder(plan: insta_plan.InstaPlan, args: argparse.Namespace) -> dict[str, Any] | None:
    """The promptsource-aligned encoder (positives: two templates of one dataset; negatives: other
    datasets' templates with base cosine < 0.3), no template of any target's dataset in training."""
    from taskmix.catalogue import default_root
    from taskmix.selection.align import AlignConfig, p3_names_of, train_aligned_encoder
    from taskmix.selection.index import build_pool

    out = Path(plan.aligned_encoder)
    if not (out / ALIGN_FILE).is_file():
        root = Path(args.data) if args.data else default_root()
        pool = build_pool("p3", root)
        names = {t.name for t in pool.tasks}
        # every mode's default targets too: the encoder folder is shared by both modes' plans
        targets = {*plan.targets, *(t for m in insta_plan.MODES.values() for t in m.targets)}
        holdout = tuple(n for n in p3_names_of(sorted(targets)) if n in names)
        config = AlignConfig(positives="same_task", seed=plan.seed, epochs=args.align_epochs, max_pairs=args.align_pairs,
                             lr=args.align_lr, max_seq_length=args.align_seq_length)
        log(f"aligned encoder: training on {len(pool)} promptsource datasets, {len(holdout)} held out")
        train_aligned_encoder("p3", root, out, config, holdout=holdout, pool=pool)
    return encoder_record(out)


def notes_of(plan: insta_plan.InstaPlan, index: list[dict[str, str]], reused: dict[str, str],
             extra: list[str]) -> list[str]:
    """The results file's notes: what this run can state itself (budget, shared pool, reused
    models, conditions without results), then ``extra`` (``--note``: what it cannot, e.g. load)."""
    mode = f"LoRA r {TrainConfig().lora_r}" if plan.lora else "full fine-tuning"  # the plan keeps the default rank
    notes = [f"Budget: {plan.steps} steps x {plan.batch_size} = {plan.steps * plan.batch_size} prompts per condition "
             f"({mode}, lr {plan.lr:g}, max_length {plan.max_length}), the same for every condition."]
    if plan.shared_pool:
        notes.append("shared_pool: one pool for every target; the random draws and all are trained once and evaluated "
                     "on every target, so the targets are not independent.")
    if reused:
        notes.append("Models reused for identical task sets: " + ", ".join(f"{k} uses {v}" for k, v in sorted(reused.items())))
    missing = insta_results.unfinished(index)
    if missing:
        notes.append("Without results (left out of every figure): "
                     + "; ".join(f"{cond}: {', '.join(ts)}" for cond, ts in missing.items()))
    return notes + extra


def run_all(index: list[dict[str, str]]) -> dict[str, str]:
    """``taskmix run`` each config in order; a failure is recorded and the others go on."""
    from taskmix.pipeline.run import run_experiment

    failed: dict[str, str] = {}
    configs = insta_plan.index_configs(index)
    for i, config in enumerate(configs, start=1):
        log(f"({i}/{len(configs)}) taskmix run {config}")
        try:
            run_experiment(load_experiment(config), log=lambda m: print("   " + m, flush=True))
        except TaskmixError as e:
            failed[Path(config).stem] = str(e)
            log(f"   failed: {e}")
    return failed


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = insta_plan.InstaPlan()
    ap.add_argument("--symbol", action="store_true",
                    help="select-then-symbol-tune: symbol-tune on the selected tasks, score symbol-eval targets "
                         "in the symbol settings and flipped (results under select_then_symbol_tune)")
    ap.add_argument("--targets", nargs="+", help=f"default: {', '.join(d.targets)}; with --symbol: "
                                                 f"{', '.join(insta_plan.SYMBOL_TARGETS)}")
    ap.add_argument("--model", default=d.model)
    ap.add_argument("--k", type=int, default=d.k, help="tasks per condition")
    ap.add_argument("--draws", type=int, default=d.draws, help="random draws")
    ap.add_argument("--per-task", type=int, default=d.per_task_cap, help="prompts per task of a k-task condition")
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--full", action="store_true",
                    help="full fine-tuning instead of LoRA (r 16, the setting symbol tuning of Gemma 3 270M chose on icl-dev)")
    ap.add_argument("--max-length", type=int, default=d.max_length)
    ap.add_argument("--shared-pool", action="store_true",
                    help="one pool for every target (the symbol-tuning datasets without any target): the random "
                         "draws and all train once and are evaluated on every target")
    ap.add_argument("--max-examples", type=int, default=d.max_examples, help="evaluated queries per target and seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(d.seeds), help="evaluation seeds")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--runs", default=str(ROOT / "runs" / "insta-tuning"))
    ap.add_argument("--configs", help="where the generated YAMLs go (default: configs/insta; with --symbol: "
                                      "configs/insta/symbol)")
    ap.add_argument("--aligned-encoder", default=str(ROOT / "runs" / "insta-tuning" / "encoder-promptsource"))
    ap.add_argument("--no-aligned", action="store_true", help="leave the aligned condition out")
    ap.add_argument("--align-epochs", type=int, default=1)
    ap.add_argument("--align-pairs", type=int, default=20000, help="cap on positive pairs of the aligned encoder")
    ap.add_argument("--align-lr", type=float, default=2e-5, help="the aligned encoder's learning rate")
    ap.add_argument("--align-seq-length", type=int, default=128, help="the aligned encoder's max tokens per text")
    ap.add_argument("--data", help="data root of the promptsource templates (default: taskmix's)")
    ap.add_argument("--no-reuse", action="store_true",
                    help="train every INSTA condition even when it selects the tasks of one planned before it")
    ap.add_argument("--dry-run", action="store_true", help="write and validate the YAMLs; train nothing")
    ap.add_argument("--collect-only", action="store_true", help="only read finished runs into --out")
    ap.add_argument("--table", action="store_true",
                    help="print --out's per-target tables (markdown, what the README quotes) and exit")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for this mode's notes in the results file, after the ones the runner writes "
                         "itself (budget, reused models, missing results); repeat for more")
    ap.add_argument("--out", default=str(RESULT))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.table:
        return print_tables(Path(args.out))
    plan = plan_from(args)
    folder = Path(args.configs or ROOT / "configs" / "insta" / ("symbol" if args.symbol else ""))
    insta_plan.check_plan(plan)
    t0 = time.time()
    out = Path(args.out)
    if not args.dry_run:
        read_results(out)  # an unreadable results file fails now, not after the runs
    encoder = None
    if plan.aligned_encoder:  # trained before planning: which tasks the aligned condition selects needs it
        train_now = not (args.dry_run or args.collect_only)
        encoder = train_encoder(plan, args) if train_now else encoder_record(Path(plan.aligned_encoder))
    # a condition selecting the tasks of an earlier one evaluates that one's model instead of training again
    selections = {} if args.no_reuse else insta_plan.planned_selections(plan, with_aligned=encoder is not None)
    runs = insta_plan.plan_runs(plan, selections)
    paths = insta_plan.write_configs(runs, folder, note="benchmarks/insta_tuning.py")
    insta_plan.validate_configs(paths)
    # a condition that selected the tasks of one before it: evaluated with that one's model
    reused = {r.name: r.trained_dir.name for r in runs if r.trained_in and r.protocol == "four_shot"}
    log(f"{len(paths)} configs written to {folder} and validated ({plan.mode} mode, {len(plan.targets)} targets, "
        f"conditions: {', '.join(insta_plan.conditions(plan))}; "
        f"{len(reused)} reuse an earlier condition's model{': ' + ', '.join(sorted(reused)) if reused else ''})")
    if args.dry_run:
        return 0
    index = insta_plan.read_index(folder)
    failed = {} if args.collect_only else run_all(index)
    targets, diffs = insta_results.collect(index, plan.mode)
    old = read_results(out)  # read again: the other mode may have written it meanwhile
    data = {
        "what": WHAT[plan.mode],
        "summary": insta_results.summary_of(diffs, plan.seed, plan.mode),
        "targets": targets,
        "plan": asdict(plan),
        "aligned_encoder": encoder,
        "reused_models": reused,
        **({"failed": failed} if failed else {}),
        "commands": [f"taskmix run {c}" for c in insta_plan.index_configs(index)],
        "wall_s": round(time.time() - t0, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notes": notes_of(plan, index, reused, args.note),
    }
    atomic_write_json(out, insta_results.merge_results(old, data, plan.mode, HISTORY_LABEL))
    print(json.dumps(data["summary"], indent=2))
    return 0


def print_tables(path: Path) -> int:
    """Each mode's per-target table of the results file at ``path``."""
    data = read_results(path)
    if data is None:
        raise TaskmixError(f"{path}: no results file (run the experiment or --collect-only first)")
    for mode, m in insta_plan.MODES.items():
        block = data.get(m.result_key) if m.result_key else data
        if isinstance(block, dict) and block.get("targets"):
            print(f"{mode} mode ({path.name}):\n\n{insta_results.markdown_table(block['targets'], mode)}\n")
    return 0


def cli() -> int:
    try:
        return main()
    except TaskmixError as e:
        print(f"insta_tuning.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(cli())
