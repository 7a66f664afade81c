"""The in-context-learning evaluation stage: tasks x settings -> prompts -> scores.

:func:`run_eval` loads the tasks (suite and/or names/files), checks the run folder, loads
the model, builds prompts with :mod:`taskmix.prompts.builder`, scores them with
rank classification (classification) or exact-match generation (free-form), computes
accuracies with intervals (:mod:`.stats`) and writes the run (:mod:`.results`).

The evaluation streams: the tasks are loaded first (their examples are needed for the
exemplars), then one (task, setting) at a time its prompts are built, scored and their
predictions appended to ``predictions.jsonl`` on disk; only per-prompt outcomes (a few
bytes each) stay in memory for the averages. Memory therefore does not grow with the
number of prompts x their length, which is what makes an evaluation large.
Rerunning the same evaluation into the same folder recomputes from the engine's on-disk
cache, so an interrupted run resumes cheaply. Under ``accelerate launch``/``torchrun``
with several processes the prompt chunks are shared out and gathered
(:mod:`.distributed`); the main process writes the same run as one process would.
"""

from __future__ import annotations

import inspect
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..config import to_dict
from ..errors import TaskmixError
from ..records import Example, GenerateRequest, LoglikelihoodRequest, Prompt, Score, SkippedQuery, Task
from ..seeding import derive_seed, rng_for
from ..prompts.builder import SETTING_NAMES, PromptOptions, iter_prompt_outcomes, iter_prompts, setting_applies
from .config import EvalConfig
from .distributed import barrier, init_world, my_prompt_count, score_stream
from .results import (
    AVERAGE, PREDICTIONS_FILE, RESULTS_FILE, EvalRun, Prediction, PredictionWriter, StoredPredictions, read_results,
    write_run,
)
from .scoring import candidate_scores, exact_match, normalize_answer, rank_classify
from .summary import CellOutcomes, average_cells, summarize_cell
from .suites import SuiteTask, load_task_spec, suite_tasks

CHUNK_PROMPTS = 64  # prompts per engine call (progress granularity; the engine batches inside)
DEFAULT_CONTEXT = 2048


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


def load_eval_model(config: EvalConfig) -> Any:
    """The engine's model for ``config.model`` (passing dtype and batch size where accepted)."""
    from ..models import load_model  # the engine; imports torch lazily

    params = inspect.signature(load_model).parameters
    kwargs: dict[str, Any] = {}
    if "dtype" in params:
        kwargs["dtype"] = config.dtype
    if "batch_size" in params:
        kwargs["batch_size"] = config.batch_size
    if "show_progress" in params:  # our own bar counts prompts
        kwargs["show_progress"] = False
    return load_model(config.model, **kwargs)


def check_model_spec(spec: str) -> None:
    """Fail fast (before loading tasks) on a model path that does not exist."""
    from ..models.prepare import KNOWN_MODELS, resolve_model

    if spec not in KNOWN_MODELS:
        resolve_model(spec, prepare=False)


def token_counter(model: Any) -> Callable[[str], int] | None:
    """A ``count_tokens(text)`` for the model: its own method, or its tokenizer."""
    fn = getattr(model, "count_tokens", None)
    if callable(fn):
        return fn
    tok = getattr(model, "tokenizer", None)
    if tok is not None:
        return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
    return None


