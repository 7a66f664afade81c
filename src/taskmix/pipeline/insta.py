"""The INSTA tuning experiment as ``taskmix run`` configs, and its summary over targets.

For each target (a classification task outside the pool it is selected from) and each
condition of :func:`conditions` -- ``insta`` (INSTA, instruction-only encoder), ``aligned``
(INSTA, an aligned encoder), ``random0`` .. (seeded draws of k tasks) and ``all`` (the whole
pool, sampled evenly) -- one experiment instruction-tunes the model on the tasks its select
section chooses: the same pool (the symbol-tuning datasets without the target), the same
build section (``k * per_task_cap`` prompts: see ``SelectSection.method``), the same steps.
Each tuned model is evaluated on the target 4-shot (in its run) and zero-shot (an eval-only
config on its folder), and the base model both ways, all with the default demonstration
blocks and the same seeds, so every pair of runs compares query by query.

The summary over targets (:func:`summarise`) takes each target's paired difference
(against the random draws: INSTA minus their mean) and reports the mean over targets with
a 95% percentile bootstrap over targets (:func:`over_targets`): targets are the unit
resampled, so the interval speaks of new targets, not of new queries of these ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ..catalogue import load_task
from ..errors import ConfigError, TaskmixError
from ..evaluation.compare import Difference, compare_runs
from ..evaluation.results import read_run
from ..evaluation.stats import stratified_bootstrap_mean
from ..fileio import atomic_write_json, atomic_write_text
from ..training.rundir import MODEL_DIR
from .experiment import load_experiment

DEFAULT_TARGETS = ("cb", "rte", "subj", "tweeteval/hate", "tweeteval/emotion")
SETTING = "instr_labels"
PROTOCOLS = ("four_shot", "zero_shot")
INDEX_FILE = "index.json"
#: Summary keys: name -> (the INSTA condition, the control: ``random`` means the mean of the draws).
CONTRASTS = {
    "insta_minus_random": ("insta", "random"),
    "insta_minus_all": ("insta", "all"),
    "aligned_minus_random": ("aligned", "random"),
    "aligned_minus_all": ("aligned", "all"),
}
BOOTSTRAP = 10_000


@dataclass(frozen=True)
class InstaPlan:
    """The experiment's protocol and budget (one value for every target and condition).

    targets: catalogue classification tasks to select for; each is left out of its own pool.
    model: the base model (alias, folder or hub id).
    k: tasks per condition; the ``all`` condition gets the budget of k tasks.
    draws: random draws (conditions ``random0`` .. ``random<draws-1>``).
    per_task_cap: prompts per task for a k-task condition.
    steps, batch_size, lr, lora, dtype, max_length, label_loss: the training section
        (``label_loss: context`` is the dense label loss); ``steps * batch_size`` should be
        ``k * per_task_cap`` (one pass).
    shots: exemplars per class of the in-context protocol (the other protocol is zero-shot).
    max_examples: evaluated queries per target and seed.
    seeds: evaluation seeds (one default demonstration block per seed).
    seed: the experiment seed (selection draws, mixture, training).
    aligned_encoder: the aligned sentence-transformers folder of the ``aligned`` condition;
        empty leaves that condition out.
    runs: the folder holding every run folder.
    """

    targets: tuple[str, ...] = DEFAULT_TARGETS
    model: str = "gemma3-270m"
    k: int = 3
    draws: int = 3
    per_task_cap: int = 160
    steps: int = 60
    batch_size: int = 8
    lr: float = 2e-4
    lora: bool = True
    dtype: str = "bf16"
    max_length: int = 512
    label_loss: str = "context"
    shots: int = 4
    max_examples: int = 300
    seeds: tuple[int, ...] = (0, 1, 2)
    seed: int = 0
    aligned_encoder: str = ""
    runs: str = "runs/insta-tuning"

    def __post_init__(self) -> None:
        if not self.targets or len(set(self.targets)) != len(self.targets):
            raise TaskmixError("the plan needs distinct targets")
        if self.draws < 1 or self.k < 1 or self.shots < 1:
            raise TaskmixError(f"draws, k and shots must be at least 1, got {self.draws}, {self.k}, {self.shots}")


@dataclass(frozen=True)
class PlannedRun:
    """One ``taskmix run`` config of the plan: ``condition`` is one of :func:`conditions` or
    ``base``; ``protocol`` ``four_shot`` or ``zero_shot``."""

    target: str
    condition: str
    protocol: str
    name: str
    config: dict[str, Any]

    @property
    def run_dir(self) -> Path:
        return Path(self.config["out"])

    @property
    def eval_folder(self) -> Path:
        """Where its evaluation of the target lands (the tuned model's, when it trains)."""
        return self.run_dir / ("eval-tuned" if "train" in self.config else "eval-base") / "results"


def conditions(plan: InstaPlan) -> tuple[str, ...]:
    aligned = ("aligned",) if plan.aligned_encoder else ()
    return ("insta", *aligned, *(f"random{d}" for d in range(plan.draws)), "all")


def slug(target: str) -> str:
    return target.replace("/", "-")


def _select(plan: InstaPlan, target: str, condition: str) -> dict[str, Any]:
    sel: dict[str, Any] = {"target": target, "k": plan.k}
    if condition == "aligned":
        sel["encoder"] = plan.aligned_encoder
    elif condition.startswith("random"):
        sel.update(method="random", draw=int(condition[len("random"):]))
    elif condition == "all":
        sel["method"] = "all"
    return sel


def _eval(plan: InstaPlan, target: str, shots: int) -> dict[str, Any]:
    return {"tasks": [target], "settings": [SETTING], "k": shots, "max_examples": plan.max_examples,
            "seeds": list(plan.seeds), "dtype": plan.dtype, "progress": False, "plots": False}


def plan_runs(plan: InstaPlan) -> list[PlannedRun]:
    """Every config of the plan, in the order to run them (a zero-shot run after the run
    that trains its model)."""
    runs: list[PlannedRun] = []
    root = Path(plan.runs)
    for target in plan.targets:
        s = slug(target)
        for protocol, shots in (("four_shot", plan.shots), ("zero_shot", 0)):
            name = f"{s}-base" + ("" if protocol == "four_shot" else "-zeroshot")
            runs.append(PlannedRun(target, "base", protocol, name, {
                "name": name, "model": plan.model, "seed": plan.seed, "out": str(root / name),
                "eval": _eval(plan, target, shots), "report": False}))
        for cond in conditions(plan):
            name = f"{s}-{cond}"
            tuned = {
                "name": name, "model": plan.model, "seed": plan.seed, "out": str(root / name),
                "select": _select(plan, target, cond),
                "build": {"per_task_cap": plan.per_task_cap, "max_length": plan.max_length, "instruction_share": 1.0},
                "train": {"lora": plan.lora, "lr": plan.lr, "max_steps": plan.steps, "batch_size": plan.batch_size,
                          "warmup_steps": max(1, plan.steps // 12), "dtype": plan.dtype, "max_length": plan.max_length,
                          "save_every": plan.steps, "label_loss": plan.label_loss, "progress": False},
                "eval": _eval(plan, target, plan.shots), "eval_models": ["tuned"], "report": False,
            }
            runs.append(PlannedRun(target, cond, "four_shot", name, tuned))
            zname = f"{name}-zeroshot"
            model_dir = root / name / "train" / "run" / MODEL_DIR
            runs.append(PlannedRun(target, cond, "zero_shot", zname, {
                "name": zname, "model": str(model_dir), "seed": plan.seed, "out": str(root / zname),
                "eval": _eval(plan, target, 0), "report": False}))
    return runs


def write_configs(runs: Sequence[PlannedRun], folder: Path, note: str = "") -> list[Path]:
    """One YAML per run in ``folder`` (``<name>.yaml``) and ``index.json`` listing them in order."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / INDEX_FILE).is_file():  # configs an earlier plan generated and this one does not
        names = {f"{r.name}.yaml" for r in runs}
        for row in read_index(folder):
            old = Path(row["config"])
            if old.parent == folder and old.name not in names:
                old.unlink(missing_ok=True)
    paths = []
    for r in runs:
        path = folder / f"{r.name}.yaml"
        head = f"# {r.target} / {r.condition} / {r.protocol}: generated{' by ' + note if note else ''}; do not edit\n"
        atomic_write_text(path, head + yaml.safe_dump(r.config, sort_keys=False))
        paths.append(path)
    atomic_write_json(folder / INDEX_FILE, [
        {"target": r.target, "condition": r.condition, "protocol": r.protocol, "config": str(p),
         "run_dir": str(r.run_dir), "eval": str(r.eval_folder)} for r, p in zip(runs, paths)])
    return paths


def check_targets(targets: Sequence[str]) -> None:
    """Every target is a catalogue classification task (a one-line error otherwise)."""
    for name in targets:
        if not load_task(name).is_classification:
            raise TaskmixError(f"target {name!r} is not a classification task")


def validate_configs(paths: Sequence[Path]) -> None:
    """Load every config as ``taskmix run`` would (one-line error naming the file)."""
    for path in paths:
        try:
            load_experiment(path)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None


def read_index(folder: Path) -> list[dict[str, str]]:
    path = folder / INDEX_FILE
    if not path.is_file():
        raise TaskmixError(f"{path}: no plan index (write the configs first)")
    return json.loads(path.read_text(encoding="utf-8"))


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


def target_row(a: Any, b: Any, target: str) -> Difference:
    """B - A on the target (the one dataset and setting both runs scored)."""
    return next(r for r in compare_runs(a, b) if r.task == target and r.setting == SETTING)


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
    losses = run_dir / "train" / "run" / "loss.jsonl"
    if losses.is_file():
        rows = [json.loads(line) for line in losses.read_text(encoding="utf-8").splitlines() if line.strip()]
        last = [r for r in rows if "loss" in r][-1]
        out["steps"], out["tokens_seen"] = last.get("step"), last.get("tokens")
    return out


def collect(index: list[dict[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """From the finished runs of ``index`` (:func:`read_index`): per target, what each
    condition trained on and, per protocol, each model's accuracy and balanced accuracy and
    the paired differences of :data:`CONTRASTS` (one per control run); and, for
    :func:`summarise`, those differences (pp) by protocol, metric, target and contrast.
    Runs that did not finish are left out."""
    targets: dict[str, Any] = {}
    diffs: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = {
        p: {"accuracy": {}, "balanced_accuracy": {}} for p in PROTOCOLS}
    for target in dict.fromkeys(r["target"] for r in index):
        rows = [r for r in index if r["target"] == target]
        entry: dict[str, Any] = {"conditions": {r["condition"]: condition_info(Path(r["run_dir"]))
                                                for r in rows if r["protocol"] == "four_shot" and r["condition"] != "base"}}
        for protocol in PROTOCOLS:
            runs = {r["condition"]: read_run(r["eval"]) for r in rows
                    if r["protocol"] == protocol and (Path(r["eval"]) / "results.json").is_file()}
            if not runs:
                continue
            base = runs.pop("base", None)
            block: dict[str, Any] = {}
            for cond, run in runs.items():
                if base is None:  # no paired base run: the accuracy alone
                    block[cond] = {"accuracy": round(run.score(target, SETTING).accuracy, 4)}
                    continue
                d = target_row(base, run, target)
                block.setdefault("base", {"accuracy": round(d.acc_a, 4), "balanced_accuracy": _r4(d.bal_a)})
                block[cond] = {"accuracy": round(d.acc_b, 4), "balanced_accuracy": _r4(d.bal_b), "minus_base": diff_json(d)}
            for name, (head, control) in CONTRASTS.items():
                controls = [c for c in runs if c == control or (control == "random" and c.startswith("random"))]
                if head not in runs or not controls:
                    continue
                pairs = {c: target_row(runs[c], runs[head], target) for c in controls}
                block[name] = {"pp": round(100 * versus_controls([d.diff for d in pairs.values()]), 2),
                               "runs": {c: diff_json(d) for c, d in pairs.items()}}
                for metric, value in (("accuracy", lambda d: d.diff), ("balanced_accuracy", lambda d: d.bal_diff)):
                    vals = [100 * value(d) for d in pairs.values() if value(d) is not None]
                    if vals:
                        diffs[protocol][metric].setdefault(target, {})[name] = vals
            entry[protocol] = block
        targets[target] = entry
    return targets, diffs


def summary_of(diffs: dict[str, Any], seed: int) -> dict[str, Any]:
    """The results file's ``summary``: in-context accuracy at the top, the rest beside it."""
    head = summarise(diffs["four_shot"]["accuracy"], seed)
    return {
        **head,
        "protocol": f"in-context (four_shot), {SETTING}, accuracy, percentage points; INSTA - random: minus the mean of the draws",
        "interval": (f"95% percentile bootstrap over targets ({BOOTSTRAP:,} seeded resamples of the targets) of "
                     "the per-target paired differences (each from compare_runs: same queries, same prompts)"),
        "balanced_accuracy": summarise(diffs["four_shot"]["balanced_accuracy"], seed),
        "zero_shot": summarise(diffs["zero_shot"]["accuracy"], seed),
        "zero_shot_balanced_accuracy": summarise(diffs["zero_shot"]["balanced_accuracy"], seed),
        "goals": goals(head),
    }


def keep_history(old: Mapping[str, Any] | None, new: dict[str, Any], label: str) -> dict[str, Any]:
    """``new`` with the earlier file's content under ``history``: an earlier file without a
    ``summary`` (the SmolLM2 one) is kept whole under ``label``; one with a summary passes its
    own history on (it is this experiment, rerun)."""
    if not old:
        return new
    history = dict(old.get("history", {})) if "summary" in old else {label: dict(old)}
    return {**new, "history": history} if history else new
