"""The in-context-learning evaluation stage: tasks x settings x seeds -> prompts -> scores.

:func:`run_eval` plans the run (:mod:`.plan`: tasks, settings, examples, the model's
token budget), checks the run folder, loads the model, makes each (task, setting, seed)'s
prompts with the composer (:mod:`taskmix.prompts.builder`), scores them (:mod:`.scoring`:
rank classification or exact-match generation), summarises them with intervals that
treat queries sharing a demonstration set as one cluster (:mod:`.summary`) and writes the
run (:mod:`.results`).

The evaluation streams: the tasks are loaded first (their examples are needed for the
exemplars), then one (task, setting) at a time, seed after seed, its prompts are built,
scored and their predictions appended to ``predictions.jsonl`` on disk; only per-prompt
outcomes (a few bytes each) stay in memory for the averages. Memory therefore does not
grow with the number of prompts x their length, which is what makes an evaluation large.
Rerunning the same evaluation into the same folder recomputes from the engine's on-disk
cache, so an interrupted run resumes cheaply. Under ``accelerate launch``/``torchrun``
with several processes the prompt chunks are shared out and gathered
(:mod:`.distributed`); the main process writes the same run as one process would.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..config import to_dict
from ..errors import TaskmixError
from ..models import LanguageModel
from ..models.precision import with_concrete_dtype
from ..progress import progress_bar
from ..records import Score, SkippedQuery, Task
from ..versions import EVAL_PACKAGES, package_versions
from .config import EvalConfig
from .distributed import barrier, init_world, my_prompt_count, score_stream
from .preflight import check_plan
from .plan import (
    check_model_spec, check_out_dir, context_budget, eval_examples, iter_scored_prompts, load_eval_model, plan_tasks,
    token_counter,
)
from .results import PREDICTIONS_FILE, EvalRun, Prediction, PredictionWriter, StoredPredictions, write_run
from .scoring import CHUNK_PROMPTS, score_prompts
from .summary import CellOutcomes, average_cells, summarize_cell


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


def run_eval(
    config: EvalConfig,
    model: LanguageModel | None = None,
    loader: Callable[[str], Task] | None = None,
    write: bool = True,
) -> EvalRun:
    """Evaluate ``config`` and (unless ``write=False``) write the run folder.

    ``model`` (any :class:`~taskmix.models.interface.LanguageModel`) and ``loader``
    (task spec -> Task) may be injected, e.g. in tests; by default the engine's
    ``load_model`` and the catalogue / user-file loaders are used.
    """
    t0 = time.perf_counter()
    world = init_world()
    if model is None:
        check_model_spec(config.model)  # before the dtype: a missing model is the only line printed
    config = with_concrete_dtype(config, "cpu")  # auto -> bf16 or fp32 before the run is keyed
    if write:
        check_out_dir(config)
    planned = plan_tasks(config, loader)
    seed_configs = [replace(config, seed=seed) for seed in config.run_seeds]
    work = [(pt, [eval_examples(pt.task, c) for c in seed_configs]) for pt in planned]
    check_plan(planned, config)  # before the model loads: something applies, prompts can be made
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
        bar = stack.enter_context(progress_bar(total, config.progress and world.is_main, "eval", "prompt", leave=False))
        for pt, per_seed in work:
            for setting in pt.settings:
                cell = CellOutcomes(pt.task.name, setting)  # a few bytes per prompt stay in memory
                cell_skipped = len(skipped)
                for seed_config, examples in zip(seed_configs, per_seed):
                    prompts = timer.timed(iter_scored_prompts(pt, examples, setting, seed_config, count_tokens,
                                                              budget, skipped))
                    n_before = len(cell)
                    for preds in score_stream(prompts, CHUNK_PROMPTS,
                                              lambda c: score_prompts(model, c, config.length_normalized, config.max_new_tokens, bar), world, first_chunk):
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
        config={**to_dict(config), "effective_block_size": config.effective_block_size},
        model=config.model,
        fingerprint=str(getattr(model, "fingerprint", "unknown")),
        scores=tuple(scores),
        averages=averages,
        predictions=predictions,
        versions=package_versions(EVAL_PACKAGES),
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
