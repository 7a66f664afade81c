"""Planning an evaluation: which tasks, settings, examples and prompt options, the model's
token budget, and the prompt sets of each (task, setting, seed).

:func:`plan_tasks` loads the tasks of a config (a suite and/or task names and files) and
decides each one's settings and :class:`~taskmix.prompts.builder.PromptOptions`;
:func:`eval_examples` samples the evaluated queries; :func:`iter_scored_prompts` makes one
(task, setting, seed)'s prompts lazily, leaving out (and recording) queries that cannot
fit the model's context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..catalogue import load_task_spec
from ..errors import TaskmixError
from ..models import LanguageModel, load_model
from ..models.prepare import KNOWN_MODELS, resolve_model
from ..prompts.builder import SETTING_NAMES, PromptOptions, iter_prompt_outcomes, iter_prompts, setting_applies
from ..records import Example, Prompt, SkippedQuery, Task
from ..seeding import rng_for
from .config import EvalConfig
from .results import RESULTS_FILE, read_results
from .suites import SuiteTask, suite_tasks


@dataclass(frozen=True)
class PlannedTask:
    """A loaded task with the prompt options and settings it is evaluated with."""

    task: Task
    options: PromptOptions
    settings: tuple[str, ...]
    skipped: tuple[str, ...]


def plan_tasks(config: EvalConfig, loader: Callable[[str], Task] | None = None) -> list[PlannedTask]:
    """Load every task of the config and decide its settings and prompt options."""
    entries: list[SuiteTask] = list(suite_tasks(config.suite)) if config.suite else []
    entries += [SuiteTask(t) for t in config.tasks]
    load = loader or (lambda spec: load_task_spec(spec, config.text_field, config.label_field))
    seen: set[str] = set()
    planned = []
    for entry in entries:
        task = load(entry.name)
        if task.name in seen:
            continue
        seen.add(task.name)
        if config.settings == ("all",):
            wanted = entry.settings or SETTING_NAMES
        else:
            wanted = config.settings
        settings = tuple(s for s in wanted if setting_applies(task, s))
        skipped = tuple(s for s in wanted if s not in settings)
        options = PromptOptions(
            k=entry.k if entry.k is not None else config.k,
            format=entry.format or config.format,
            block_size=config.effective_block_size,
        )
        planned.append(PlannedTask(task, options, settings, skipped))
    return planned


def eval_examples(task: Task, config: EvalConfig) -> tuple[Example, ...]:
    """The evaluated examples: a seeded sample (in original order) of the eval split.

    The eval split is ``config.eval_split``; a task without it is evaluated on the split its
    metadata names as ``eval_split``, else on ``validation``. RAFT tasks name ``train``, the
    split exemplars come from, so they are evaluated leave-one-out: the prompt builder never
    shows a query, or an input equal to it, among that query's exemplars.
    """
    split = config.eval_split if task.has_split(config.eval_split) else (task.meta("eval_split") or "validation")
    if not task.has_split(split):
        raise TaskmixError(f"task {task.name!r} has no {config.eval_split!r} or {split!r} split to evaluate")
    examples = task.split(split)
    if not examples:
        raise TaskmixError(f"task {task.name!r}: its {split!r} split is empty")
    n = config.max_examples
    if n is None or n >= len(examples):
        return examples
    idx = sorted(rng_for(config.seed, task.name, "eval-examples").sample(range(len(examples)), n))
    return tuple(examples[i] for i in idx)


def check_out_dir(config: EvalConfig) -> None:
    """An ``out`` holding a different run's results is an error unless ``overwrite``."""
    if not config.out:
        raise TaskmixError("eval: an output folder (--out) is needed")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise TaskmixError(f"{out}: exists and is not a folder")
    if (out / RESULTS_FILE).is_file() and not config.overwrite:
        try:
            key = read_results(out).get("run_key")
        except TaskmixError:
            key = None
        if key != config.run_key():
            raise TaskmixError(f"{out} holds the results of a different run; choose another --out or pass --overwrite")


def load_eval_model(config: EvalConfig) -> LanguageModel:
    """The engine's model for ``config.model`` (no engine bar: the evaluation's own counts prompts)."""
    return load_model(config.model, dtype=config.dtype, batch_size=config.batch_size, show_progress=False)


def check_model_spec(spec: str) -> None:
    """Fail fast (before loading tasks) on a model path that does not exist."""
    if spec not in KNOWN_MODELS:
        resolve_model(spec, prepare=False)


def token_counter(model: LanguageModel) -> Callable[[str], int]:
    """The model's ``count_tokens(text)`` (:class:`~taskmix.models.interface.LanguageModel`)."""
    return model.count_tokens


def context_budget(model: LanguageModel, config: EvalConfig) -> int:
    """Tokens a prompt may have: ``max_context_tokens`` if set, else the model's context length."""
    if config.max_context_tokens is not None:
        return config.max_context_tokens
    return model.context_length


def _options(pt: PlannedTask, config: EvalConfig, count_tokens: Callable[[str], int] | None,
             budget: int | None) -> PromptOptions:
    free = not pt.task.is_classification
    limit = budget - config.max_new_tokens if (free and budget) else budget
    return replace(pt.options, max_tokens=limit if count_tokens else None)


def iter_prompt_set(
    pt: PlannedTask,
    examples: Sequence[Example],
    setting: str,
    config: EvalConfig,
    count_tokens: Callable[[str], int] | None,
    budget: int | None,
) -> Iterator[Prompt]:
    """One (task, setting, seed)'s prompts, exactly as the evaluation scores them, made
    lazily (``config.seed``); a query that cannot fit is an error here (exports)."""
    options = _options(pt, config, count_tokens, budget)
    return iter_prompts(pt.task, tuple(examples), setting, options, config.seed, count_tokens)


def iter_scored_prompts(
    pt: PlannedTask,
    examples: Sequence[Example],
    setting: str,
    config: EvalConfig,
    count_tokens: Callable[[str], int] | None,
    budget: int | None,
    skipped: list[SkippedQuery],
) -> Iterator[Prompt]:
    """The prompts the evaluation scores for one (task, setting, seed): a query whose
    prompt cannot fit the budget is left out and appended to ``skipped``."""
    options = _options(pt, config, count_tokens, budget)
    for out in iter_prompt_outcomes(pt.task, tuple(examples), setting, options, config.seed, count_tokens):
        if isinstance(out, SkippedQuery):
            skipped.append(out)
        else:
            yield out


def build_prompt_sets(
    work: Sequence[tuple[PlannedTask, tuple[Example, ...]]],
    config: EvalConfig,
    count_tokens: Callable[[str], int] | None,
    budget: int | None,
) -> list[tuple[PlannedTask, str, tuple[Prompt, ...]]]:
    """Every (task, setting)'s prompts at once (for exports; the evaluation streams them)."""
    return [(pt, setting, tuple(iter_prompt_set(pt, examples, setting, config, count_tokens, budget)))
            for pt, examples in work for setting in pt.settings]
