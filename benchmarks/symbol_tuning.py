r"""Collect a symbol-tuning experiment into benchmarks/results/symbol_tuning.json.

The experiment itself is run with taskmix's own commands (the JSON records them), e.g. for
Gemma 3 270M with the dense label loss, and two ablations that change one thing each:

    taskmix run configs/symbol_tuning_gemma3.yaml                # headline: build, train, eval base + tuned
    taskmix run configs/symbol_tuning_gemma3_query.yaml          # label_loss query
    taskmix run configs/symbol_tuning_gemma3_equal_counts.yaml   # class_counts equal
    taskmix eval --model gemma3-270m --suite algorithmic --k 4 --max-examples 5 --seeds 0,1,2 \
        --dtype bf16 --out runs/st-gemma3-base-alg                # and each tuned model

and the development screen behind a choice of learning rate or mixture (each candidate an
experiment evaluated on icl-dev tasks, never on symbol-eval; the headline's tuned model is
evaluated on the same icl-dev prompts as the reference)::

    taskmix run configs/symbol_tuning_gemma3_dev_lr1e3.yaml      # a candidate: train, eval on icl-dev
    taskmix eval --model runs/symbol-tuning-gemma3/train/run/model --tasks tweeteval/emotion,imdb \
        --settings noinstr_symbols,flipped,noinstr_labels --k 4 --max-examples 100 --seeds 0,1 \
        --dtype bf16 --out runs/icl-dev-headline

then (repeat --ablation-run/-config/-algorithmic for each ablation, --dev-run/-config for
each candidate)::

    .venv/bin/python benchmarks/symbol_tuning.py --model gemma3-270m \
        --run runs/symbol-tuning-gemma3 --config configs/symbol_tuning_gemma3.yaml \
        --base-algorithmic runs/st-gemma3-base-alg --tuned-algorithmic runs/st-gemma3-tuned-alg \
        --ablation-run runs/symbol-tuning-gemma3-query --ablation-config configs/symbol_tuning_gemma3_query.yaml \
        --ablation-algorithmic runs/st-gemma3-query-alg \
        --dev-reference runs/icl-dev-headline \
        --dev-run runs/symbol-tuning-gemma3-dev-lr1e3 --dev-config configs/symbol_tuning_gemma3_dev_lr1e3.yaml \
        --protocol-base runs/st-gemma3-blocks8-base --protocol-tuned runs/st-gemma3-blocks8-tuned

(the last two: the headline's base and tuned models on ``symbol-eval`` again under another
protocol, e.g. ``taskmix eval ... --suite symbol-eval --block-size 8``).

It writes ``models.<model>``: ``base`` and ``tuned`` accuracies per setting (the four
settings, flipped, ``symbols_mean`` and the algorithmic families), ``ci95`` with the paired
tuned-minus-base intervals in accuracy (``tuned_minus_base``) and balanced accuracy
(``tuned_minus_base_balanced``), ``diagnostics`` (balanced accuracy and top-prediction
share per setting), the goals in both metrics, the training ``budget``, ``ablations`` (each
with its own tuned-minus-base and the headline minus it), ``development`` (the screen on
icl-dev: the headline's and each candidate's tuned-minus-base there, and the headline minus
each candidate), ``other_protocol`` (the headline's comparison again under the other
protocol, without goals: they are scored on the headline's own protocol), ``more_protocols``
(added by ``--update-protocol NAME``, e.g. fresh exemplars per query, with any ablations on the
same prompts: stored ones, or new ones trained for that protocol only with ``taskmix run ...
--no-eval``, and every two of them against each other; kept by a later full collection while the
headline's models are the same) and
the ``commands``. Every
difference comes from :func:`taskmix.evaluation.compare.compare_runs`: pairs by (seed,
dataset, setting, query), refuses runs shown different prompts, and resamples
demonstration sets (clusters). Entries of other models in the file are kept as they are.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from taskmix.errors import TaskmixError  # noqa: E402
from taskmix.fileio import atomic_write_json, read_json_if_present  # noqa: E402
from taskmix.evaluation.compare import SYMBOLS_MEAN, Difference, compare_runs, prompts_digest  # noqa: E402
from taskmix.evaluation.results import AVERAGE, EvalRun, read_run  # noqa: E402
from taskmix.evaluation.stats import (  # noqa: E402
    DEFAULT_PERMUTATIONS, SPEARMAN_EXACT_UP_TO, Z95, pairwise_reliability, spearman, spearman_p,
)
from taskmix.evaluation.summary import run_diagnostics  # noqa: E402
from taskmix.models.loading import model_identity  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "symbol_tuning.json"
SETTINGS = ("instr_labels", "noinstr_labels", "instr_symbols", "noinstr_symbols", "flipped")
HEADLINE = (*SETTINGS, "symbols_mean")
ALGORITHMIC = {"list_functions": "bigbench/list_functions/", "simple_turing_concepts": "bigbench/simp_turing_concept"}
GOALS = {"symbols_mean": 5.0, "flipped": 10.0}  # pp gains, interval above 0
RELEVANT = ("instr_labels", "noinstr_labels")
RELEVANT_MAX_LOSS = 2.0  # pp


def r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def pp(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def symbol_differences(base: EvalRun, tuned: EvalRun) -> dict[str, Difference]:
    """Per headline setting (and symbols_mean): the average-over-datasets difference, or the
    one dataset's where a setting applies to only one (no average is made of one)."""
    rows = [r for r in compare_runs(base, tuned, pools=SYMBOLS_MEAN) if r.setting in HEADLINE]
    out = {r.setting: r for r in rows if r.task == AVERAGE}
    for setting in {r.setting for r in rows} - set(out):
        only = [r for r in rows if r.setting == setting]
        if len(only) == 1:
            out[setting] = only[0]
    return out


def family_run(run: EvalRun, prefix: str) -> EvalRun:
    """The run restricted to one algorithmic family's subtasks."""
    return replace(run, predictions=tuple(p for p in run.predictions if p.task.startswith(prefix)))


def algorithmic_differences(base: EvalRun, tuned: EvalRun) -> dict[str, Difference]:
    """Per family: the mean over its subtasks (the subtask itself when there is one)."""
    out = {}
    for name, prefix in ALGORITHMIC.items():
        rows = compare_runs(family_run(base, prefix), family_run(tuned, prefix))
        out[name] = next((r for r in rows if r.task == AVERAGE), rows[0])
    return out


