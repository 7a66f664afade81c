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

The plan's ``mode`` (:data:`MODES`) chooses what the tuned models learn: ``instruction``
(the above) or ``symbol``, select-then-symbol-tune: the same conditions symbol-tune on the
selected tasks (symbol-tuning mixtures with a fifth of instruction prompts, as
``configs/symbol_tuning_gemma3.yaml``) and each model is scored on a ``symbol-eval`` target
4-shot in the symbol settings and flipped, summarised per setting and pooled over the two
symbol settings (``compare_runs`` with :data:`SYMBOLS_MEAN`). Both modes share the
configs, the collector and the summary; their results live side by side in one file
(:func:`merge_results`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ..catalogue import load_task
from ..errors import ConfigError, TaskmixError
from ..evaluation.compare import SYMBOLS_MEAN, Difference, compare_runs
from ..evaluation.results import AVERAGE, EvalRun, read_run
from ..evaluation.suites import suite_tasks
from ..evaluation.stats import stratified_bootstrap_mean
from ..fileio import atomic_write_json, atomic_write_text
from ..mixture.symbol import is_evaluation_task
from ..training.rundir import MODEL_DIR
from .experiment import SelectSection, load_experiment

DEFAULT_TARGETS = ("cb", "rte", "subj", "tweeteval/hate", "tweeteval/emotion")
#: Symbol mode: two symbol-eval targets with full test sets (RAFT's 50 examples are too few).
SYMBOL_TARGETS = ("subj", "tweeteval/hate")
SETTING = "instr_labels"
SYMBOL_SETTINGS = ("instr_symbols", "noinstr_symbols", "flipped")
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
class Mode:
    """What the plan's tuned models learn and how the target is scored.

    targets: the default targets.
    instruction_share: the build section's share of instruction prompts (1.0: instruction
        tuning, natural labels; 0.2: symbol tuning with a fifth of instruction prompts).
    settings: the evaluation settings.
    protocols: ``four_shot`` and/or ``zero_shot`` (symbols need exemplars: 4-shot only).
    views: the collected blocks, ``(name, protocol, setting)``; a setting of
        :data:`SYMBOLS_MEAN` is the pooled row of ``compare_runs``.
    prefix: the run names' prefix (keeps the two modes' run folders apart).
    result_key: where the results go in the results file; empty for the top level.
    headline: what the summary's top-level numbers are.
    """

    targets: tuple[str, ...]
    instruction_share: float
    settings: tuple[str, ...]
    protocols: tuple[str, ...]
    views: tuple[tuple[str, str, str], ...]
    prefix: str = ""
    result_key: str = ""
    headline: str = ""


MODES = {
    "instruction": Mode(DEFAULT_TARGETS, 1.0, (SETTING,), PROTOCOLS, tuple((p, p, SETTING) for p in PROTOCOLS),
                        headline=f"in-context (four_shot), {SETTING}"),
    "symbol": Mode(SYMBOL_TARGETS, 0.2, SYMBOL_SETTINGS, ("four_shot",),
                   (("symbols_mean", "four_shot", "symbols_mean"), *((x, "four_shot", x) for x in SYMBOL_SETTINGS)),
                   prefix="sst-", result_key="select_then_symbol_tune",
                   headline="in-context (four_shot), symbols_mean (instr_symbols and noinstr_symbols pooled, "
                            "one paired interval per target)"),
}


@dataclass(frozen=True)
class InstaPlan:
    """The experiment's protocol and budget (one value for every target and condition).

    mode: ``instruction`` (instruction-tune on the selected tasks; score the target with
        its instruction and natural labels, 4-shot and zero-shot) or ``symbol``
        (select-then-symbol-tune: symbol-tune on them, instruction_share 0.2; score a
        ``symbol-eval`` target 4-shot in instr_symbols, noinstr_symbols and flipped). See :data:`MODES`.
    targets: catalogue classification tasks to select for; each is left out of its own pool;
        empty means the mode's (``DEFAULT_TARGETS``; ``SYMBOL_TARGETS``). In symbol mode
        each must be a ``symbol-eval`` task.
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

    mode: str = "instruction"
    targets: tuple[str, ...] = ()
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
        if self.mode not in MODES:
            raise TaskmixError(f"the plan's mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.targets:
            object.__setattr__(self, "targets", MODES[self.mode].targets)
        if len(set(self.targets)) != len(self.targets):
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


def mode_of(plan: InstaPlan) -> Mode:
    return MODES[plan.mode]


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
    return {"tasks": [target], "settings": list(mode_of(plan).settings), "k": shots, "max_examples": plan.max_examples,
            "seeds": list(plan.seeds), "dtype": plan.dtype, "progress": False, "plots": False}


def plan_runs(plan: InstaPlan) -> list[PlannedRun]:
    """Every config of the plan, in the order to run them (a zero-shot run after the run
    that trains its model)."""
    runs: list[PlannedRun] = []
    root = Path(plan.runs)
    mode = mode_of(plan)
    zero_shot = "zero_shot" in mode.protocols
    for target in plan.targets:
        s = mode.prefix + slug(target)
        for protocol in mode.protocols:
            shots = plan.shots if protocol == "four_shot" else 0
            name = f"{s}-base" + ("" if protocol == "four_shot" else "-zeroshot")
            runs.append(PlannedRun(target, "base", protocol, name, {
                "name": name, "model": plan.model, "seed": plan.seed, "out": str(root / name),
                "eval": _eval(plan, target, shots), "report": False}))
        for cond in conditions(plan):
            name = f"{s}-{cond}"
            tuned = {
                "name": name, "model": plan.model, "seed": plan.seed, "out": str(root / name),
                "select": _select(plan, target, cond),
                "build": {"per_task_cap": plan.per_task_cap, "max_length": plan.max_length,
                          "instruction_share": mode.instruction_share},
                "train": {"lora": plan.lora, "lr": plan.lr, "max_steps": plan.steps, "batch_size": plan.batch_size,
                          "warmup_steps": max(1, plan.steps // 12), "dtype": plan.dtype, "max_length": plan.max_length,
                          "save_every": plan.steps, "label_loss": plan.label_loss, "progress": False},
                "eval": _eval(plan, target, plan.shots), "eval_models": ["tuned"], "report": False,
            }
            runs.append(PlannedRun(target, cond, "four_shot", name, tuned))
            if not zero_shot:
                continue
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


def check_plan(plan: InstaPlan) -> None:
    """:func:`check_targets`; in symbol mode every target is a ``symbol-eval`` task; and no
    target's pool holds a ``symbol-eval`` task (a target is evaluated, never tuned on)."""
    check_targets(plan.targets)
    suite = {t.name for t in suite_tasks("symbol-eval")}
    if plan.mode == "symbol":
        outside = [t for t in plan.targets if t not in suite]
        if outside:
            raise TaskmixError(f"symbol mode: target {outside[0]!r} is not a symbol-eval task "
                               f"(symbol-eval: {', '.join(sorted(suite))})")
    for target in plan.targets:
        held = [t for t in SelectSection(target=target, k=plan.k).pool if is_evaluation_task(t)]
        if held:
            raise TaskmixError(f"the pool of target {target!r} holds the evaluation task {held[0]!r}")


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


def target_row(rows: Sequence[Difference], target: str, setting: str) -> Difference | None:
    """B - A on the target in ``setting`` from ``compare_runs`` rows; a pooled setting of
    :data:`SYMBOLS_MEAN` is its ``average`` row. ``None`` when the runs did not score it."""
    task = AVERAGE if setting in SYMBOLS_MEAN else target
    return next((r for r in rows if r.task == task and r.setting == setting), None)


def target_accuracy(run: EvalRun, target: str, setting: str) -> float | None:
    """The run's accuracy on the target in ``setting`` (a pooled one: the mean over its settings)."""
    try:
        return sum(run.score(target, s).accuracy for s in SYMBOLS_MEAN.get(setting, (setting,))) / len(
            SYMBOLS_MEAN.get(setting, (setting,)))
    except KeyError:
        return None


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


def collect(index: list[dict[str, str]], mode: str = "instruction") -> tuple[dict[str, Any], dict[str, Any]]:
    """From the finished runs of ``index`` (:func:`read_index`) of a plan in ``mode``: per
    target, what each condition trained on and, per view of the mode (:attr:`Mode.views`:
    a protocol in instruction mode, a setting or the pooled symbol settings in symbol mode),
    each model's accuracy and balanced accuracy and the paired differences of
    :data:`CONTRASTS` (one per control run); and, for :func:`summarise`, those differences
    (pp) by view, metric, target and contrast. Runs that did not finish are left out."""
    views = MODES[mode].views
    targets: dict[str, Any] = {}
    diffs: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = {
        v: {"accuracy": {}, "balanced_accuracy": {}} for v, _, _ in views}
    for target in dict.fromkeys(r["target"] for r in index):
        rows = [r for r in index if r["target"] == target]
        entry: dict[str, Any] = {"conditions": {r["condition"]: condition_info(Path(r["run_dir"]))
                                                for r in rows if r["protocol"] == "four_shot" and r["condition"] != "base"}}
        for protocol in MODES[mode].protocols:
            runs = {r["condition"]: read_run(r["eval"]) for r in rows
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
                    blocks[view].setdefault("base", {"accuracy": round(d.acc_a, 4), "balanced_accuracy": _r4(d.bal_a)})
                    blocks[view][cond] = {"accuracy": round(d.acc_b, 4), "balanced_accuracy": _r4(d.bal_b),
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
    (:func:`keep_history`), symbol mode's under :attr:`Mode.result_key`; each mode's run keeps
    what the other mode wrote."""
    old = dict(old or {})
    kept = {m.result_key: old.pop(m.result_key) for m in MODES.values() if m.result_key and m.result_key in old}
    key = MODES[mode].result_key
    if key:
        return {**old, **kept, key: new}
    return {**keep_history(old, new, label), **kept}
