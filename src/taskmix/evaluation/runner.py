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

import time
from array import array
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..catalogue import load_task_spec
from ..config import to_dict
from ..errors import TaskmixError
from ..models import LanguageModel, load_model
from ..models.prepare import KNOWN_MODELS, resolve_model
from ..progress import progress_bar
from ..prompts.builder import SETTING_NAMES, PromptOptions, iter_prompts, setting_applies
from ..records import Example, GenerateRequest, LoglikelihoodRequest, Prompt, Score, Task
from ..seeding import derive_seed, rng_for
from ..versions import EVAL_PACKAGES, package_versions
from .config import EvalConfig
from .distributed import barrier, init_world, my_prompt_count, score_stream
from .results import (
    AVERAGE, PREDICTIONS_FILE, RESULTS_FILE, EvalRun, Prediction, PredictionWriter, StoredPredictions, read_results,
    write_run,
)
from .scoring import candidate_scores, exact_match, normalize_answer, rank_classify
from .stats import stratified_bootstrap_mean, wilson_interval
from .suites import SuiteTask, suite_tasks

CHUNK_PROMPTS = 64  # prompts per engine call (progress granularity; the engine batches inside)


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
            shared_demos=config.shared_demos,
        )
        planned.append(PlannedTask(task, options, settings, skipped))
    return planned


def eval_examples(task: Task, config: EvalConfig) -> tuple[Example, ...]:
    """The evaluated examples: a seeded sample (in original order) of the eval split."""
    split = config.eval_split if task.has_split(config.eval_split) else "validation"
    if not task.has_split(split):
        raise TaskmixError(f"task {task.name!r} has no {config.eval_split!r} or 'validation' split to evaluate")
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


def iter_prompt_set(
    pt: PlannedTask,
    examples: Sequence[Example],
    setting: str,
    config: EvalConfig,
    count_tokens: Callable[[str], int] | None,
    budget: int | None,
) -> Iterator[Prompt]:
    """One (task, setting)'s prompts, exactly as the evaluation scores them, made lazily."""
    free = not pt.task.is_classification
    limit = budget - config.max_new_tokens if (free and budget) else budget
    options = replace(pt.options, max_tokens=limit if count_tokens else None)
    return iter_prompts(pt.task, tuple(examples), setting, options, config.seed, count_tokens)


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
        n_exemplars=len(p.exemplar_uids), dropped_exemplars=p.dropped_exemplars, **kw,
    )


def summarize(task: str, setting: str, correct: Sequence[int], dropped: Sequence[int], metric: str) -> Score:
    """Accuracy with a Wilson 95% interval, plus dropped-exemplar counts; ``correct`` and
    ``dropped`` hold, per prompt, 1/0 and the number of exemplars dropped."""
    n = len(correct)
    hits = int(sum(correct))
    lo, hi = wilson_interval(hits, n)
    extra = (
        ("metric", metric),
        ("interval", "wilson"),
        ("dropped_exemplars", str(sum(dropped))),
        ("prompts_with_dropped", str(sum(1 for d in dropped if d))),
    )
    return Score(task, setting, n, hits, hits / n if n else 0.0, lo, hi, extra)


def average_scores(
    scores: Sequence[Score], outcomes: dict[tuple[str, str], Sequence[int]], config: EvalConfig
) -> tuple[Score, ...]:
    """Per setting: unweighted mean over datasets with a stratified bootstrap interval;
    ``outcomes[(task, setting)]`` holds 1/0 per evaluated prompt."""
    out = []
    settings = list(dict.fromkeys(s.setting for s in scores))
    for setting in settings:
        tasks = [s.task for s in scores if s.setting == setting]
        groups = [outcomes[(t, setting)] for t in tasks]
        mean, lo, hi = stratified_bootstrap_mean(
            groups, seed=derive_seed(config.seed, "bootstrap", setting) % 2**32, n_boot=config.bootstrap_samples
        )
        n = sum(len(g) for g in groups)
        correct = int(sum(sum(g) for g in groups))
        extra = (("datasets", str(len(tasks))), ("interval", f"stratified bootstrap ({config.bootstrap_samples})"))
        out.append(Score(AVERAGE, setting, n, correct, mean, lo, hi, extra))
    return tuple(out)


def run_eval(
    config: EvalConfig,
    model: Any = None,
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
    if write:
        check_out_dir(config)
    if model is None:
        check_model_spec(config.model)
    planned = plan_tasks(config, loader)
    work = [(pt, eval_examples(pt.task, config)) for pt in planned]
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

    sizes = [len(examples) for pt, examples in work for _ in pt.settings]  # one prompt per example
    total = my_prompt_count(sizes, CHUNK_PROMPTS, world)
    scores: list[Score] = []
    outcomes: dict[tuple[str, str], Sequence[int]] = {}
    kept: list[Prediction] = []  # only when there is no run folder to stream into
    timer = _Stopwatch()
    first_chunk = 0  # chunks are numbered over the whole run, as in one process
    with ExitStack() as stack:
        writer = stack.enter_context(PredictionWriter(config.out)) if write and world.is_main else None
        bar = stack.enter_context(progress_bar(total, config.progress and world.is_main, "eval", "prompt", leave=False))
        for pt, examples in work:
            for setting in pt.settings:
                prompts = timer.timed(iter_prompt_set(pt, examples, setting, config, count_tokens, budget))
                correct = bytearray()  # 1/0 per prompt: one byte each is all that stays in memory
                dropped = array("I")  # exemplars dropped per prompt
                for preds in score_stream(prompts, CHUNK_PROMPTS, lambda c: score_prompts(model, c, config, bar),
                                          world, first_chunk):
                    correct.extend(p.correct for p in preds)
                    dropped.extend(p.dropped_exemplars for p in preds)
                    if writer is not None:
                        writer.add(preds)
                    elif not write:
                        kept.extend(preds)
                first_chunk += -(-len(correct) // CHUNK_PROMPTS)
                metric = "accuracy" if pt.task.is_classification else "exact_match"
                scores.append(summarize(pt.task.name, setting, correct, dropped, metric))
                outcomes[(pt.task.name, setting)] = correct
    t_infer = time.perf_counter()
    if writer is not None:
        predictions: Sequence[Prediction] = writer.stored()
    elif write:  # another process of the world: the main one writes them
        predictions = StoredPredictions(Path(config.out) / PREDICTIONS_FILE, sum(sizes))
    else:
        predictions = tuple(kept)
    averages = average_scores(scores, outcomes, config)
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