def setting_diagnostics(run: EvalRun) -> dict[str, dict[str, float | int | None]]:
    """Per setting, averaged over datasets: balanced accuracy and its interval, the share of
    the most frequent prediction, and how many datasets answer one label > 80% of the time."""
    diags = run_diagnostics(run.scores, run.averages, run.predictions)
    out: dict[str, dict[str, float | int | None]] = {}
    for setting in SETTINGS:
        avg = diags.get((AVERAGE, setting))
        if avg is None:
            continue
        cells = [d for (task, s), d in diags.items() if s == setting and task != AVERAGE]
        out[setting] = {"balanced_accuracy": r4(avg.balanced_accuracy),
                        "balanced_ci95": [r4(x) for x in avg.balanced_ci] if avg.balanced_ci else None,
                        "top_prediction_share": r4(avg.top_share),
                        "one_answer_datasets": sum(d.one_answer for d in cells), "datasets": len(cells)}
    return out


def comparison(base: EvalRun, tuned: EvalRun, base_alg: EvalRun | None, tuned_alg: EvalRun | None) -> dict:
    """Accuracies, balanced accuracies and paired intervals of ``tuned`` against ``base``."""
    diffs = symbol_differences(base, tuned)
    if base_alg is not None and tuned_alg is not None:
        diffs.update(algorithmic_differences(base_alg, tuned_alg))
    keys = [k for k in (*HEADLINE, *ALGORITHMIC) if k in diffs]
    return {
        "base": {k: r4(diffs[k].acc_a) for k in keys},
        "tuned": {k: r4(diffs[k].acc_b) for k in keys},
        "base_balanced": {k: r4(diffs[k].bal_a) for k in keys},
        "tuned_balanced": {k: r4(diffs[k].bal_b) for k in keys},
        "tuned_minus_base_pp": {k: pp(diffs[k].diff) for k in keys},
        "tuned_minus_base_balanced_pp": {k: pp(diffs[k].bal_diff) for k in keys},
        "ci95": {
            "tuned_minus_base": {k: [r4(diffs[k].ci_low), r4(diffs[k].ci_high)] for k in keys},
            "tuned_minus_base_balanced": {k: None if diffs[k].bal_diff is None else [r4(diffs[k].bal_low), r4(diffs[k].bal_high)]
                                          for k in keys},
            "how": "paired cluster bootstrap (2,000) from taskmix.evaluation.compare: pairs by (seed, dataset, "
                   "setting, query), clusters are demonstration sets (the queries that shared one), resampled within "
                   "each dataset; a setting's value is the unweighted mean over the eleven datasets; symbols_mean "
                   "pools the cells of instr_symbols and noinstr_symbols; algorithmic: mean over subtasks",
        },
        "n_pairs": {k: diffs[k].n for k in keys},
        "clusters": {k: diffs[k].clusters for k in keys},
    }


def goals(cmp: dict) -> dict:
    """The issue's goals, in accuracy and in balanced accuracy alike."""
    out = {}
    for metric, sfx in (("accuracy", ""), ("balanced_accuracy", "_balanced")):
        gains, cis = cmp[f"tuned_minus_base{sfx}_pp"], cmp["ci95"][f"tuned_minus_base{sfx}"]
        row: dict = {}
        for key, need in GOALS.items():
            if key not in gains:
                continue
            row[key] = {"gain_pp": gains[key], "ci95_pp": [pp(x) for x in cis[key]], "goal_pp": need,
                        "met": gains[key] >= need and cis[key][0] > 0}
        relevant = [k for k in RELEVANT if k in gains]
        if not relevant:
            out[metric] = row
            continue
        worst = min(relevant, key=lambda k: gains[k])
        row["relevant_labels"] = {"worst_setting": worst, "gain_pp": gains[worst], "ci95_pp": [pp(x) for x in cis[worst]],
                                  "goal": f">= -{RELEVANT_MAX_LOSS} pp", "met": gains[worst] >= -RELEVANT_MAX_LOSS}
        out[metric] = row
    out["all_met"] = all(g["met"] for m in ("accuracy", "balanced_accuracy") for g in out[m].values())
    return out


