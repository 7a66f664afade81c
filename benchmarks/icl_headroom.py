"""How much a model could gain on an evaluation suite by reading its context: chance, the
model's own scores per setting, and a reference that reads *only* the demonstrations.

The reference is a nearest-centroid classifier over a sentence encoder (all-MiniLM-L6-v2 by
default): for every prompt of an evaluation run it embeds the prompt's exemplars and query,
averages the exemplars of each class and predicts the class whose centroid is nearest (cosine).
It sees exactly the demonstration sets and queries the model saw (rebuilt from the run's config
and checked against its predictions, field by field) and no label word, so it measures what the
exemplars alone tell about each dataset: the skill symbol tuning asks a model to use. The
settings differ only in the label words and instruction, which the reference ignores, so it
predicts the same in all four. Its predictions are written as an ordinary evaluation run folder,
so `taskmix compare` pairs it with any model run of the same protocol.

    python benchmarks/icl_headroom.py \\
        --run base=runs/symbol-tuning-gemma3/eval-base/results \\
        --run tuned=runs/symbol-tuning-gemma3/eval-tuned/results \\
        --out benchmarks/results/icl_headroom/shared --json benchmarks/results/icl_headroom.json

The first ``--run`` fixes the protocol; every run must hold the same prompts (each is checked).
Flipped labels are left out (a classifier that ignores label words scores the same with flipped
and true labels), and so are free-form tasks. The check compares what a prediction records
(answer, candidates, format, exemplar count, demonstration set), not the exemplar texts: it
assumes the task data are the ones the run read (the mirror is checksummed). Bad input (a
missing folder, runs of different protocols or tasks, prompts that do not rebuild, an --out
that holds another run, a damaged --json) is one line and exit 2, with nothing written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from taskmix.config import from_dict, to_dict
from taskmix.errors import TaskmixError
from taskmix.evaluation.compare import check_same_prompts, compare_runs, headline
from taskmix.evaluation.config import EvalConfig
from taskmix.evaluation.plan import eval_examples, iter_prompt_set, plan_tasks
from taskmix.evaluation.preflight import check_out_folder
from taskmix.evaluation.results import RESULTS_FILE, EvalRun, Prediction, read_results, read_run, write_run
from taskmix.evaluation.summary import CellOutcomes, average_cells, summarize_cell
from taskmix.fileio import atomic_write_json
from taskmix.records import Example, Prompt, Task
from taskmix.selection.encoder import Encoder

FLIPPED = "flipped"


def eval_config_of(run: EvalRun) -> EvalConfig:
    """The :class:`EvalConfig` a run folder was made with (derived keys left out)."""
    names = {f.name for f in dataclasses.fields(EvalConfig)}
    return from_dict(EvalConfig, {k: v for k, v in run.config.items() if k in names}, where=f"{run.model} config")


def example_text(example: Example) -> str:
    """What the encoder embeds for an example: its input fields, one per line."""
    return "\n".join(example.texts)


def rebuilt_prompts(config: EvalConfig, loader: Callable[[str], Task] | None = None) -> list[tuple[Task, Prompt]]:
    """Every prompt of the run's non-flipped settings, rebuilt from its config (no token
    budget: the runs this reads dropped no exemplar, which :func:`check_rebuilt` verifies);
    ``loader`` (task name -> Task) defaults to the catalogue's."""
    out = []
    for pt in plan_tasks(config, loader):
        for seed in config.run_seeds:
            seeded = dataclasses.replace(config, seed=seed)
            examples = eval_examples(pt.task, seeded)
            for setting in pt.settings:
                if setting != FLIPPED and pt.task.is_classification:
                    out += [(pt.task, p) for p in iter_prompt_set(pt, examples, setting, seeded, None, None)]
    return out


def check_rebuilt(prompts: Sequence[tuple[Task, Prompt]], run: EvalRun) -> None:
    """Refuse (one line) unless every rebuilt prompt matches the run's prediction for it."""
    if not prompts:
        raise TaskmixError(f"{run.model}'s run holds no classification prompt outside {FLIPPED}: nothing to read")
    seen = {(p.seed, p.task, p.setting, p.example_uid): p for p in run.predictions
            if p.setting != FLIPPED and p.answer is not None}
    if len(seen) != len(prompts):
        raise TaskmixError(f"{len(prompts)} prompts rebuilt from the protocol, but {run.model}'s run holds "
                           f"{len(seen)} (classification, not counting {FLIPPED}): not the same tasks, or not "
                           "made by this version's prompt builder")
    for _, q in prompts:
        p = seen.get((q.seed, q.task, q.setting, q.example_uid))
        mine = (q.answer, q.candidates, q.format_name, len(q.exemplar_uids), q.dropped_exemplars, q.demo_set)
        theirs = None if p is None else (p.answer, p.candidates, p.format_name, p.n_exemplars, p.dropped_exemplars, p.demo_set)
        if mine != theirs:
            raise TaskmixError(f"{q.task} / {q.setting} example {q.example_uid!r} (seed {q.seed}) does not rebuild "
                               f"as {run.model}'s run shows it; the reference needs the run's own prompts")