def context_budget(model: Any, config: EvalConfig) -> int | None:
    if config.max_context_tokens is not None:
        return config.max_context_tokens
    for name in ("max_length", "context_length", "max_context_tokens"):
        value = getattr(model, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_CONTEXT


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


class _Stopwatch:
    """Adds up the time spent inside the iterables it wraps (prompt building, here)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def timed(self, items: Iterable[Any]) -> Iterator[Any]:
        it = iter(items)
        while True:
            t0 = time.perf_counter()
            item = next(it, _END)
            self.seconds += time.perf_counter() - t0
            if item is _END:
                return
            yield item


_END = object()


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="prompt", leave=False)


def score_prompts(
    model: Any, prompts: Sequence[Prompt], config: EvalConfig, bar: Any = None
) -> list[Prediction]:
    """Run the model on prompts of one task and setting and judge each one."""
    out: list[Prediction] = []
    for start in range(0, len(prompts), CHUNK_PROMPTS):
        chunk = prompts[start : start + CHUNK_PROMPTS]
        if chunk[0].candidates:
            requests = [LoglikelihoodRequest(p.text, c) for p in chunk for c in p.candidates]
            results = model.loglikelihood(requests)
            if len(results) != len(requests):
                raise RuntimeError("the model returned a wrong number of results")
            pos = 0
            for p in chunk:
                rs = results[pos : pos + len(p.candidates)]
                pos += len(p.candidates)
                pred = rank_classify(rs, config.length_normalized)
                out.append(_prediction(p, correct=pred == p.answer, prediction=pred,
                                       scores=candidate_scores(rs, config.length_normalized)))
        else:
            gens = model.generate([GenerateRequest(p.text, config.max_new_tokens, ("\n",)) for p in chunk])
            for p, g in zip(chunk, gens):
                out.append(_prediction(p, correct=exact_match(g, p.target or ""), generated=normalize_answer(g)))
        if bar is not None:
            bar.update(len(chunk))
    return out


def _prediction(p: Prompt, correct: bool, **kw: Any) -> Prediction:
    return Prediction(
        task=p.task, setting=p.setting, example_uid=p.example_uid, correct=bool(correct),
        answer=p.answer, candidates=p.candidates, target=p.target, format_name=p.format_name,
        n_exemplars=len(p.exemplar_uids), dropped_exemplars=p.dropped_exemplars, seed=p.seed, demo_set=p.demo_set,
        **kw,
    )


def _versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    from .. import __version__

    out = [("taskmix", __version__)]
    for dist in ("torch", "transformers", "numpy"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            pass
    return tuple(out)


def run_eval(
    config: EvalConfig,
    model: Any = None,
    loader: Callable[[str], Task] | None = None,
    write: bool = True,
) -> EvalRun:
    """Evaluate ``config`` and (unless ``write=False``) write the run folder.

    ``model`` (anything with ``loglikelihood``/``generate``/``fingerprint``) and ``loader``
    (task spec -> Task) may be injected, e.g. in tests; by default the engine's
    ``load_model`` and the catalogue / user-file loaders are used.
    """
    t0 = time.perf_counter()
    world = init_world()
    if write:
        check_out_dir(config)
    if model is None:
        check_model_spec(config.model)
    planned = plan_tasks(config, loader)
    seed_configs = [replace(config, seed=seed) for seed in config.run_seeds]
    work = [(pt, [eval_examples(pt.task, c) for c in seed_configs]) for pt in planned]
    if not any(pt.settings for pt in planned):
        raise TaskmixError("eval: no setting applies to any task, nothing to evaluate "
                           f"({'; '.join(f'{pt.task.name}: {s}' for pt in planned for s in pt.skipped)})")
    t_tasks = time.perf_counter()
    if model is None:
        model = load_eval_model(config)
    t_model = time.perf_counter()
    count_tokens = token_counter(model)
    budget = context_budget(model, config)
    notes = []
    for pt in planned:
        for s in pt.skipped:
            notes.append(f"{pt.task.name}: setting {s} does not apply (skipped)")

    sizes = [len(ex) for pt, per_seed in work for _ in pt.settings for ex in per_seed]  # one prompt per example
    total = my_prompt_count(sizes, CHUNK_PROMPTS, world)
    scores: list[Score] = []
    cells: list[CellOutcomes] = []
    kept: list[Prediction] = []  # only when there is no run folder to stream into
    skipped: list[SkippedQuery] = []
    n_predictions = 0
    timer = _Stopwatch()
    first_chunk = 0  # chunks are numbered over the whole run, as in one process
    with ExitStack() as stack:
        writer = stack.enter_context(PredictionWriter(config.out)) if write and world.is_main else None
        bar = stack.enter_context(_progress(total, config.progress and world.is_main, "eval"))
        for pt, per_seed in work:
            for setting in pt.settings:
                cell = CellOutcomes(pt.task.name, setting)  # a few bytes per prompt stay in memory
                cell_skipped = len(skipped)
                for seed_config, examples in zip(seed_configs, per_seed):
                    prompts = timer.timed(iter_scored_prompts(pt, examples, setting, seed_config, count_tokens,
                                                              budget, skipped))
                    n_before = len(cell)
                    for preds in score_stream(prompts, CHUNK_PROMPTS,
                                              lambda c: score_prompts(model, c, config, bar), world, first_chunk):
                        cell.add(preds)
                        if writer is not None:
                            writer.add(preds)
                        elif not write:
                            kept.extend(preds)
                    first_chunk += -(-(len(cell) - n_before) // CHUNK_PROMPTS)
                cell_skipped = len(skipped) - cell_skipped
                if cell_skipped:
                    bar.update(cell_skipped)
                    notes.append(f"{pt.task.name} / {setting}: {cell_skipped} queries do not fit the context of "
                                 f"{budget} tokens even with one exemplar per class (left out)")
                if not len(cell):
                    continue
                n_predictions += len(cell)
                metric = "accuracy" if pt.task.is_classification else "exact_match"
                score = summarize_cell(cell, seed=config.seed, n_boot=config.bootstrap_samples, metric=metric)
                if cell_skipped:
                    score = replace(score, extra=score.extra + (("skipped_queries", str(cell_skipped)),))
                scores.append(score)
                cells.append(cell)
    t_infer = time.perf_counter()
    if not scores:
        raise TaskmixError(f"eval: no query fits the context of {budget} tokens even with one exemplar per class; "
                           f"nothing was evaluated (raise --max-context-tokens or lower --k)")
    if writer is not None:
        predictions: Sequence[Prediction] = writer.stored()
    elif write:  # another process of the world: the main one writes them
        predictions = StoredPredictions(Path(config.out) / PREDICTIONS_FILE, n_predictions)
    else:
        predictions = tuple(kept)
    averages = average_cells(cells, seed=config.seed, n_boot=config.bootstrap_samples)
    dropped = sum(int(dict(s.extra)["dropped_exemplars"]) for s in scores)
    if dropped:
        notes.append(f"{dropped} exemplars were dropped to fit the context of {budget} tokens (see per-dataset notes)")
    run = EvalRun(
        run_key=config.run_key(),
        config=to_dict(config),
        model=config.model,
        fingerprint=str(getattr(model, "fingerprint", "unknown")),
        scores=tuple(scores),
        averages=averages,
        predictions=predictions,
        versions=_versions(),
        timing=(
            ("load_tasks", t_tasks - t0),
            ("load_model", t_model - t_tasks),
            ("build_prompts", timer.seconds),
            ("inference", t_infer - t_model - timer.seconds),
            ("total", time.perf_counter() - t0),
        ),
        notes=tuple(notes),
    )
    if write and world.is_main:
        write_run(config.out, run, plots=config.plots)
    barrier(world)  # the run folder exists when any process returns
    return run