def train_budget(train_run: Path) -> dict:
    """Steps, prompts, tokens and seconds of a training run (its run.json and loss.jsonl)."""
    info = json.loads((train_run / "run.json").read_text())
    lines = [json.loads(line) for line in (train_run / "loss.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in lines if "loss" in r]
    if not rows:
        raise TaskmixError(f"{train_run / 'loss.jsonl'} has no training steps")
    checks = [{"step": r["step"], **r["icl"]} for r in lines if "icl" in r]
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
        "warmup_steps": cfg.get("warmup_steps"),
        "mode": f"lora r{cfg.get('lora_r')}" if cfg.get("lora") else "full fine-tuning",
        "label_loss": cfg.get("label_loss", "query"),
        "dtype": cfg.get("dtype"),
        "first_loss": rows[0]["loss"],
        "last_loss": last["loss"],
        "mean_loss_last_20": round(sum(r["loss"] for r in rows[-20:]) / len(rows[-20:]), 4),
        "icl_dev_checks": checks,
        **({"icl_dev_tasks": experiment_train(train_run).get("eval_tasks")} if checks else {}),
    }


def experiment_train(train_run: Path) -> dict:
    """The ``train`` section of the experiment a run folder belongs to (``<run>/experiment.json``)."""
    path = train_run.parents[1] / "experiment.json"
    return (json.loads(path.read_text()).get("train") or {}) if path.is_file() else {}


def own_gain(cmp: dict) -> dict:
    """A run's tuned-minus-base entries of a :func:`comparison` (accuracy, balanced, intervals)."""
    return {
        "tuned_minus_base_pp": cmp["tuned_minus_base_pp"],
        "tuned_minus_base_balanced_pp": cmp["tuned_minus_base_balanced_pp"],
        "ci95": {k: v for k, v in cmp["ci95"].items() if k != "how"},
    }


def headline_minus_this(head: dict) -> dict:
    """The headline minus a run: ``head`` is the :func:`comparison` of that run (as "base") with
    the headline (as "tuned") on the same prompts."""
    return {
        "headline_minus_this_pp": head["tuned_minus_base_pp"],
        "headline_minus_this_balanced_pp": head["tuned_minus_base_balanced_pp"],
        "ci95_headline_minus_this": head["ci95"]["tuned_minus_base"],
        "ci95_headline_minus_this_balanced": head["ci95"]["tuned_minus_base_balanced"],
    }


def ablation_block(headline: EvalRun, base_alg: EvalRun | None, runs: tuple[EvalRun, EvalRun, Path], config: str | None,
                   a_alg: EvalRun | None) -> dict:
    """Another run of the same experiment that changes one thing (``runs``: its
    :func:`experiment_runs`): its own tuned-minus-base and the headline minus it, paired on
    the same prompts."""
    a_base, a_tuned, a_train = runs
    a_cmp = comparison(a_base, a_tuned, base_alg if a_alg else None, a_alg)
    head = comparison(a_tuned, headline, None, None)
    return {
        "config": config,
        "budget": train_budget(a_train),
        "tuned": a_cmp["tuned"],
        "tuned_balanced": a_cmp["tuned_balanced"],
        **own_gain(a_cmp),
        "goals": goals(a_cmp),
        **headline_minus_this(head),
        "diagnostics": setting_diagnostics(a_tuned),
        "fingerprint": a_tuned.fingerprint,
    }


#: Which symbol-eval setting each dev setting stands for when dev ranks candidates: the goal's
#: symbols mean (what the screen's rule reads dev's ``noinstr_symbols`` as), the like-for-like
#: ``noinstr_symbols``, and the goals' flipped and ``noinstr_labels``.
DEV_STANDS_FOR = (("noinstr_symbols", "symbols_mean"), ("noinstr_symbols", "noinstr_symbols"), ("flipped", "flipped"),
                  ("noinstr_labels", "noinstr_labels"))


def model_of(fingerprint: str) -> str:
    """The model part of an evaluation fingerprint (``model@hash``), without dtype and scoring."""
    return fingerprint.split("|", 1)[0]


def dev_agreement(development: dict, headline: dict, ablations: dict) -> dict:
    """How well a development set ranked the tuned models that also met symbol-eval.

    ``headline`` and each ablation block hold a ``fingerprint`` and ``tuned_minus_base_pp``
    / ``tuned_minus_base_balanced_pp`` on symbol-eval; a dev candidate (or the dev reference,
    the headline's model) is matched to them by its model fingerprint (the same trained
    folder). Per dev setting and the symbol-eval setting it stands for
    (:data:`DEV_STANDS_FOR`): Spearman's rho over the matched runs between the two
    tuned-minus-base values, accuracy and balanced accuracy, with a permutation p (:func:`spearman_p`)."""
    on_eval: dict[str, tuple[str, dict]] = {}
    for name, block in (("headline", headline), *ablations.items()):
        on_eval.setdefault(model_of(block["fingerprint"]), (name, block))  # a model met twice counts once
    pairs, seen = [], set()
    for d in (development["reference"], *development["candidates"].values()):
        model = model_of(d.get("fingerprint", ""))
        if model in on_eval and model not in seen:
            seen.add(model)
            pairs.append((on_eval[model], d))
    out: dict = {"how": "Spearman's rho over the runs evaluated on both the development set and symbol-eval (matched by the "
                        "tuned model's fingerprint; each model once) between their tuned-minus-base there; p: "
                        f"two-sided permutation test, exact over every ordering of up to {SPEARMAN_EXACT_UP_TO} runs (p is "
                        f"then at least 2/n!), beyond that {DEFAULT_PERMUTATIONS:,} seeded random orderings (p_method)",
                 "n_runs": len(pairs), "runs": [name for (name, _), _ in pairs]}
    for metric, key in (("accuracy", "tuned_minus_base_pp"), ("balanced", "tuned_minus_base_balanced_pp")):
        out[metric] = {}
        for dev_setting, eval_setting in DEV_STANDS_FOR:
            x = [d[key].get(dev_setting) for _, d in pairs]
            y = [e[key].get(eval_setting) for (_, e), _ in pairs]
            if None in x or None in y:
                continue
            p, method = spearman_p(x, y)
            out[metric][f"{dev_setting} -> {eval_setting}"] = {
                "rho": r4(spearman(x, y)), "p": r4(p), "p_method": method, "dev_pp": x, "symbol_eval_pp": y}
    return out


def dev_set_check(base: EvalRun, base_dir: str, runs: dict[str, EvalRun], headline: dict, ablations: dict,
                  stored: dict | None = None) -> dict:
    """Another development set checked against ``symbol-eval`` before it decides anything:
    the base model and tuned models of the runs above (``runs``: folder -> evaluation) on
    its prompts; each model's tuned-minus-base there and the rank agreement of those gains
    with the models' ``symbol-eval`` gains (:func:`dev_agreement`, matched by model).

    ``stored``: an earlier check of the same set whose run folders may be gone; its runs are
    kept when ``base`` reproduces it -- the same protocol, base accuracies and scoring (the
    fingerprint's dtype and scoring version) -- and refused otherwise. A model given again
    (by folder or by model fingerprint) replaces its stored block."""
    blocks, cmp = {}, {}
    for folder, run in runs.items():
        cmp = comparison(base, run, None, None)
        blocks[folder] = {"fingerprint": run.fingerprint, "command": eval_command(run, folder, protocol_flags(run)),
                          **own_gain(cmp), "diagnostics": setting_diagnostics(run)}
    c = base.config
    check = {
        "protocol": (f"tasks {', '.join(c.get('tasks') or [])}: k={c.get('k')} per class, {c.get('max_examples')} "
                     f"queries per task and seed, seeds {c.get('seeds')}, block size {c.get('effective_block_size')}, "
                     f"settings {', '.join(c.get('settings') or [])}"),
        "base": {"command": eval_command(base, base_dir, protocol_flags(base)), "fingerprint": base.fingerprint,
                 "accuracy": cmp.get("base"), "balanced": cmp.get("base_balanced"), "diagnostics": setting_diagnostics(base)},
    }
    if stored:
        check_reproduces(stored, check, base_dir)
        new_models = {model_of(b["fingerprint"]) for b in blocks.values()}
        blocks = {**{k: v for k, v in stored["runs"].items() if k not in blocks and model_of(v["fingerprint"]) not in new_models},
                  **blocks}
    return {**check, "runs": blocks,
            "agreement_with_symbol_eval": dev_agreement({"reference": {}, "candidates": blocks}, headline, ablations)}


def scoring_of(fingerprint: str) -> str:
    """The dtype and scoring part of an evaluation fingerprint (what follows ``model@hash|``)."""
    return fingerprint.partition("|")[2]


def check_reproduces(stored: dict, check: dict, base_dir: str) -> None:
    """Refuse a fresh base evaluation that does not reproduce a stored check's: its protocol,
    base accuracies and fingerprint (or, for a check stored without one, its runs' scoring)."""
    old_base, new_base = stored["base"], check["base"]
    scorings = {scoring_of(b["fingerprint"]) for b in stored["runs"].values()}
    comparisons = [("protocol", stored["protocol"], check["protocol"]),
                   ("base accuracies", old_base["accuracy"], new_base["accuracy"]),
                   ("base balanced accuracies", old_base["balanced"], new_base["balanced"])]
    if "fingerprint" in old_base:
        comparisons.append(("base fingerprint", old_base["fingerprint"], new_base["fingerprint"]))
    else:
        comparisons.append(("scoring (dtype and version)", sorted(scorings), [scoring_of(new_base["fingerprint"])]))
    for what, old, new in comparisons:
        if old != new:
            raise TaskmixError(f"--check-base {base_dir}: its {what} differ from the stored check's ({old} against "
                               f"{new}): not the same prompts, answers or scoring, so the stored runs cannot be kept; "
                               "evaluate every model again and collect without --update-check")


def apart(ci: list) -> bool:
    """Whether a 95% interval excludes 0."""
    return ci[0] > 0 or ci[1] < 0


def ranking_reliability(ablations: dict, between: dict) -> dict:
    """How well ``symbol-eval`` itself orders the tuned models it met: per setting, the share
    of their pairwise differences that is not sampling noise (:func:`pairwise_reliability`,
    from every paired headline-minus-run and run-minus-run interval) and how many pairs'
    intervals exclude 0 -- over all models and again without the model in most such pairs (one
    far-off model can make the rest look orderable; a tie goes to the larger sum of |difference|
    over those pairs). The square root of the reliability roughly bounds how well a development
    set can be expected to rank the models as ``symbol-eval`` does."""
    pairs = [(("headline", name), b["headline_minus_this_pp"], b["headline_minus_this_balanced_pp"],
              b["ci95_headline_minus_this"], b["ci95_headline_minus_this_balanced"]) for name, b in ablations.items()]
    pairs += [(tuple(k.split(" minus ", 1)), b["pp"], b["balanced_pp"], b["ci95"], b["ci95_balanced"])
              for k, b in between.items()]
    out: dict = {"how": "per setting over every pair of tuned models met on symbol-eval (the headline against each "
                        "ablation, the ablations against each other; paired on the same prompts): reliability = "
                        "1 - mean(se^2) / mean(d^2), d the pair's difference and se its standard error (its 95% "
                        "interval's width / 3.92), floored at 0; sqrt(reliability) roughly bounds the correlation to "
                        "expect between symbol-eval's ordering and any other measure of the models; pairs_apart: "
                        "pairs whose interval excludes 0 (about 1 in 20 would by chance alone); then the same without "
                        "the model in most apart pairs (a tie: the larger sum of |d| over them)",
                 "n_runs": 1 + len(ablations), "n_pairs": len(pairs)}

    def summary(rows: list) -> dict:
        ses = [100 * (hi - lo) / (2 * Z95) for _, _, (lo, hi) in rows]
        rel = pairwise_reliability([d for _, d, _ in rows], ses)
        return {"reliability": r4(rel), "correlation_ceiling": r4(rel ** 0.5) if rel is not None else None,
                "pairs_apart": sum(apart(ci) for _, _, ci in rows), "pairs": len(rows),
                "rms_difference_pp": round((sum(d * d for _, d, _ in rows) / len(rows)) ** 0.5, 2),
                "rms_se_pp": round((sum(e * e for e in ses) / len(ses)) ** 0.5, 2)}

    for metric, (d_at, ci_at) in (("accuracy", (1, 3)), ("balanced", (2, 4))):
        out[metric] = {}
        for setting in HEADLINE:
            rows = [(p[0], p[d_at].get(setting), (p[ci_at] or {}).get(setting)) for p in pairs]
            rows = [r for r in rows if r[1] is not None and r[2] is not None]
            if not rows:
                continue
            count: dict[str, tuple[int, float]] = {}  # run -> (apart pairs, sum of |d| over them)
            for names, d, ci in rows:
                if apart(ci):
                    for n in names:
                        k, total = count.get(n, (0, 0.0))
                        count[n] = (k + 1, total + abs(d))
            cell = summary(rows)
            if count:
                far = max(count, key=lambda n: count[n])
                rest = [r for r in rows if far not in r[0]]
                if rest:
                    cell["without_most_apart"] = {"run": far, **summary(rest)}
            out[metric][setting] = cell
    return out


def utc_stamp() -> str:
    """Now, in UTC, as the results file writes dates."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collector_command(args: argparse.Namespace) -> str:
    """This script's own command line, shell-quoted, for the entry's ``commands``."""
    return "python " + shlex.join([Path(sys.argv[0]).as_posix(), *args.argv_used])


def eval_command(run: EvalRun, folder: str, what: str) -> str:
    """The ``taskmix eval`` command that made ``run`` in ``folder`` (``what``: its suite or tasks and settings)."""
    c = run.config
    return (f"taskmix eval --model {run.model} {what} --k {c.get('k')} --max-examples {c.get('max_examples')} "
            f"--seeds {','.join(map(str, c.get('seeds') or [c.get('seed')]))} --dtype {c.get('dtype')} --out {folder}")


def mixture_kinds(run_dir: Path) -> dict | None:
    """Prompts of each kind (symbol, instruction, flipped) in a run's mixture (its manifest)."""
    manifest = run_dir / "build" / "mixture" / "manifest.json"
    if not manifest.is_file():
        return None
    tasks = json.loads(manifest.read_text()).get("tasks", {}).values()
    kinds = ("symbol", "instruction", "flipped")
    return {"prompts": sum(t.get("written", 0) for t in tasks), **{k: sum(t.get(k, 0) for t in tasks) for k in kinds}}


def development_block(reference: EvalRun, reference_dir: str, runs: dict[str, tuple[EvalRun, EvalRun, Path]],
                      configs: list[str]) -> dict:
    """The screen on icl-dev behind a choice: per candidate run (evaluated on icl-dev
    tasks), its tuned-minus-base and the headline minus it (``reference``: the headline's
    tuned model on the same prompts), and the headline's own tuned-minus-base there. The
    issue's goals are not scored here: they are defined on symbol-eval."""
    first_base = next(iter(runs.values()))[0]
    for run_dir, (base, _, _) in runs.items():
        if base.fingerprint != first_base.fingerprint:
            raise TaskmixError(f"{run_dir}: its base model ({base.fingerprint}) is not the other candidates' "
                               f"({first_base.fingerprint})")
    own = comparison(first_base, reference, None, None)
    c = reference.config
    candidates = {}
    for i, (run_dir, r) in enumerate(runs.items()):
        block = ablation_block(reference, None, r, configs[i] if configs else None, None)
        candidates[Path(run_dir).name] = {k: v for k, v in block.items() if k != "goals"} | {"mixture": mixture_kinds(Path(run_dir))}
    return {
        "protocol": (f"icl-dev tasks {', '.join(sorted({p.task for p in reference.predictions}))}: k={c.get('k')} "
                     f"per class, {c.get('max_examples')} queries per task and seed, seeds {c.get('seeds')}, "
                     f"settings {', '.join(sorted({p.setting for p in reference.predictions}))}"),
        "reference": {"folder": reference_dir, "fingerprint": reference.fingerprint,
                      "command": eval_command(reference, reference_dir, f"--tasks {','.join(c.get('tasks') or [])} "
                                                                         f"--settings {','.join(c.get('settings') or [])}"),
                      "base": own["base"], "headline": own["tuned"],
                      **own_gain(own),
                      "diagnostics": {"base": setting_diagnostics(first_base), "headline": setting_diagnostics(reference)}},
        "candidates": candidates,
    }


def protocol_flags(run: EvalRun) -> str:
    """The ``taskmix eval`` flags of a run's protocol: suite (or tasks), settings, block size."""
    c = run.config
    block = c.get("effective_block_size")
    what = f"--suite {c.get('suite')}" if c.get("suite") else f"--tasks {','.join(c.get('tasks') or [])}"
    return f"{what} --settings {','.join(c.get('settings') or [])}" + (f" --block-size {block}" if block else "")


def protocol_block(headline: tuple[str, str], base: EvalRun, tuned: EvalRun, folders: tuple[str, str]) -> dict:
    """The headline's base and tuned models (``headline``: their fingerprints) again on
    ``symbol-eval`` under another protocol (e.g. blocks of 8 queries, or fresh exemplars per
    query, so each cell has many demonstration sets): the same paired comparison and
    diagnostics as the headline's own. Goals are scored on the headline's protocol only; this
    block says whether its reading holds with more demonstration draws."""
    for label, run, own in (("--protocol-base", base, headline[0]), ("--protocol-tuned", tuned, headline[1])):
        if run.fingerprint != own:
            raise TaskmixError(f"{label}: its model ({run.fingerprint}) is not the headline's ({own})")
    what = protocol_flags(base)
    cmp = comparison(base, tuned, None, None)
    return {
        "protocol": protocol_text(base),
        "prompts_digest": prompts_digest(base),
        "commands": [eval_command(run, folder, what) for run, folder in zip((base, tuned), folders)],
        **cmp,
        "diagnostics": {"base": setting_diagnostics(base), "tuned": setting_diagnostics(tuned)},
        "eval_seconds": {"base": timing(base), "tuned": timing(tuned)},
    }


def protocol_ablation_block(base: EvalRun, headline: EvalRun, run: EvalRun, folder: str, own_fingerprint: str) -> dict:
    """An ablation's tuned model under the other protocol (``own_fingerprint``: its model's under
    the headline's protocol, which ``run`` must have): its own tuned-minus-base against the other
    protocol's base, and the headline minus it, on the same prompts."""
    if run.fingerprint != own_fingerprint:
        raise TaskmixError(f"--protocol-ablation {folder}: its model ({run.fingerprint}) is not the ablation's ({own_fingerprint})")
    cmp = comparison(base, run, None, None)
    head = comparison(run, headline, None, None)
    return {
        "command": eval_command(run, folder, protocol_flags(run)),
        **own_gain(cmp),
        **headline_minus_this(head),
        "diagnostics": setting_diagnostics(run),
        "eval_seconds": timing(run),
    }


def protocol_ablations(specs: list[str], fingerprints: dict[str, str], base: EvalRun, headline: EvalRun,
                       source: str) -> tuple[dict, dict[str, EvalRun]]:
    """``--protocol-ablation NAME=FOLDER`` each: the ablation ``NAME`` (one of ``fingerprints``,
    its model's fingerprint) evaluated in ``FOLDER`` on the prompts of ``base`` and ``headline``;
    ``source`` names where the ablation names come from. Returns the blocks and the runs read."""
    blocks, runs = {}, {}
    for spec in specs:
        name, _, folder = spec.partition("=")
        if name not in fingerprints or not folder:
            raise TaskmixError(f"--protocol-ablation {spec!r}: expected NAME=FOLDER with NAME one of the "
                               f"{source} ({', '.join(fingerprints) or 'none given'})")
        runs[name] = read_run(folder)
        blocks[name] = protocol_ablation_block(base, headline, runs[name], folder, fingerprints[name])
    return blocks, runs


def between_runs(tuned: dict[str, EvalRun]) -> dict:
    """Every two tuned models against each other on the same prompts: ``"A minus B"`` for each
    ``A`` named before ``B``, in accuracy and balanced accuracy with paired intervals."""
    between = {}
    names = list(tuned)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            cmp = comparison(tuned[second], tuned[first], None, None)
            between[f"{first} minus {second}"] = {
                "pp": cmp["tuned_minus_base_pp"], "balanced_pp": cmp["tuned_minus_base_balanced_pp"],
                "ci95": cmp["ci95"]["tuned_minus_base"], "ci95_balanced": cmp["ci95"]["tuned_minus_base_balanced"]}
    return between


def protocol_text(run: EvalRun) -> str:
    """One line saying how ``run`` was evaluated (suite, k, queries, seeds, block size, dtype)."""
    c = run.config
    return (f"{c.get('suite')}: k={c.get('k')} per class, {c.get('max_examples')} queries per dataset and seed, "
            f"seeds {c.get('seeds')}, block size "
            f"{c.get('effective_block_size') or 'n (one shared demonstration set per dataset, setting and seed)'}, "
            f"dtype {c.get('dtype')}")


def timing(run: EvalRun) -> float:
    return round(dict(run.timing).get("total", 0.0), 1)


def experiment_runs(run_dir: Path) -> tuple[EvalRun, EvalRun, Path]:
    return (read_run(run_dir / "eval-base" / "results"), read_run(run_dir / "eval-tuned" / "results"),
            run_dir / "train" / "run")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="name of the model entry (e.g. gemma3-270m)")
    ap.add_argument("--run", help="the `taskmix run` folder of the headline experiment (required unless updating)")
    ap.add_argument("--config", help="the experiment YAML that was run (required unless updating)")
    ap.add_argument("--base-algorithmic", help="algorithmic eval folder of the base model")
    ap.add_argument("--tuned-algorithmic", help="algorithmic eval folder of the tuned model")
    ap.add_argument("--ablation-run", action="append", default=[],
                    help="the `taskmix run` folder of an ablation (the same experiment with one thing changed; with "
                         "--update-protocol, one trained with --no-eval for that protocol only); repeatable")
    ap.add_argument("--ablation-config", action="append", default=[], help="its YAML (in the order of --ablation-run)")
    ap.add_argument("--ablation-algorithmic", action="append", default=[],
                    help="algorithmic eval folder of its tuned model (in the order of --ablation-run)")
    ap.add_argument("--dev-reference", help="the headline tuned model's evaluation on the icl-dev tasks of --dev-run")
    ap.add_argument("--dev-run", action="append", default=[],
                    help="the `taskmix run` folder of a development candidate evaluated on icl-dev; repeatable")
    ap.add_argument("--dev-config", action="append", default=[], help="its YAML (in the order of --dev-run)")
    ap.add_argument("--protocol-base", help="the base model's symbol-eval evaluation under another protocol "
                                            "(e.g. --block-size 8); needs --protocol-tuned")
    ap.add_argument("--protocol-tuned", help="the headline tuned model's evaluation on the same prompts")
    ap.add_argument("--protocol-ablation", action="append", default=[], metavar="NAME=FOLDER",
                    help="an ablation's tuned model (NAME: its --ablation-run folder's name, or with "
                         "--update-protocol a stored ablation's) on the same prompts; repeatable, needs --protocol-base")
    ap.add_argument("--check-base", help="the base model on another development set's prompts (e.g. BIG-Bench "
                                          "tasks), to check that set against symbol-eval; needs --check-run")
    ap.add_argument("--check-run", action="append", default=[],
                    help="the tuned model of the headline or of an --ablation-run on the same prompts; repeatable")
    ap.add_argument("--update-check", action="store_true",
                    help="only add the --check-run models to the stored entry's development_check (the earlier runs' "
                         "folders need not exist; --check-base must reproduce the stored base exactly) and recompute "
                         "its agreement and the entry's ranking_reliability; everything else is kept")
    ap.add_argument("--update-protocol", metavar="NAME",
                    help="only add the headline's models under one more protocol (--protocol-base, --protocol-tuned; "
                         "e.g. NAME fresh_exemplars for --block-size 1) to the stored entry's more_protocols; the "
                         "models must be the stored headline's (fingerprints); stored ablations join with --protocol-ablation, "
                         "new ones with --ablation-run, --ablation-config and --protocol-ablation; "
                         "everything else is kept")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the entry's notes (what the files cannot say: machine load, renamed folders); "
                         "repeat for more")
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args(argv)
    args.argv_used = argv if argv is not None else sys.argv[1:]
    out = Path(args.out)
    if args.update_check or args.update_protocol:
        return update_entry(args, out)
    try:
        if not (args.run and args.config):
            raise TaskmixError("--run and --config are required (unless --update-check or --update-protocol)")
        if bool(args.protocol_base) != bool(args.protocol_tuned):
            raise TaskmixError("--protocol-base and --protocol-tuned go together (the same prompts, base and tuned)")
        data = read_json_if_present(out, "results file", require_object=True) or {"models": {}}
        base, tuned, train_dir = experiment_runs(Path(args.run))
        base_alg = read_run(args.base_algorithmic) if args.base_algorithmic else None
        tuned_alg = read_run(args.tuned_algorithmic) if args.tuned_algorithmic else None
        cmp = comparison(base, tuned, base_alg, tuned_alg)
        budget = train_budget(train_dir)
        ablation_alg = [(read_run(a), a) for a in args.ablation_algorithmic]
        runs_of = {r: experiment_runs(Path(r)) for r in args.ablation_run}  # each folder read once
        ablations = {}
        for i, run_dir in enumerate(args.ablation_run):
            config = args.ablation_config[i] if i < len(args.ablation_config) else None
            alg = ablation_alg[i][0] if i < len(ablation_alg) else None
            ablations[Path(run_dir).name] = ablation_block(tuned, base_alg, runs_of[run_dir], config, alg)
        between = between_runs({Path(r).name: runs_of[r][1] for r in args.ablation_run})
        development = None
        if args.dev_run:
            if not args.dev_reference:
                raise TaskmixError("--dev-run needs --dev-reference (the headline's evaluation on the same icl-dev prompts)")
            if args.dev_config and len(args.dev_config) != len(args.dev_run):
                raise TaskmixError(f"{len(args.dev_run)} --dev-run but {len(args.dev_config)} --dev-config; "
                                   "give one config per run")
            if len({Path(r).name for r in args.dev_run}) != len(args.dev_run):
                raise TaskmixError("two --dev-run folders share a name; their blocks would overwrite each other")
            development = development_block(read_run(args.dev_reference), args.dev_reference,
                                            {r: experiment_runs(Path(r)) for r in args.dev_run}, args.dev_config)
        headline_gain = {"fingerprint": tuned.fingerprint, **own_gain(cmp)}
        if development and ablations:
            development["agreement_with_symbol_eval"] = dev_agreement(development, headline_gain, ablations)
        dev_check = None
        if bool(args.check_base) != bool(args.check_run):
            raise TaskmixError("--check-base and --check-run go together (the base and tuned models on one set's prompts)")
        if args.check_run:
            dev_check = dev_set_check(read_run(args.check_base), args.check_base, {r: read_run(r) for r in args.check_run},
                                      headline_gain, ablations)
        other_protocol = None
        if args.protocol_base:
            other_protocol = protocol_block((base.fingerprint, tuned.fingerprint), read_run(args.protocol_base),
                                            read_run(args.protocol_tuned),
                                            (args.protocol_base, args.protocol_tuned))
        elif args.protocol_ablation:
            raise TaskmixError("--protocol-ablation needs --protocol-base and --protocol-tuned (the same prompts)")
        if args.protocol_ablation:
            other_protocol["ablations"] = protocol_ablations(
                args.protocol_ablation, {name: block["fingerprint"] for name, block in ablations.items()},
                read_run(args.protocol_base), read_run(args.protocol_tuned), "--ablation-run names")[0]
    except (TaskmixError, OSError, KeyError, ValueError) as e:
        print(f"symbol_tuning.py: {e}", file=sys.stderr)
        return 2
    stored = data.get("models", {}).get(args.model) or {}
    # --update-protocol's blocks stay while the headline's models are the same
    same_models = stored.get("fingerprints") == {"base": base.fingerprint, "tuned": tuned.fingerprint}
    more_protocols = stored.get("more_protocols") if same_models else None
    commands = [f"taskmix run {args.config}"]
    commands += [f"taskmix run {c}" for c in args.ablation_config]
    commands += [f"taskmix run {c}" for c in args.dev_config]
    if development:
        commands.append(development["reference"]["command"])
    alg_runs = [(base_alg, args.base_algorithmic), (tuned_alg, args.tuned_algorithmic), *ablation_alg]
    for run, folder in alg_runs:
        if run is not None:
            commands.append(eval_command(run, folder, "--suite algorithmic"))
    if dev_check:
        commands += [dev_check["base"]["command"], *(b["command"] for b in dev_check["runs"].values())]
    if other_protocol:
        commands += other_protocol["commands"]
        commands += [b["command"] for b in other_protocol.get("ablations", {}).values()]
    commands.append(collector_command(args))
    entry = {
        **{k: cmp[k] for k in ("base", "tuned", "base_balanced", "tuned_balanced", "tuned_minus_base_pp",
                               "tuned_minus_base_balanced_pp", "ci95", "n_pairs", "clusters")},
        "protocol": protocol_text(base),
        "diagnostics": {"base": setting_diagnostics(base), "tuned": setting_diagnostics(tuned)},
        "goals": goals(cmp),
        "budget": {
            **budget,
            "eval_seconds": {"base": timing(base), "tuned": timing(tuned),
                             **({"base_algorithmic": timing(base_alg)} if base_alg else {}),
                             **({"tuned_algorithmic": timing(tuned_alg)} if tuned_alg else {})},
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        },
        **({"ablations": ablations} if ablations else {}),
        **({"between_ablations": between} if between else {}),
        **({"development": development} if development else {}),
        **({"other_protocol": other_protocol} if other_protocol else {}),
        **({"development_check": dev_check} if dev_check else {}),
        **({"ranking_reliability": ranking_reliability(ablations, between)} if ablations else {}),
        **({"more_protocols": more_protocols} if more_protocols else {}),
        "commands": commands,
        "fingerprints": {"base": base.fingerprint, "tuned": tuned.fingerprint},
        "date": utc_stamp(),
        **({"notes": args.note} if args.note else {}),
    }
    data.setdefault("models", {})[args.model] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, data)
    print(json.dumps({"tuned_minus_base_pp": entry["tuned_minus_base_pp"],
                      "tuned_minus_base_balanced_pp": entry["tuned_minus_base_balanced_pp"],
                      "goals_all_met": entry["goals"]["all_met"]}, indent=2))
    return 0


