"""The INSTA tuning experiment as ``taskmix run`` configs: the plan, its modes and its checks.

For each target (a classification task outside the pool it is selected from) and each
condition of :func:`conditions` -- ``insta`` (INSTA, instruction-only encoder), ``aligned``
(INSTA, an aligned encoder), ``random0`` .. (seeded draws of k tasks) and ``all`` (the whole
pool, sampled evenly) -- one experiment instruction-tunes the model on the tasks its select
section chooses: the same pool (the symbol-tuning datasets without the target), the same
build section (``k * per_task_cap`` prompts: see ``SelectSection.method``), the same steps.
Each tuned model is evaluated on the target 4-shot (in its run) and zero-shot (an eval-only
config on its folder), and the base model both ways, all with the default demonstration
blocks and the same seeds, so every pair of runs compares query by query.

With ``shared_pool`` every target is selected from one pool, the symbol-tuning datasets
without any target (as the paper holds all of P3's evaluation tasks out of its pool). The
controls then do not depend on the target: each random draw and ``all`` trains once and is
evaluated on every target (as is the base model), so the plan trains ``draws + 1`` controls
plus the INSTA conditions of each target instead of every condition for every target.

Given the tasks each INSTA condition will select (:func:`planned_selections`, the select
stage's own call), a condition whose k tasks are, as a set, those of a condition planned
before it (CB and RTE both select MNLI, SNLI and QNLI) trains nothing: its runs evaluate
that condition's model, and the index points to the run that trained it.

The plan's ``mode`` (:data:`MODES`) chooses what the tuned models learn: ``instruction``
(the above) or ``symbol``, select-then-symbol-tune: the same conditions symbol-tune on the
selected tasks (symbol-tuning mixtures with a fifth of instruction prompts, as
``configs/symbol_tuning_gemma3.yaml``) and each model is scored on a ``symbol-eval`` target
4-shot in the symbol settings and flipped. :func:`write_configs` writes the plan's configs
and an index of them (:func:`read_index`), which :mod:`taskmix.pipeline.insta_results`
reads back to collect and summarise the finished runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ..catalogue import load_task
from ..errors import ConfigError, TaskmixError
from ..evaluation.suites import suite_tasks
from ..fileio import atomic_write_json, atomic_write_text
from ..mixture.symbol import is_evaluation_task
from ..training.rundir import MODEL_DIR
from .experiment import DEFAULT_TASKS, SelectSection, load_experiment
from .run import run_selection

DEFAULT_TARGETS = ("cb", "rte", "subj", "tweeteval/hate", "tweeteval/emotion")
#: Symbol mode: two symbol-eval targets with full test sets (RAFT's 50 examples are too few).
SYMBOL_TARGETS = ("subj", "tweeteval/hate")
SETTING = "instr_labels"
SYMBOL_SETTINGS = ("instr_symbols", "noinstr_symbols", "flipped")
PROTOCOLS = ("four_shot", "zero_shot")
INDEX_FILE = "index.json"
#: The keys of every row of the index (:func:`write_configs`).
INDEX_KEYS = frozenset({"target", "condition", "protocol", "config", "run_dir", "eval"})
#: The name part of the runs every target shares (``shared_pool``).
SHARED = "shared"


@dataclass(frozen=True)
class Mode:
    """What the plan's tuned models learn and how the target is scored.

    targets: the default targets.
    instruction_share: the build section's share of instruction prompts (1.0: instruction
        tuning, natural labels; 0.2: symbol tuning with a fifth of instruction prompts).
    settings: the evaluation settings.
    protocols: ``four_shot`` and/or ``zero_shot`` (symbols need exemplars: 4-shot only).
    views: the collected blocks, ``(name, protocol, setting)``; a setting of
        :data:`~taskmix.evaluation.compare.SYMBOLS_MEAN` is the pooled row of ``compare_runs``.
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
    shared_pool: select every target from one pool (the symbol-tuning datasets without any
        target) and train the controls (random draws, ``all``) once for all targets; false:
        each target's pool is the datasets without that target, every condition per target.
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
    shared_pool: bool = False
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
    ``base``; ``protocol`` ``four_shot`` or ``zero_shot``; ``targets`` the targets it is
    evaluated on (one index row each: several for a run of a ``shared_pool`` plan);
    ``trained_in`` the run folder that trained its model when that is another run's (the
    same tasks selected), empty otherwise."""

    targets: tuple[str, ...]
    condition: str
    protocol: str
    name: str
    config: dict[str, Any]
    trained_in: str = ""

    @property
    def trained_dir(self) -> Path:
        """The run folder that trained (or will train) its model: what it tuned on is there."""
        return Path(self.trained_in) if self.trained_in else self.run_dir

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


def is_control(condition: str) -> bool:
    """The conditions whose selection does not read the target: the random draws and ``all``."""
    return condition == "all" or condition.startswith("random")


def shared_pool_of(plan: InstaPlan) -> tuple[str, ...]:
    """The one pool of a ``shared_pool`` plan: the symbol-tuning datasets without any target."""
    return tuple(t for t in DEFAULT_TASKS if t not in plan.targets)


def slug(target: str) -> str:
    return target.replace("/", "-")


def _select(plan: InstaPlan, target: str, condition: str) -> dict[str, Any]:
    """The select section; ``target`` empty: a control shared by every target, keyed by an
    instruction naming them (a random draw's order depends on its target or instruction)."""
    if target:
        sel: dict[str, Any] = {"target": target, "k": plan.k}
    else:
        sel = {"instruction": f"controls shared by {', '.join(plan.targets)}", "k": plan.k}
    if plan.shared_pool:
        sel["candidates"] = list(shared_pool_of(plan))
    if condition == "aligned":
        sel["encoder"] = plan.aligned_encoder
    elif condition.startswith("random"):
        sel.update(method="random", draw=int(condition[len("random"):]))
    elif condition == "all":
        sel["method"] = "all"
    return sel


def _eval(plan: InstaPlan, targets: Sequence[str], shots: int) -> dict[str, Any]:
    return {"tasks": list(targets), "settings": list(mode_of(plan).settings), "k": shots,
            "max_examples": plan.max_examples, "seeds": list(plan.seeds), "dtype": plan.dtype,
            "progress": False, "plots": False}


def _eval_only(plan: InstaPlan, targets: tuple[str, ...], condition: str, protocol: str, name: str, model: str,
               trained_in: str = "") -> PlannedRun:
    """An eval-only run: ``model`` (the base, or a tuned run's model folder) on ``targets``."""
    shots = plan.shots if protocol == "four_shot" else 0
    return PlannedRun(targets, condition, protocol, name, {
        "name": name, "model": model, "seed": plan.seed, "out": str(Path(plan.runs) / name),
        "eval": _eval(plan, targets, shots), "report": False}, trained_in)


def _base_runs(plan: InstaPlan, targets: tuple[str, ...], stem: str) -> list[PlannedRun]:
    """The base model on ``targets``, each protocol of the mode."""
    return [_eval_only(plan, targets, "base", protocol, f"{stem}-base" + ("" if protocol == "four_shot" else "-zeroshot"),
                       plan.model) for protocol in mode_of(plan).protocols]


def _tuned_runs(plan: InstaPlan, targets: tuple[str, ...], stem: str, condition: str,
                reuse: str = "") -> list[PlannedRun]:
    """One condition's training (scored 4-shot on ``targets`` in its run) and, in a mode with
    a zero-shot protocol, an eval-only run of its model. ``stem``: the target's slug, or
    :data:`SHARED` for a control every target shares. ``reuse``: the name of an earlier
    run of the plan that trained on the same tasks; then the 4-shot run only evaluates its model."""
    root, mode = Path(plan.runs), mode_of(plan)
    name = f"{stem}-{condition}"
    model_dir = str(root / (reuse or name) / "train" / "run" / MODEL_DIR)
    trained_in = str(root / reuse) if reuse else ""
    if reuse:
        runs = [_eval_only(plan, targets, condition, "four_shot", name, model_dir, trained_in)]
    else:
        runs = [PlannedRun(targets, condition, "four_shot", name, {
            "name": name, "model": plan.model, "seed": plan.seed, "out": str(root / name),
            "select": _select(plan, "" if stem == mode.prefix + SHARED else targets[0], condition),
            "build": {"per_task_cap": plan.per_task_cap, "max_length": plan.max_length,
                      "instruction_share": mode.instruction_share,
                      # the dense loss must not be able to count labels (MixtureConfig.class_counts)
                      "class_counts": "independent" if plan.label_loss == "context" else "equal"},
            "train": {"lora": plan.lora, "lr": plan.lr, "max_steps": plan.steps, "batch_size": plan.batch_size,
                      "warmup_steps": max(1, plan.steps // 12), "dtype": plan.dtype, "max_length": plan.max_length,
                      "save_every": plan.steps, "label_loss": plan.label_loss, "progress": False},
            "eval": _eval(plan, targets, plan.shots), "eval_models": ["tuned"], "report": False,
        })]
    if "zero_shot" in mode.protocols:
        runs.append(_eval_only(plan, targets, condition, "zero_shot", f"{name}-zeroshot", model_dir, trained_in))
    return runs


Selections = Mapping[tuple[str, str], frozenset[str]]


def planned_selections(plan: InstaPlan, with_aligned: bool = False) -> dict[tuple[str, str], frozenset[str]]:
    """``(target, condition) -> tasks`` the select stage will choose for each target's INSTA
    condition (and the aligned one with ``with_aligned``: its encoder must exist), by the
    stage's own call (:func:`~taskmix.pipeline.run.run_selection`)."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for cond in conditions(plan):
        if is_control(cond) or (cond == "aligned" and not with_aligned):
            continue
        for target in plan.targets:
            fields = _select(plan, target, cond)
            sel = SelectSection(**{**fields, "candidates": tuple(fields.get("candidates", ()))})
            out[(target, cond)] = frozenset(c.name for c in run_selection(sel, plan.seed).tasks)
    return out


def plan_runs(plan: InstaPlan, selections: Selections | None = None) -> list[PlannedRun]:
    """Every config of the plan, in the order to run them: the base model, then condition by
    condition (INSTA, the controls, the aligned encoder last) and target by target, a
    zero-shot run after the run that trains its model. A ``shared_pool`` plan has one base
    run per protocol and one run per control, each evaluated on every target. With
    ``selections`` (:func:`planned_selections`), a condition selecting the tasks of one
    planned before it evaluates that one's model instead of training its own."""
    prefix = mode_of(plan).prefix
    shared = prefix + SHARED
    runs = _base_runs(plan, plan.targets, shared) if plan.shared_pool else [
        r for t in plan.targets for r in _base_runs(plan, (t,), prefix + slug(t))]
    trained: dict[frozenset[str], str] = {}  # tasks -> the run that trains on them
    order = sorted(conditions(plan), key=lambda c: (c == "aligned", c != "insta"))
    for cond in order:
        if plan.shared_pool and is_control(cond):
            runs += _tuned_runs(plan, plan.targets, shared, cond)
            continue
        for t in plan.targets:
            tasks = (selections or {}).get((t, cond))
            reuse = trained.get(tasks, "") if tasks else ""
            runs += _tuned_runs(plan, (t,), prefix + slug(t), cond, reuse)
            if tasks and not reuse:
                trained[tasks] = f"{prefix}{slug(t)}-{cond}"
    return runs


def write_configs(runs: Sequence[PlannedRun], folder: Path, note: str = "") -> list[Path]:
    """One YAML per run in ``folder`` (``<name>.yaml``) and ``index.json`` listing them in order,
    one row per (run, target): a run several targets share has a row for each."""
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
        reuse = f" (the model trained in {r.trained_dir.name}: the same tasks)" if r.trained_in else ""
        head = (f"# {', '.join(r.targets)} / {r.condition} / {r.protocol}{reuse}: generated"
                f"{' by ' + note if note else ''}; do not edit\n")
        atomic_write_text(path, head + yaml.safe_dump(r.config, sort_keys=False))
        paths.append(path)
    atomic_write_json(folder / INDEX_FILE, [
        {"target": t, "condition": r.condition, "protocol": r.protocol, "config": str(p),
         "run_dir": str(r.trained_dir), "eval": str(r.eval_folder)} for r, p in zip(runs, paths) for t in r.targets])
    return paths


def check_targets(targets: Sequence[str]) -> None:
    """Every target is a catalogue classification task (a one-line error otherwise)."""
    for name in targets:
        if not load_task(name).is_classification:
            raise TaskmixError(f"target {name!r} is not a classification task")


def check_plan(plan: InstaPlan) -> None:
    """:func:`check_targets`; in symbol mode every target is a ``symbol-eval`` task; and no
    target's pool holds a task held out for evaluation (``symbol-eval`` and the others that
    :func:`~taskmix.mixture.symbol.is_evaluation_task` refuses: a target is evaluated, never
    tuned on); and the training budget is one pass over a k-task condition's prompts
    (``steps * batch_size == k * per_task_cap``), the equal budget every condition shares."""
    check_targets(plan.targets)
    if plan.steps * plan.batch_size != plan.k * plan.per_task_cap:
        raise TaskmixError(f"steps x batch size ({plan.steps} x {plan.batch_size} = {plan.steps * plan.batch_size} prompts) "
                           f"must equal k x per-task cap ({plan.k} x {plan.per_task_cap} = {plan.k * plan.per_task_cap}): "
                           "one pass over every condition's prompts keeps the budgets equal")
    suite = {t.name for t in suite_tasks("symbol-eval")}
    if plan.mode == "symbol":
        outside = [t for t in plan.targets if t not in suite]
        if outside:
            raise TaskmixError(f"symbol mode: target {outside[0]!r} is not a symbol-eval task "
                               f"(symbol-eval: {', '.join(sorted(suite))})")
    for target in plan.targets:
        pool = shared_pool_of(plan) if plan.shared_pool else ()
        held = [t for t in SelectSection(target=target, k=plan.k, candidates=pool).pool if is_evaluation_task(t)]
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
    """The rows :func:`write_configs` listed in ``folder``'s index, in order (one-line errors
    for a missing or unreadable index)."""
    path = folder / INDEX_FILE
    if not path.is_file():
        raise TaskmixError(f"{path}: no plan index (write the configs first)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise TaskmixError(f"{path}: unreadable plan index ({e}); delete it and write the configs again") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and INDEX_KEYS <= r.keys() for r in rows):
        raise TaskmixError(f"{path}: not a plan index (a list of rows with {', '.join(sorted(INDEX_KEYS))}); "
                           "delete it and write the configs again")
    return rows


def index_configs(index: Sequence[Mapping[str, str]]) -> list[str]:
    """The index's configs once each, in order (a run several targets share has a row per target)."""
    return list(dict.fromkeys(row["config"] for row in index))
