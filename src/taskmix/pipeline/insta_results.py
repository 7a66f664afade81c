"""The INSTA tuning experiment's results: collected from its finished runs, summarised over targets.

:func:`collect` reads the runs of a plan's index (:func:`~taskmix.pipeline.insta_plan.read_index`):
per target, what each condition trained on, each model's accuracy against the base model's,
and the paired differences of :data:`CONTRASTS` (``compare_runs``: same queries, same prompts).

The summary over targets (:func:`summarise`) takes each target's paired difference
(against the random draws: INSTA minus their mean) and reports the mean over targets with
a 95% percentile bootstrap over targets (:func:`over_targets`): targets are the unit
resampled, so the interval speaks of new targets, not of new queries of these ones.

Both modes of the plan (:data:`~taskmix.pipeline.insta_plan.MODES`) share the collector
and the summary; symbol mode summarises per setting and pooled over the two symbol
settings (``compare_runs`` with :data:`SYMBOLS_MEAN`). Their results live side by side in
one file (:func:`merge_results`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import TaskmixError
from ..evaluation.compare import SYMBOLS_MEAN, Difference, compare_runs
from ..evaluation.results import AVERAGE, EvalRun, read_run
from ..evaluation.stats import stratified_bootstrap_mean
from ..evaluation.summary import Diagnostics
from ..training.rundir import read_loss_log
from .insta_plan import MODES

#: Summary keys: name -> (the INSTA condition, the control: ``random`` means the mean of the draws).
CONTRASTS = {
    "insta_minus_random": ("insta", "random"),
    "insta_minus_all": ("insta", "all"),
    "aligned_minus_random": ("aligned", "random"),
    "aligned_minus_all": ("aligned", "all"),
}
BOOTSTRAP = 10_000


# ---------------------------------------------------------------------------
# Summary over targets
# ---------------------------------------------------------------------------


def versus_controls(insta_minus: Sequence[float]) -> float:
    """A target's INSTA-minus-control difference: the mean of its paired differences against
    each control run (one per random draw; one for ``all``)."""
    if not insta_minus:
        raise TaskmixError("no control run to compare with")
    return sum(insta_minus) / len(insta_minus)


def over_targets(values: Mapping[str, float], seed: int = 0, n_boot: int = BOOTSTRAP) -> dict[str, Any]:
    """``{"mean", "ci95"}`` of per-target values (pp): the mean over targets and the 2.5% and
    97.5% quantiles of the means of ``n_boot`` seeded resamples of the targets."""
    ordered = [float(values[t]) for t in sorted(values)]
    if not ordered:
        raise TaskmixError("no target to summarise")
    mean, lo, hi = stratified_bootstrap_mean([ordered], seed, n_boot)
    return {"mean": round(mean, 2), "ci95": [round(lo, 2), round(hi, 2)]}


def summarise(per_target: Mapping[str, Mapping[str, Sequence[float]]], seed: int = 0,
              n_boot: int = BOOTSTRAP) -> dict[str, Any]:
    """The summary of one protocol and metric. ``per_target[target][contrast]``: the paired
    differences (pp) of the INSTA condition against each of the contrast's control runs
    (:data:`CONTRASTS`). Each contrast is ``{"mean", "ci95"}`` over the targets that have it
    (``per_target`` holds each target's value; ``n_targets_of`` how many a contrast used)."""
    out: dict[str, Any] = {"n_targets": len(per_target)}
    values_of: dict[str, dict[str, float]] = {}
    for name in CONTRASTS:
        values = {t: versus_controls(d[name]) for t, d in per_target.items() if d.get(name)}
        if values:
            out[name] = over_targets(values, seed, n_boot)
            values_of[name] = {t: round(v, 2) for t, v in sorted(values.items())}
    out["per_target"] = values_of
    out["n_targets_of"] = {name: len(v) for name, v in values_of.items()}
    return out


def goals(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's goals: INSTA above random with the interval above 0; INSTA at least the whole pool."""
    out: dict[str, Any] = {}
    if "insta_minus_random" in summary:
        r = summary["insta_minus_random"]
        out["insta_above_random"] = {"mean_pp": r["mean"], "ci95_pp": r["ci95"], "met": r["ci95"][0] > 0}
    if "insta_minus_all" in summary:
        a = summary["insta_minus_all"]
        out["insta_at_least_all"] = {"mean_pp": a["mean"], "ci95_pp": a["ci95"], "met": a["mean"] >= 0}
    return out


# ---------------------------------------------------------------------------
# Collecting finished runs
# ---------------------------------------------------------------------------


def _r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def diff_json(d: Difference) -> dict[str, Any]:
    """B - A in percentage points: accuracy and balanced accuracy, with their 95% paired intervals."""
    pp = lambda x: None if x is None else round(100 * x, 1)  # noqa: E731
    return {"pp": pp(d.diff), "ci95_pp": [pp(d.ci_low), pp(d.ci_high)], "balanced_pp": pp(d.bal_diff),
            "balanced_ci95_pp": [pp(d.bal_low), pp(d.bal_high)], "n": d.n, "clusters": d.clusters,
            "no_interval": d.no_interval}


def target_row(rows: Sequence[Difference], target: str, setting: str) -> Difference | None:
    """B - A on the target in ``setting`` from ``compare_runs`` rows; a pooled setting of
    :data:`SYMBOLS_MEAN` is its ``average`` row. ``None`` when the runs did not score it."""
    task = AVERAGE if setting in SYMBOLS_MEAN else target
    return next((r for r in rows if r.task == task and r.setting == setting), None)


def target_accuracy(run: EvalRun, target: str, setting: str) -> float | None:
    """The run's accuracy on the target in ``setting`` (a pooled one: the mean over its settings)."""
    settings = SYMBOLS_MEAN.get(setting, (setting,))
    try:
        return sum(run.score(target, s).accuracy for s in settings) / len(settings)
    except KeyError:
        return None


def top_share(run: EvalRun, target: str, setting: str) -> float | None:
    """The share of the run's most frequent prediction on the target in ``setting`` (a pooled
    setting: the mean over its settings); ``None`` when the run did not record it."""
    shares = []
    for s in SYMBOLS_MEAN.get(setting, (setting,)):
        try:
            diag = Diagnostics.of(run.score(target, s))
        except KeyError:
            return None
        if diag is None or diag.top_share is None:
            return None
        shares.append(diag.top_share)
    return round(sum(shares) / len(shares), 4)


def of_target(run: EvalRun, target: str) -> EvalRun:
    """The run's scores and predictions on ``target`` alone: a run evaluated on several targets
    (a ``shared_pool`` control) is compared per target, so no pooled row mixes targets."""
    return dataclasses.replace(run, scores=tuple(s for s in run.scores if s.task == target), averages=(),
                               predictions=tuple(p for p in run.predictions if p.task == target))


def condition_info(run_dir: Path) -> dict[str, Any]:
    """What a condition trained on: its selection record, prompts built, steps and tokens seen."""
    out: dict[str, Any] = {}
    sel = run_dir / "select" / "selection.json"
    if sel.is_file():
        data = json.loads(sel.read_text(encoding="utf-8"))
        out["tasks"] = [t["name"] for t in data["tasks"]]
        for key in ("replaced", "per_task_cap", "removed_from_pool", "excluded_same_source"):
            if data.get(key):
                out[key] = data[key]
    manifest = run_dir / "build" / "mixture" / "manifest.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        out["prompts"] = m.get("n_prompts")
        out["prompts_per_task"] = {k: v.get("written") for k, v in m.get("tasks", {}).items()}
    logged = read_loss_log(run_dir / "train" / "run")  # none before the first step (or the log's first line)
    if logged:
        out["steps"], out["tokens_seen"] = logged[-1].get("step"), logged[-1].get("tokens")
    return out


def collect(index: list[dict[str, str]], mode: str = "instruction") -> tuple[dict[str, Any], dict[str, Any]]:
    """From the finished runs of ``index`` (:func:`~taskmix.pipeline.insta_plan.read_index`)
    of a plan in ``mode``: per target, what each condition trained on and, per view of the
    mode (:attr:`~taskmix.pipeline.insta_plan.Mode.views`: a protocol in instruction mode, a
    setting or the pooled symbol settings in symbol mode), each model's accuracy and balanced
    accuracy and the paired differences of
    :data:`CONTRASTS` (one per control run); and, for :func:`summarise`, those differences
    (pp) by view, metric, target and contrast. Runs that did not finish are left out."""
    views = MODES[mode].views
    targets: dict[str, Any] = {}
    diffs: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = {
        v: {"accuracy": {}, "balanced_accuracy": {}} for v, _, _ in views}
    read: dict[str, EvalRun] = {}  # eval folder -> its run, read once (a shared run serves every target)

    def eval_run(folder: str) -> EvalRun:
        if folder not in read:
            read[folder] = read_run(folder)
        return read[folder]

    for target in dict.fromkeys(r["target"] for r in index):
        rows = [r for r in index if r["target"] == target]
        entry: dict[str, Any] = {"conditions": {r["condition"]: condition_info(Path(r["run_dir"]))
                                                for r in rows if r["protocol"] == "four_shot" and r["condition"] != "base"}}
        for protocol in MODES[mode].protocols:
            runs = {r["condition"]: of_target(eval_run(r["eval"]), target) for r in rows
                    if r["protocol"] == protocol and (Path(r["eval"]) / "results.json").is_file()}
            if not runs:
                continue
            base = runs.pop("base", None)
            settings = {v: s for v, p, s in views if p == protocol}
            blocks: dict[str, dict[str, Any]] = {v: {} for v in settings}
            for cond, run in runs.items():
                compared = compare_runs(base, run, pools=SYMBOLS_MEAN) if base is not None else ()
                for view, setting in settings.items():
                    d = target_row(compared, target, setting)
                    if d is None:  # no paired base run: the accuracy alone
                        acc = target_accuracy(run, target, setting)
                        if acc is not None:
                            blocks[view][cond] = {"accuracy": round(acc, 4)}
                        continue
                    blocks[view].setdefault("base", {"accuracy": round(d.acc_a, 4), "balanced_accuracy": _r4(d.bal_a),
                                                     "top_prediction_share": top_share(base, target, setting)})
                    blocks[view][cond] = {"accuracy": round(d.acc_b, 4), "balanced_accuracy": _r4(d.bal_b),
                                          "top_prediction_share": top_share(run, target, setting),
                                          "minus_base": diff_json(d)}
            for name, (head, control) in CONTRASTS.items():
                controls = [c for c in runs if c == control or (control == "random" and c.startswith("random"))]
                if head not in runs or not controls:
                    continue
                compared_with = {c: compare_runs(runs[c], runs[head], pools=SYMBOLS_MEAN) for c in controls}
                for view, setting in settings.items():
                    pairs = {c: d for c, rs in compared_with.items() if (d := target_row(rs, target, setting)) is not None}
                    if not pairs:
                        continue
                    blocks[view][name] = {"pp": round(100 * versus_controls([d.diff for d in pairs.values()]), 2),
                                          "runs": {c: diff_json(d) for c, d in pairs.items()}}
                    for metric, value in (("accuracy", lambda d: d.diff), ("balanced_accuracy", lambda d: d.bal_diff)):
                        vals = [100 * value(d) for d in pairs.values() if value(d) is not None]
                        if vals:
                            diffs[view][metric].setdefault(target, {})[name] = vals
            entry.update({v: block for v, block in blocks.items() if block})
        targets[target] = entry
    return targets, diffs


def unfinished(index: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    """Per condition and protocol (``"aligned (zero_shot)"``), the targets of ``index`` whose
    evaluation has no results: what :func:`collect` leaves out, for the results file's notes."""
    missing: dict[str, list[str]] = {}
    for row in index:
        if not (Path(row["eval"]) / "results.json").is_file():
            missing.setdefault(f"{row['condition']} ({row['protocol']})", []).append(row["target"])
    return missing


def summary_of(diffs: dict[str, Any], seed: int, mode: str = "instruction") -> dict[str, Any]:
    """The summary of a mode's results: its first view's accuracy at the top (4-shot; in
    symbol mode the pooled symbol settings), its balanced accuracy and every other view beside it."""
    first, *others = [v for v, _, _ in MODES[mode].views]
    head = summarise(diffs[first]["accuracy"], seed)
    out = {
        **head,
        "protocol": f"{MODES[mode].headline}, accuracy, percentage points; INSTA - random: minus the mean of the draws",
        "interval": (f"95% percentile bootstrap over targets ({BOOTSTRAP:,} seeded resamples of the targets) of "
                     "the per-target paired differences (each from compare_runs: same queries, same prompts)"),
        "balanced_accuracy": summarise(diffs[first]["balanced_accuracy"], seed),
    }
    for view in others:
        out[view] = summarise(diffs[view]["accuracy"], seed)
        out[f"{view}_balanced_accuracy"] = summarise(diffs[view]["balanced_accuracy"], seed)
    return {**out, "goals": goals(head)}


def keep_history(old: Mapping[str, Any] | None, new: dict[str, Any], label: str) -> dict[str, Any]:
    """``new`` with the earlier file's content under ``history``: an earlier file without a
    ``summary`` (the SmolLM2 one) is kept whole under ``label``; one with a summary passes its
    own history on (it is this experiment, rerun)."""
    if not old:
        return new
    history = dict(old.get("history", {})) if "summary" in old else {label: dict(old)}
    return {**new, "history": history} if history else new


def merge_results(old: Mapping[str, Any] | None, new: dict[str, Any], mode: str, label: str) -> dict[str, Any]:
    """The results file after a run of ``mode``: instruction mode's results at the top level
    (:func:`keep_history`), symbol mode's under its
    :attr:`~taskmix.pipeline.insta_plan.Mode.result_key`; each mode's run keeps what the
    other mode wrote."""
    old = dict(old or {})
    kept = {m.result_key: old.pop(m.result_key) for m in MODES.values() if m.result_key and m.result_key in old}
    key = MODES[mode].result_key
    if key:
        return {**old, **kept, key: new}
    return {**keep_history(old, new, label), **kept}


# ---------------------------------------------------------------------------
# Markdown table of a results file (what the README quotes)
# ---------------------------------------------------------------------------

_CONDITIONS = ("base", "insta", "aligned", "random", "all")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _model_cell(rows: Sequence[Mapping[str, Any]]) -> str:
    """Accuracy / balanced accuracy / top-answer share (%), the mean over ``rows`` (the random draws)."""
    if not rows:
        return "-"

    def mean(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    return " / ".join(_pct(mean(k)) for k in ("accuracy", "balanced_accuracy", "top_prediction_share"))


def _contrast_cell(block: Mapping[str, Any] | None) -> str:
    """Accuracy / balanced accuracy (pp, the mean over the control runs) and each run's 95% interval."""
    if not block:
        return "-"
    runs = list(block["runs"].values())
    bal = [r["balanced_pp"] for r in runs if r.get("balanced_pp") is not None]
    head = f"{block['pp']:+.1f} / " + (f"{sum(bal) / len(bal):+.1f}" if bal else "-")
    return head + " (" + ", ".join(f"[{r['ci95_pp'][0]:+.1f}, {r['ci95_pp'][1]:+.1f}]" for r in runs) + ")"


def markdown_table(targets: Mapping[str, Any], mode: str = "instruction") -> str:
    """The per-target table of a results file's ``targets`` (:func:`collect`), one row per
    target and view: each condition's accuracy / balanced accuracy / top-answer share (%; the
    random draws averaged, their number in the header) and the contrasts' differences in
    accuracy / balanced accuracy (pp) with each control run's paired 95% interval. Conditions
    and contrasts without any result are left out."""
    def conditions_of(block: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
        out: dict[str, list[Mapping[str, Any]]] = {}
        for name, row in block.items():
            kind = "random" if name.startswith("random") else name
            if kind in _CONDITIONS:
                out.setdefault(kind, []).append(row)
        return out

    views = [v for v, _, _ in MODES[mode].views]
    blocks = [(t, v, e[v], conditions_of(e[v])) for t, e in targets.items() for v in views if v in e]
    present = [c for c in _CONDITIONS if any(c in conds for *_, conds in blocks)]
    draws = max((len(conds.get("random", [])) for *_, conds in blocks), default=0)
    contrasts = [c for c in CONTRASTS if any(c in b for _, _, b, _ in blocks)]
    names = {"base": "base", "insta": "INSTA", "aligned": "aligned", "random": f"random (mean of {draws})", "all": "all"}
    header = ["target", "view", *(names[c] for c in present),
              *(c.replace("_minus_", " - ").replace("insta", "INSTA") for c in contrasts)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    previous = None
    for target, view, block, conds in blocks:
        cells = [target if target != previous else "", view.replace("_", "-"),
                 *(_model_cell(conds.get(c, [])) for c in present), *(_contrast_cell(block.get(c)) for c in contrasts)]
        lines.append("| " + " | ".join(cells) + " |")
        previous = target
    return "\n".join(lines)