UPDATE_FLAGS = ("run", "config", "ablation_run", "dev_run", "dev_reference", "protocol_base", "protocol_tuned",
                "protocol_ablation", "base_algorithmic", "tuned_algorithmic", "check_base", "check_run")


def refuse_other_flags(args: argparse.Namespace, mode: str, takes: tuple[str, ...]) -> None:
    """An update mode reads only the flags it ``takes``; any other run flag is refused by name."""
    given = [f"--{f.replace('_', '-')}" for f in UPDATE_FLAGS if f not in takes and getattr(args, f)]
    if given:
        raise TaskmixError(f"{mode} only adds to the stored entry; it does not take {', '.join(given)}")


def stored_entry(out: Path, model: str) -> tuple[dict, dict]:
    """The results file and its entry of ``model``, which an update mode changes in place."""
    data = read_json_if_present(out, "results file", require_object=True) or {}
    entry = (data.get("models") or {}).get(model)
    if not entry:
        raise TaskmixError(f"{out}: no entry for model {model!r} to update; collect it first")
    return data, entry


def update_check(args: argparse.Namespace, entry: dict) -> list[str]:
    """``--update-check``: the stored entry with more models on its development check; the
    commands that made them."""
    if not (args.check_base and args.check_run):
        raise TaskmixError("--update-check needs --check-base and --check-run")
    refuse_other_flags(args, "--update-check", ("check_base", "check_run"))
    headline_gain = {"fingerprint": entry["fingerprints"]["tuned"], "tuned_minus_base_pp": entry["tuned_minus_base_pp"],
                     "tuned_minus_base_balanced_pp": entry["tuned_minus_base_balanced_pp"]}
    ablations = entry.get("ablations", {})
    check = dev_set_check(read_run(args.check_base), args.check_base, {r: read_run(r) for r in args.check_run},
                          headline_gain, ablations, stored=entry.get("development_check"))
    reliability = ranking_reliability(ablations, entry.get("between_ablations", {})) if ablations else None
    entry["development_check"] = {**check, "updated": utc_stamp()}
    if reliability:
        entry["ranking_reliability"] = reliability
    return [check["base"]["command"], *(check["runs"][r]["command"] for r in args.check_run)]


