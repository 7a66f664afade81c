"""The experiment file: one YAML config from selection to report.

Example (``configs/symbol_tuning.yaml``)::

    name: symbol-tuning
    model: smollm2-135m
    seed: 0
    select: {target: subj, k: 5}
    build: {per_task_cap: 1000, max_length: 512}
    train: {lora: true, max_steps: 200, lr: 3.0e-4}
    eval: {suite: symbol-eval, settings: [all], max_examples: 100, seeds: [0, 1, 2]}

Every section is optional except ``eval`` (an experiment proves something). Each
section's keys are the fields of that stage's own config dataclass
(:class:`~taskmix.mixture.config.MixtureConfig`,
:class:`~taskmix.training.config.TrainConfig`,
:class:`~taskmix.evaluation.config.EvalConfig`), validated by them; unknown keys are
errors naming the key. The top-level ``seed`` is the default seed of every section.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import KEY_NEUTRAL, from_dict, key_dict, load_mapping, show
from ..errors import ConfigError
from ..evaluation.config import EvalConfig
from ..mixture.config import DEFAULT_TASKS, MixtureConfig
from ..selection.controls import equal_budget_cap
from ..selection.tuning_pool import METHODS
from ..training.config import TrainConfig

EVAL_MODELS = ("base", "tuned")


@dataclass(frozen=True)
class SelectSection:
    """Selection of the tasks to tune on: INSTA, or one of its controls.

    target: catalogue task whose instruction(s) are the query (e.g. ``subj``); built like a
        candidate's (its own instruction, plus its promptsource templates with ``with_templates``).
    instruction: a free-text instruction to use as the query instead of ``target``.
    k: how many tasks to keep; with ``all``, the budget: every method's mixture holds
        ``k * build.per_task_cap`` prompts. Larger than the pool is an error.
    candidates: the tuning pool (catalogue classification tasks with training data);
        empty means the symbol-tuning datasets of :class:`MixtureConfig` without the target
        (a target is never tuned on). Listing the target here is an error: remove it.
    with_templates: add each candidate's promptsource templates to its instructions (as
        INSTA embeds P3 templates).
    aggregate: how pairwise cosines combine into a task score: ``mean`` or ``max``.
    encoder: a sentence-transformers folder or id; empty means all-MiniLM-L6-v2.
    exclude_same_source: skip candidates built from the target's source dataset.
    method: ``insta`` (the k candidates whose instructions are closest to the query's),
        ``random`` (a seeded draw of k candidates: the experiment's ``seed`` and ``draw``; a
        drawn task that yields no prompt within ``build.max_length`` is replaced by the next
        task of the same draw, and ``select/selection.json`` says which and why) or ``all``
        (every candidate, each capped at ``ceil(k * build.per_task_cap / n)`` prompts so the
        mixture holds at least the ``k * per_task_cap`` prompts of the others; a task that
        yields no prompt is left out and recorded). Every method trains the same steps.
    draw: ``random`` only: which draw of the seed (0, 1, 2, ... are independent draws; the
        seed of building and training stays the experiment's ``seed``).
    """

    target: str = ""
    instruction: str = ""
    k: int = 5
    candidates: tuple[str, ...] = ()
    with_templates: bool = True
    aggregate: str = "mean"
    encoder: str = ""
    exclude_same_source: bool = True
    method: str = field(default="insta", metadata={KEY_NEUTRAL: "insta"})  # added later (key_dict)
    draw: int = field(default=0, metadata={KEY_NEUTRAL: 0})

    def __post_init__(self) -> None:
        if bool(self.target.strip()) == bool(self.instruction.strip()):
            raise ConfigError("select: give exactly one of target and instruction")
        if self.k < 1:
            raise ConfigError(f"select: k must be at least 1, got {self.k}")
        if self.aggregate not in ("mean", "max"):
            raise ConfigError(f"select: aggregate must be mean or max, got {self.aggregate!r}")
        if self.method not in METHODS:
            raise ConfigError(f"select: method must be one of {', '.join(METHODS)}, got {show(self.method)}")
        if self.draw < 0 or (self.draw and self.method != "random"):
            raise ConfigError(f"select: draw applies to method random and is 0 or more, got {self.draw} "
                              f"with method {self.method}")
        if len(set(self.candidates)) != len(self.candidates):
            raise ConfigError("select: candidates must not repeat a task")
        if self.target and self.target in self.candidates:
            raise ConfigError(f"select: target {show(self.target)} is in candidates, the pool it is selected from; "
                              "remove it from candidates (a target is never tuned on)")
        if self.k > len(self.pool):
            raise ConfigError(f"select: k {self.k} is larger than the {len(self.pool)} tasks of the pool"
                              + ("" if self.candidates else " (the symbol-tuning datasets without the target)"))

    @property
    def pool(self) -> tuple[str, ...]:
        """The candidates: as given, or the symbol-tuning datasets without the target."""
        return tuple(self.candidates) or tuple(t for t in DEFAULT_TASKS if t != self.target)

    @property
    def removed_from_pool(self) -> tuple[str, ...]:
        """The target, when it is one of the default candidates (and so left out of them)."""
        return (self.target,) if not self.candidates and self.target in DEFAULT_TASKS else ()

    def identity(self) -> dict[str, Any]:
        """The section as the select stage's key sees it: fields added later are left out at
        the value earlier runs had, so their run folders keep their keys."""
        return key_dict(self)


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: select -> build -> train -> eval -> report.

    name: the experiment's name (the report's title): a plain name, without ``/`` or a
        leading dot, as it names the default run folder ``runs/<name>``.
    model: the base model: an alias (``smollm2-135m``, ``gemma3-270m``), a folder or a hub id.
    out: the run folder; empty means ``runs/<name>``.
    seed: the default seed of every section that does not set its own.
    select: task selection, INSTA or a control (optional); its tasks replace ``build.tasks``.
    build: the symbol-tuning mixture (optional; needed by ``train``): MixtureConfig fields.
    train: fine-tuning (optional): TrainConfig fields; its ``max_length`` may not be shorter
        than ``build``'s (prompts would lose their start, exemplars first).
    eval: the evaluation: EvalConfig fields except ``model`` and ``out``.
    eval_models: which models to evaluate: ``base`` and/or ``tuned``; empty means
        ``base``, and ``tuned`` too when there is a ``train`` section.
    report: write report.md and report.html into the run folder.
    """

    name: str
    eval: dict[str, Any]
    model: str = "smollm2-135m"
    out: str = ""
    seed: int = 0
    select: SelectSection | None = None
    build: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    eval_models: tuple[str, ...] = ()
    report: bool = True
    source_path: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("experiment: name must not be empty")
        if Path(self.name).name != self.name or "\\" in self.name or self.name.startswith("."):
            raise ConfigError(f"experiment: name must be a plain name (it names runs/<name>), got {show(self.name)}; "
                              "set out to choose the run folder")
        for m in self.eval_models:
            if m not in EVAL_MODELS:
                raise ConfigError(f"experiment: eval_models entries must be base or tuned, got {show(m)}")
        if not self.eval_models:
            object.__setattr__(self, "eval_models", EVAL_MODELS if self.train is not None else ("base",))
        if self.train is not None and self.build is None:
            raise ConfigError("experiment: train needs a build section (the mixture to train on)")
        if "tuned" in self.eval_models and self.train is None:
            raise ConfigError("experiment: eval_models lists 'tuned' but there is no train section to tune a model")
        if self.select is not None and self.build is None:
            raise ConfigError("experiment: select needs a build section (selected tasks feed the mixture)")
        for key in ("model", "out"):
            if key in self.eval:
                raise ConfigError(f"experiment: eval.{key} is set by the experiment; remove it")
        # validate each section now, so a bad key fails before any work starts
        mixture = self.mixture_config(tasks=("sst2",) if self.select else None)
        train = self.train_config()
        self.eval_config(self.model, "unused")
        if mixture is not None and train is not None and train.max_length < mixture.max_length:
            raise ConfigError(
                f"experiment: train.max_length {train.max_length} is shorter than build.max_length "
                f"{mixture.max_length}: prompts would lose their start (their exemplars); make it at least "
                f"{mixture.max_length}"
            )

    @property
    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.name

    def mixture_config(self, tasks: tuple[str, ...] | None = None) -> Any:
        if self.build is None:
            return None
        data = {"seed": self.seed, "tokenizer": self.model, **self.build}
        if tasks is not None:
            data["tasks"] = list(tasks)
        config = from_dict(MixtureConfig, data, where="experiment.build")
        if tasks is not None and self.select is not None and self.select.method == "all":
            # the whole pool at the budget of k tasks (see SelectSection.method)
            config = replace(config, per_task_cap=equal_budget_cap(config.per_task_cap, self.select.k, len(tasks)))
        return config

    def train_config(self) -> Any:
        if self.train is None:
            return None
        return from_dict(TrainConfig, {"seed": self.seed, **self.train}, where="experiment.train")

    def eval_config(self, model: str, out: str) -> Any:
        return from_dict(EvalConfig, {"seed": self.seed, **self.eval, "model": model, "out": out}, where="experiment.eval")


def with_dtype(cfg: ExperimentConfig, dtype: str) -> ExperimentConfig:
    """``cfg`` with ``dtype`` (any spelling :func:`~taskmix.config.canonical_dtype` accepts)
    as the dtype of its training and of its evaluations: e.g. ``auto`` for a bf16 experiment
    on a machine without native bf16. The stages then have other keys than the file's run:
    the runner keeps that run's outputs aside (``<stage>.previous-<key>``)."""
    return replace(
        cfg,
        train=None if cfg.train is None else {**cfg.train, "dtype": dtype},
        eval={**cfg.eval, "dtype": dtype},
    )


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML file (one-line errors naming the key)."""
    data = load_mapping(path, "experiment sections")
    for section in ("eval", "build", "train"):
        if section in data and data[section] is not None and not isinstance(data[section], dict):
            raise ConfigError(f"{path}: {section} must be a mapping")
    cfg = from_dict(ExperimentConfig, data, where=str(path))
    return replace(cfg, source_path=str(path))
