"""Symbol-tuning prompts (Wei et al. 2023): labels remapped to arbitrary symbols.

Per query example of a tuning task: no instruction; each label replaced by a symbol
drawn from the ``tuning`` pool (:mod:`taskmix.symbols`); 2 to 10 exemplars per class,
as many as fit ``max_length``; a random input/label format
(:mod:`taskmix.prompts.formats`); the target is the query's symbol with a leading space.
A share of prompts can instead be instruction-tuning prompts: the task instruction
first, natural label words.

Every choice for a query comes from ``rng_for(seed, task, uid)``, so a prompt depends
only on the config and the task data, never on the order tasks are processed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import TaskmixError
from ..evaluation.suites import suite_tasks
from ..prompts.builder import input_key
from ..prompts.formats import answer_continuation, choose_format, get_format, join_prompt
from ..records import Example, Task, TrainingExample
from ..seeding import derive_seed, rng_for
from ..symbols import sample_symbols
from .config import MixtureConfig

# Refused besides the suite's own tasks: the symbol-eval datasets of the paper (exact
# names, and name prefixes ending in "_").
FALLBACK_EVAL_TASKS = ("subj", "ade", "tweeteval/emotion", "tweeteval/hate", "tweeteval/stance_")


def evaluation_tasks() -> tuple[str, ...]:
    """Task names (or ``..._`` prefixes) of the ``symbol-eval`` suite, which tuning must not use."""
    return tuple(getattr(t, "name", t) for t in suite_tasks("symbol-eval")) + FALLBACK_EVAL_TASKS


def is_evaluation_task(name: str, eval_tasks: Sequence[str] | None = None) -> bool:
    eval_tasks = evaluation_tasks() if eval_tasks is None else eval_tasks
    return any(name == e or (e.endswith("_") and name.startswith(e)) for e in eval_tasks)


def check_no_evaluation_tasks(config: MixtureConfig) -> None:
    """Refuse a mixture that names a task of the ``symbol-eval`` suite."""
    for name in config.all_tasks:
        if is_evaluation_task(name):
            raise TaskmixError(
                f"task {name!r} is in the symbol-eval suite and cannot be used for symbol tuning"
            )


class LengthMeter:
    """Counts tokens with a tokenizer, or estimates them as characters / chars_per_token."""

    def __init__(self, tokenizer: object | None, chars_per_token: float):
        self.tokenizer = tokenizer
        self.chars_per_token = chars_per_token

    def __call__(self, texts: Sequence[str]) -> list[int]:
        if self.tokenizer is None:
            return [int(-(-len(t) // self.chars_per_token)) for t in texts]
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


@dataclass(frozen=True)
class TaskPlan:
    """A tuning task ready for prompting: its examples grouped by label."""

    task: Task
    examples: tuple[Example, ...]
    by_label: tuple[tuple[int, ...], ...]  # label -> indices into examples
    input_keys: tuple[tuple[str, ...], ...] = ()  # per example: its normalised input text


def plan_task(task: Task, split: str) -> TaskPlan:
    """Check that ``task`` can be symbol-tuned and group its ``split`` by label."""
    if not task.is_classification:
        raise TaskmixError(f"task {task.name!r} is not a classification task; symbol tuning needs labels")
    if not task.has_split(split):
        raise TaskmixError(f"task {task.name!r} has no {split!r} split (has: {', '.join(task.split_names)})")
    examples = tuple(e for e in task.split(split) if e.label is not None)
    if not examples:
        raise TaskmixError(f"task {task.name!r}: the {split!r} split has no labelled examples")
    by_label: list[list[int]] = [[] for _ in task.label_space or ()]
    for i, e in enumerate(examples):
        if not 0 <= e.label < len(by_label):
            raise TaskmixError(f"task {task.name!r}: example {e.uid} has label {e.label} outside the label space")
        by_label[e.label].append(i)

    keys = tuple(input_key(e) for e in examples)
    return TaskPlan(task, examples, tuple(tuple(ix) for ix in by_label), keys)


def _format(rng: random.Random, names: Sequence[str]):  # -> PromptFormat
    if names:
        return get_format(names[rng.randrange(len(names))])
    return choose_format(rng)


def make_prompt(
    plan: TaskPlan, query_index: int, config: MixtureConfig, measure: LengthMeter
) -> TrainingExample | None:
    """The training prompt for one query, or ``None`` if even the minimum does not fit."""
    task = plan.task
    query = plan.examples[query_index]
    rng = rng_for(config.seed, "symbol-mixture", task.name, query.uid)
    labels_natural = tuple(task.label_space or ())
    instruction_kind = rng.random() < config.instruction_share
    fmt = _format(rng, config.formats)
    if instruction_kind:
        shown = labels_natural
        instruction = task.instruction
    else:
        shown = sample_symbols("tuning", len(labels_natural), rng, exclude=labels_natural,
                               kind=config.symbol_kind or None)
        instruction = ""
    k = rng.randint(config.min_exemplars_per_class, config.max_exemplars_per_class)
    # never the query itself, nor another example with the same input text
    keys = plan.input_keys or tuple(input_key(e) for e in plan.examples)
    query_key = keys[query_index]
    draws: list[list[int]] = []
    for indices in plan.by_label:
        pool = [i for i in indices if i != query_index and keys[i] != query_key]
        draws.append(rng.sample(pool, min(k, len(pool))))
    if not any(draws):
        return None
    order_seed = derive_seed(config.seed, "symbol-mixture-order", task.name, query.uid)

    query_text = fmt.render_query(query.fields)
    target = answer_continuation(shown[query.label])
    rendered = {i: fmt.render_example(plan.examples[i].fields, shown[plan.examples[i].label])
                for d in draws for i in d}
    lengths = dict(zip(rendered, measure(list(rendered.values()))))
    sep = measure([fmt.example_sep])[0]
    fixed = sum(measure([query_text, target] + ([instruction] if instruction else [])))
    fixed += sep if instruction else 0

    for per_class in range(k, config.min_exemplars_per_class - 1, -1):
        chosen = [i for d in draws for i in d[:per_class]]
        estimate = fixed + sum(lengths[i] + sep for i in chosen)
        if estimate > config.max_length:
            continue
        random.Random(order_seed).shuffle(chosen)
        text = join_prompt(fmt, instruction, [rendered[i] for i in chosen], query_text)
        if measure([text + target])[0] > config.max_length:
            continue
        return TrainingExample(
            prompt=text,
            target=target,
            task=task.name,
            uid=f"{task.name}:{query.uid}",
            kind="instruction" if instruction_kind else "symbol",
            format_name=fmt.name,
            n_exemplars=len(chosen),
        )
    return None


GIVE_UP_AFTER = 200


@dataclass
class TaskStats:
    """Counts of one task's prompts (mutable while streaming)."""

    written: int = 0
    skipped_too_long: int = 0
    symbol: int = 0
    instruction: int = 0


