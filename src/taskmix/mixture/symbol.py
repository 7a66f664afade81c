"""Symbol-tuning prompts (Wei et al. 2023): labels remapped to arbitrary symbols.

Per query example of a tuning task: no instruction; each label replaced by a symbol
drawn from the ``tuning`` pool (:mod:`taskmix.symbols`); 2 to 10 exemplars per class,
as many as fit ``max_length``; a random input/label format
(:mod:`taskmix.prompts.formats`); the target is the query's symbol with a leading space.
A share of prompts can instead be instruction-tuning prompts: the task instruction
first, natural label words; and, on two-class tasks, a share of the rest can show the
natural label words swapped (``flipped``, no instruction; not in the paper). Exemplars
are drawn at random, or (``exemplar_choice: similar``, not in the paper) are each class's
nearest to the query (:mod:`taskmix.mixture.neighbours`).

Every choice for a query comes from ``rng_for(seed, task, uid)``, so a prompt depends
only on the config and the task data, never on the order tasks are processed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import TaskmixError
from ..evaluation.suites import suite_tasks
from ..prompts.compose import (
    DemoRecipe, DemoSet, DrawStreams, DropOneFromEveryClass, ExemplarPool, Fits, ShrinkEveryClass, TokenCounter, compose, draw_demo_set,
    exclusions,
)
from ..prompts.formats import FORMAT_NAMES, answer_continuation
from ..records import Example, Task, TrainingExample
from ..seeding import derive_seed, rng_for
from .config import MixtureConfig
from .neighbours import Encode, NearestExemplars

# Always refused besides the symbol-eval suite's tasks (exact names, and name prefixes
# ending in "_" or "/"): the paper's evaluation datasets, and every RAFT task (RAFT holds
# samples of two of them, ADE and TweetEval hate).
FALLBACK_EVAL_TASKS = ("subj", "ade", "tweeteval/hate", "tweeteval/stance_", "raft/")


def evaluation_tasks() -> tuple[str, ...]:
    """Task names (or ``..._`` prefixes) of the ``symbol-eval`` suite, which tuning must not use."""
    return tuple(getattr(t, "name", t) for t in suite_tasks("symbol-eval")) + FALLBACK_EVAL_TASKS


def is_evaluation_task(name: str, eval_tasks: Sequence[str] | None = None) -> bool:
    eval_tasks = evaluation_tasks() if eval_tasks is None else eval_tasks
    return any(name == e or (e.endswith(("_", "/")) and name.startswith(e)) for e in eval_tasks)


def check_no_evaluation_tasks(config: MixtureConfig) -> None:
    """Refuse a mixture that names a task of the ``symbol-eval`` suite."""
    for name in config.all_tasks:
        if is_evaluation_task(name):
            raise TaskmixError(
                f"task {name!r} is held out for evaluation (the symbol-eval suite, RAFT) and cannot be used for symbol tuning"
            )


def plan_task(task: Task, split: str) -> ExemplarPool:
    """Check that ``task`` can be symbol-tuned and group its ``split``'s labelled examples
    by class: the pool that gives both queries and exemplars."""
    if not task.is_classification:
        raise TaskmixError(f"task {task.name!r} is not a classification task; symbol tuning needs labels")
    if not task.has_split(split):
        raise TaskmixError(f"task {task.name!r} has no {split!r} split (has: {', '.join(task.split_names)})")
    pool = ExemplarPool(task, split)
    if not pool.examples:
        raise TaskmixError(f"task {task.name!r}: the {split!r} split has no labelled examples")
    return pool


#: Kinds of tuning prompt (``TrainingExample.kind``) and the labels each shows.
PROMPT_LABELS = {"symbol": "symbols", "instruction": "natural", "flipped": "flipped"}


def recipe_for(config: MixtureConfig, kind: str) -> DemoRecipe:
    """The demonstration recipe of a prompt of ``kind``: ``symbol`` (symbols, no
    instruction), ``instruction`` (the instruction first, natural labels) or ``flipped``
    (natural labels swapped, no instruction)."""
    return DemoRecipe(
        per_class=(config.min_exemplars_per_class, config.max_exemplars_per_class),
        independent_counts=config.class_counts == "independent",
        exact=False,
        labels=PROMPT_LABELS[kind],
        instruction=kind == "instruction",
        formats=config.formats or FORMAT_NAMES,
        symbol_pool="tuning",
        symbol_kind=config.symbol_kind or None,
    )


def length_check(counter: TokenCounter, max_length: int, demos: DemoSet, query: Example, target: str) -> Fits:
    """``fits(rendered, text)`` for a tuning prompt: a cheap estimate from the parts' token
    counts first (each exemplar counted once), then the whole ``text + target``."""
    fmt = demos.format
    sep = counter(fmt.example_sep)
    instruction = demos.instruction
    fixed = sum(counter.many([fmt.render_query(query.fields), target] + ([instruction] if instruction else [])))
    fixed += sep if instruction else 0
    lengths: dict[str, int] = {}

    def fits(rendered: Sequence[str], text: str) -> bool:
        new = [r for r in dict.fromkeys(rendered) if r not in lengths]
        lengths.update(zip(new, counter.many(new)))
        if fixed + sum(lengths[r] + sep for r in rendered) > max_length:
            return False
        return counter(text + target) <= max_length

    return fits


def make_prompt(pool: ExemplarPool, query_index: int, config: MixtureConfig, counter: TokenCounter,
                neighbours: NearestExemplars | None = None) -> TrainingExample | None:
    """The training prompt for one query, or ``None`` if even the minimum does not fit.
    ``neighbours`` (``exemplar_choice: similar``) chooses each class's exemplars."""
    task = pool.task
    query = pool.examples[query_index]
    rng = rng_for(config.seed, "symbol-mixture", task.name, query.uid)
    kind = "instruction" if rng.random() < config.instruction_share else "symbol"
    if kind == "symbol" and config.flipped_share and len(task.label_space or ()) == 2:
        # its own stream: the prompts that stay symbol prompts keep their bytes
        if rng_for(config.seed, "symbol-mixture-flipped", task.name, query.uid).random() < config.flipped_share:
            kind = "flipped"
    streams = DrawStreams(rng, rng, rng, derive_seed(config.seed, "symbol-mixture-order", task.name, query.uid))
    choose = neighbours.chooser(query_index) if neighbours is not None else None
    demos = draw_demo_set(pool, recipe_for(config, kind), streams, exclusions([query]), f"q:{query.uid}", choose)
    if demos.size == 0:
        return None
    target = answer_continuation(demos.shown[query.label])
    shrink = DropOneFromEveryClass if config.class_counts == "independent" else ShrinkEveryClass
    fit = shrink(length_check(counter, config.max_length, demos, query, target), config.min_exemplars_per_class)
    composed = compose(task, query, demos, fit)
    if composed is None:
        return None
    return TrainingExample(
        prompt=composed.text,
        target=target,
        task=task.name,
        uid=f"{task.name}:{query.uid}",
        kind=kind,
        format_name=composed.format_name,
        n_exemplars=len(composed.exemplar_uids),
        segments=composed.segments,
    )