def update_protocol(args: argparse.Namespace, entry: dict) -> list[str]:
    """``--update-protocol NAME``: the headline's base and tuned models under one more protocol
    (``--protocol-base``/``--protocol-tuned``), stored as ``more_protocols.NAME``, with ablations
    evaluated on the same prompts (``--protocol-ablation``): stored ones, and new ones trained for
    this protocol only (``--ablation-run`` with ``--ablation-config``, e.g. ``taskmix run ...
    --no-eval``; their blocks add ``config``, ``budget``, ``fingerprint`` and
    ``only_this_protocol``), and every two of this call's ablations against each other
    (``between_ablations``); the commands. Ablations and pairs stored under NAME before stay while
    the base was shown the same prompts (``prompts_digest``)."""
    if not (args.protocol_base and args.protocol_tuned):
        raise TaskmixError("--update-protocol needs --protocol-base and --protocol-tuned")
    refuse_other_flags(args, "--update-protocol", ("protocol_base", "protocol_tuned", "protocol_ablation", "ablation_run"))
    if len(args.ablation_config) != len(args.ablation_run):
        raise TaskmixError(f"{len(args.ablation_run)} --ablation-run but {len(args.ablation_config)} --ablation-config; "
                           "give one config per run")
    fingerprints = (entry["fingerprints"]["base"], entry["fingerprints"]["tuned"])
    base, tuned = read_run(args.protocol_base), read_run(args.protocol_tuned)
    block = protocol_block(fingerprints, base, tuned, (args.protocol_base, args.protocol_tuned))
    known = {name: a["fingerprint"] for name, a in entry.get("ablations", {}).items()}
    new = new_protocol_ablations(args.ablation_run, args.ablation_config, known, tuned.fingerprint)
    given = {spec.partition("=")[0] for spec in args.protocol_ablation}
    for name in new:
        if name not in given:
            raise TaskmixError(f"--ablation-run {name}: give its evaluation on these prompts with --protocol-ablation {name}=FOLDER")
    stored = entry.get("more_protocols", {}).get(args.update_protocol) or {}
    same_prompts = stored.get("prompts_digest") == block["prompts_digest"]
    ablations = dict(stored.get("ablations", {})) if same_prompts else {}
    added, runs = protocol_ablations(args.protocol_ablation, {**known, **{n: f for n, (f, _) in new.items()}},
                                     base, tuned, "stored ablations or --ablation-run names")
    for name, (_, extra) in new.items():
        added[name] = {**extra, **added[name], "fingerprint": runs[name].fingerprint, "only_this_protocol": True}
    ablations.update(added)
    between = {**(stored.get("between_ablations", {}) if same_prompts else {}), **between_runs(runs)}
    block["date"] = utc_stamp()
    if ablations:
        block["ablations"] = ablations
    if between:
        block["between_ablations"] = between
    entry.setdefault("more_protocols", {})[args.update_protocol] = block
    return [*(f"taskmix run {c} --no-eval" for c in args.ablation_config), *block["commands"],
            *(ablations[name]["command"] for name in ablations)]