def task_prompts(plan: TaskPlan, config: MixtureConfig, measure: LengthMeter, stats: TaskStats) -> Iterator[TrainingExample]:
    """Stream up to ``per_task_cap`` prompts of one task, queries in seeded order."""
    order = list(range(len(plan.examples)))
    rng_for(config.seed, "symbol-mixture-queries", plan.task.name).shuffle(order)
    for q in order:
        if stats.written >= config.per_task_cap:
            break
        prompt = make_prompt(plan, q, config, measure)
        if prompt is None:
            stats.skipped_too_long += 1
            if stats.written == 0 and stats.skipped_too_long >= GIVE_UP_AFTER:
                break  # the first GIVE_UP_AFTER queries all failed: the setting is impossible
            continue
        stats.written += 1
        if prompt.kind == "symbol":
            stats.symbol += 1
        else:
            stats.instruction += 1
        yield prompt
    if stats.written == 0:
        raise TaskmixError(
            f"task {plan.task.name!r}: max_length {config.max_length} is too short for "
            f"{config.min_exemplars_per_class} exemplar(s) per class; raise max_length"
        )


def mixture_prompts(
    config: MixtureConfig,
    load: Callable[[str], Task],
    measure: LengthMeter,
    stats: dict[str, TaskStats],
) -> Iterator[TrainingExample]:
    """Every prompt of the mixture, task by task (in config order), streamed."""
    check_no_evaluation_tasks(config)
    for name in config.all_tasks:
        plan = plan_task(load(name), config.split)
        stats[name] = TaskStats()
        yield from task_prompts(plan, config, measure, stats[name])