def centroid_predictions(prompts: Sequence[tuple[Task, Prompt]], encoder: Encoder) -> list[Prediction]:
    """The nearest-centroid classifier's prediction for every prompt (scores: cosine to
    each candidate's class centroid; a class without exemplars scores -2)."""
    import numpy as np

    by_uid: dict[tuple[str, str], Example] = {}
    for task in {t.name: t for t, _ in prompts}.values():
        for split in task.splits:
            for e in split.examples:
                if by_uid.setdefault((task.name, e.uid), e) != e:
                    raise TaskmixError(f"{task.name}: two examples share the uid {e.uid!r}")
    texts = sorted({example_text(by_uid[(t.name, u)]) for t, p in prompts for u in (*p.exemplar_uids, p.example_uid)})
    vectors = dict(zip(texts, encoder.encode(texts)))
    out = []
    for task, p in prompts:
        query = vectors[example_text(by_uid[(task.name, p.example_uid)])]
        members: dict[int | None, list[Any]] = {}
        for u in p.exemplar_uids:
            e = by_uid[(task.name, u)]
            members.setdefault(e.label, []).append(vectors[example_text(e)])
        scores = []  # candidates are in class order (the prompt builder shows the label space in order)
        for c in range(len(p.candidates)):
            centroid = np.mean(members[c], axis=0) if c in members else None
            scores.append(-2.0 if centroid is None else float(centroid @ query / max(np.linalg.norm(centroid), 1e-12)))
        pred = int(np.argmax(scores))
        out.append(Prediction(task=p.task, setting=p.setting, example_uid=p.example_uid, correct=pred == p.answer,
                              answer=p.answer, prediction=pred, candidates=p.candidates, scores=tuple(scores),
                              format_name=p.format_name, n_exemplars=len(p.exemplar_uids),
                              dropped_exemplars=p.dropped_exemplars, seed=p.seed, demo_set=p.demo_set))
    return out


def reference_run(config: EvalConfig, base: EvalRun, predictions: Sequence[Prediction], encoder: Encoder,
                  seconds: float, out: str = "") -> EvalRun:
    """The reference's predictions as an evaluation run of the same protocol as ``base``."""
    cells: dict[tuple[str, str], CellOutcomes] = {}
    for p in predictions:
        cells.setdefault((p.task, p.setting), CellOutcomes(p.task, p.setting)).add([p])
    scores = tuple(summarize_cell(c, seed=config.seed, n_boot=config.bootstrap_samples) for c in cells.values())
    name = f"nearest-centroid:{encoder.path.name}"
    return EvalRun(
        run_key=f"{base.run_key}-centroid-{encoder.fingerprint}",
        config={**base.config, "model": name, "out": out, "settings": sorted({p.setting for p in predictions})},
        model=name, fingerprint=f"{name}@{encoder.fingerprint}", scores=scores,
        averages=average_cells(list(cells.values()), seed=config.seed, n_boot=config.bootstrap_samples),
        predictions=tuple(predictions), timing=(("total", seconds),),
        notes=(f"nearest class centroid of the exemplars' {encoder.path.name} embeddings; it reads no label word "
               "or instruction, so it predicts the same in every setting that shows the same exemplars",),
    )