#: A task none of whose first this many queries fits is given up (the setting is impossible).
GIVE_UP_AFTER = 1000


@dataclass
class TaskStats:
    """Counts of one task's prompts (mutable while streaming)."""

    written: int = 0
    skipped_too_long: int = 0
    symbol: int = 0
    instruction: int = 0
    flipped: int = 0


def task_prompts(pool: ExemplarPool, config: MixtureConfig, counter: TokenCounter,
                 stats: TaskStats, encode: Encode | None = None) -> Iterator[TrainingExample]:
    """Stream up to ``per_task_cap`` prompts of one task, queries in seeded order. A query
    whose prompt cannot fit is skipped and counted; a task that yields no prompt at all
    is a one-line error naming it. ``encode`` embeds texts for ``exemplar_choice: similar``
    (required there, unused otherwise)."""
    order = list(range(len(pool.examples)))
    rng_for(config.seed, "symbol-mixture-queries", pool.task.name).shuffle(order)
    neighbours = None
    if config.exemplar_choice == "similar":
        if encode is None:
            raise TaskmixError("exemplar_choice: similar needs a sentence encoder to embed the examples")
        neighbours = NearestExemplars(pool, order, config.similar_pool, config.seed, encode, config.similar_share)
    for q in order:
        if stats.written >= config.per_task_cap:
            break
        prompt = make_prompt(pool, q, config, counter, neighbours)
        if prompt is None:
            stats.skipped_too_long += 1
            if stats.written == 0 and stats.skipped_too_long >= GIVE_UP_AFTER:
                break  # the first GIVE_UP_AFTER queries all failed: the setting is impossible
            continue
        stats.written += 1
        setattr(stats, prompt.kind, getattr(stats, prompt.kind) + 1)
        yield prompt
    if stats.written == 0:
        raise TaskmixError(
            f"task {pool.task.name!r} yields no prompt: none of its {stats.skipped_too_long} queries tried fits "
            f"max_length {config.max_length} with {config.min_exemplars_per_class} exemplar(s) per class; "
            f"raise max_length or leave the task out"
        )


def mixture_prompts(
    config: MixtureConfig,
    load: Callable[[str], Task],
    counter: TokenCounter,
    stats: dict[str, TaskStats],
    encode: Encode | None = None,
) -> Iterator[TrainingExample]:
    """Every prompt of the mixture, task by task (in config order), streamed; ``encode``
    embeds texts for ``exemplar_choice: similar``."""
    check_no_evaluation_tasks(config)
    for name in config.all_tasks:
        pool = plan_task(load(name), config.split)
        stats[name] = TaskStats()
        yield from task_prompts(pool, config, counter, stats[name], encode)