def new_protocol_ablations(run_dirs: list[str], configs: list[str], known: dict[str, str],
                           headline_fingerprint: str) -> dict[str, tuple[str, dict]]:
    """Ablations trained for one protocol only (``run_dirs``: ``taskmix run --no-eval`` folders,
    ``configs`` their YAML): name -> (the fingerprint their evaluation must have: their model's
    identity with the headline evaluation's dtype and scoring version, ``headline_fingerprint``;
    their ``config`` and ``budget``). A name of a stored ablation (``known``) is refused."""
    new = {}
    _, bar, scoring = headline_fingerprint.partition("|")
    for run_dir, config in zip(run_dirs, configs):
        name, train_dir = Path(run_dir).name, Path(run_dir) / "train" / "run"
        if name in known:
            raise TaskmixError(f"--ablation-run {run_dir}: {name} is a stored ablation; give its evaluation with "
                               "--protocol-ablation only")
        if not (train_dir / "model").is_dir():
            raise TaskmixError(f"--ablation-run {run_dir}: no trained model at {train_dir / 'model'}")
        new[name] = (f"{model_identity(train_dir / 'model')}{bar}{scoring}",
                     {"config": config, "budget": train_budget(train_dir)})
    return new


def update_entry(args: argparse.Namespace, out: Path) -> int:
    """An update mode (``--update-check`` or ``--update-protocol``): change the stored entry in
    place, append the commands and notes; the earlier runs' folders need not exist."""
    try:
        if args.update_check and args.update_protocol:
            raise TaskmixError("--update-check and --update-protocol are separate updates; run one, then the other")
        data, entry = stored_entry(out, args.model)
        commands = update_check(args, entry) if args.update_check else update_protocol(args, entry)
    except KeyError as e:
        print(f"symbol_tuning.py: {out}: the stored entry of {args.model!r} has no {e} (written by an older version?)",
              file=sys.stderr)
        return 2
    except (TaskmixError, OSError, ValueError, TypeError) as e:
        print(f"symbol_tuning.py: {e}", file=sys.stderr)
        return 2
    commands.append(collector_command(args))
    entry["commands"] = [*entry.get("commands", []), *(c for c in commands if c not in entry.get("commands", []))]
    entry["notes"] = [*entry.get("notes", []), *args.note]
    atomic_write_json(out, data)
    if args.update_check:
        print(json.dumps(entry["development_check"]["agreement_with_symbol_eval"]["accuracy"], indent=2))
    else:
        block = entry["more_protocols"][args.update_protocol]
        print(json.dumps({"tuned_minus_base_pp": block["tuned_minus_base_pp"],
                          "tuned_minus_base_balanced_pp": block["tuned_minus_base_balanced_pp"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