def setting_rows(run: EvalRun, settings: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per setting: the mean over datasets of accuracy, balanced accuracy and chance (pp)."""
    out = {}
    for a in run.averages:
        if a.setting in settings:
            extra = dict(a.extra)
            out[a.setting] = {"accuracy": round(100 * a.accuracy, 1),
                              "balanced_accuracy": round(100 * float(extra["balanced_accuracy"]), 1),
                              "chance": round(100 * float(extra["chance"]), 1)}
    return out


def dataset_rows(run: EvalRun, settings: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per dataset: balanced accuracy (pp) in each setting."""
    out: dict[str, dict[str, float]] = {}
    for s in run.scores:
        if s.setting in settings:
            out.setdefault(s.task, {})[s.setting] = round(100 * float(dict(s.extra)["balanced_accuracy"]), 1)
    return out


def parse_runs(specs: Sequence[str]) -> list[tuple[str, Path]]:
    runs = []
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise TaskmixError(f"--run {spec!r}: expected NAME=FOLDER")
        runs.append((name, Path(folder)))
    if len({n for n, _ in runs}) != len(runs):
        raise TaskmixError("--run names must differ")
    return runs


def check_out(out: Path, run_key: str, runs: Sequence[tuple[str, Path]]) -> None:
    """``out`` may be new or hold this reference's own earlier run, never a model's run."""
    if any(out.resolve() == folder.resolve() for _, folder in runs):
        raise TaskmixError(f"--out {out} is one of the --run folders; choose another")
    check_out_folder(out)
    if (out / RESULTS_FILE).is_file() and read_results(out).get("run_key") != run_key:
        raise TaskmixError(f"--out {out} holds another run; choose another folder")


def read_summary(path: Path) -> dict[str, Any]:
    """The summary file's entries so far ({} when it does not exist yet)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TaskmixError(f"--json {path}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise TaskmixError(f"--json {path}: expected an object of protocols")
    return data


def main(argv: list[str] | None = None, loader: Callable[[str], Task] | None = None,
         encoder: Any = None) -> int:
    """The command line; ``loader`` (task name -> Task) and ``encoder`` (anything with
    ``encode``, ``path`` and ``fingerprint``) may be injected by tests."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", required=True, metavar="NAME=FOLDER",
                    help="an evaluation run folder (repeat; the first fixes the protocol)")
    ap.add_argument("--out", required=True, help="folder for the reference's evaluation run")
    ap.add_argument("--json", required=True, help="summary file (a protocol's entry is replaced, others kept)")
    ap.add_argument("--protocol", default="", help="key of this protocol in --json (default: the --out folder's name)")
    ap.add_argument("--encoder", default=None, help="sentence-transformers folder; default: the shipped all-MiniLM-L6-v2")
    args = ap.parse_args(argv)
    try:
        folders = parse_runs(args.run)
        runs = [(name, read_run(folder)) for name, folder in folders]
        summary_path = Path(args.json)
        summary = read_summary(summary_path)
        first = runs[0][1]
        for _, other in runs[1:]:
            check_same_prompts(first, other)
        config = eval_config_of(first)
        t0 = time.perf_counter()
        prompts = rebuilt_prompts(config, loader)
        for _, run in runs:
            check_rebuilt(prompts, run)
        encoder = encoder or Encoder(args.encoder)
        predictions = centroid_predictions(prompts, encoder)
        reference = reference_run(config, first, predictions, encoder, time.perf_counter() - t0, args.out)
        check_out(Path(args.out), reference.run_key, folders)
        settings = [a.setting for a in reference.averages]
        differences = {name: headline(compare_runs(reference, run, seed=config.seed)) for name, run in runs}
    except (TaskmixError, OSError, ImportError) as e:
        print(f"icl_headroom: error: {e}", file=sys.stderr)
        return 2
    write_run(args.out, reference)
    entry: dict[str, Any] = {
        "command": "python benchmarks/icl_headroom.py " + " ".join(f"--run {r}" for r in args.run)
                   + f" --out {args.out} --json {args.json}" + (f" --protocol {args.protocol}" if args.protocol else "")
                   + (f" --encoder {args.encoder}" if args.encoder else ""),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.system()}, {__import__('os').cpu_count()} cores",
        "reference": {"model": reference.model, "folder": args.out, "seconds": round(reference.timing[0][1], 1),
                      "prompts": len(reference.predictions), "protocol": to_dict(config)},
        "settings": {"reference": setting_rows(reference, settings),
                     **{name: setting_rows(run, settings) for name, run in runs}},
        "minus_reference": {
            name: {setting: {"accuracy": [round(100 * x, 1) for x in (d.diff, d.ci_low, d.ci_high)],
                             "balanced_accuracy": [round(100 * x, 1) for x in (d.bal_diff, d.bal_low, d.bal_high)]}
                   for setting, d in diffs.items()}
            for name, diffs in differences.items()},
        "datasets": {"reference": dataset_rows(reference, settings),
                     **{name: dataset_rows(run, settings) for name, run in runs}},
    }
    summary[args.protocol or Path(args.out).name] = entry
    atomic_write_json(summary_path, summary)
    for name, rows in entry["settings"].items():
        print(name.ljust(10), "  ".join(f"{s} {v['accuracy']:.1f}/{v['balanced_accuracy']:.1f} (chance {v['chance']:.1f})"
                                        for s, v in rows.items()))
    for name, rows in entry["minus_reference"].items():
        print(f"{name} minus reference:", "  ".join(f"{s} {v['balanced_accuracy']}" for s, v in rows.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
