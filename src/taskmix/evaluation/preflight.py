"""What can be checked about an evaluation before its model is loaded.

Loading a model takes seconds for a small one and minutes for a large one, so
:func:`prepare_eval` checks first, in one line each, everything that does not need it:
the output folder, the model spec and its stated context length, every task (loaded
here once and handed to the evaluation), that at least one (task, setting) pair is left
to evaluate, and the first prompt of every (task, setting) (exemplars per class, labels,
splits), built without a token budget. Only what needs the tokenizer (does a prompt fit
the context?) is left for later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ..catalogue import load_task_spec
from ..errors import ConfigError, TaskmixError
from ..fileio import temp_siblings
from ..models.loading import stated_context_length
from ..models.precision import with_concrete_dtype
from ..records import Task
from .config import EvalConfig
from .plan import PlannedTask, check_model_spec, check_out_dir, eval_examples, iter_prompt_set, plan_tasks
from .plots import PLOT_FILES
from .results import MARKDOWN_FILE, PREDICTIONS_FILE, RESULTS_FILE, read_results

#: The files an evaluation writes into its run folder.
RUN_FILES = (RESULTS_FILE, MARKDOWN_FILE, PREDICTIONS_FILE) + PLOT_FILES


def check_out_folder(out: str | Path) -> None:
    """An existing, non-empty ``out`` must be an evaluation run folder: files of another
    kind (a training run, a mixture, an experiment) are never mixed with results."""
    out = Path(out)
    if not out.is_dir():
        return
    ours = set(RUN_FILES) | {p.name for name in RUN_FILES for p in temp_siblings(out / name)}
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign:
        raise TaskmixError(
            f"{out}: holds files that are not an evaluation run's (e.g. {foreign[0]}); choose another --out"
        )


def check_context_length(config: EvalConfig) -> None:
    """``max_context_tokens`` may not exceed the context length the model states."""
    if config.max_context_tokens is None:
        return
    limit = stated_context_length(config.model)
    if limit is not None and config.max_context_tokens > limit:
        raise ConfigError(
            f"eval: max_context_tokens {config.max_context_tokens} exceeds the context length of "
            f"{config.model} ({limit} tokens)"
        )


def caching_loader(config: EvalConfig, loader: Callable[[str], Task] | None = None) -> Callable[[str], Task]:
    """A task loader that loads each spec once (the checks and the evaluation share it)."""
    base = loader or (lambda spec: load_task_spec(spec, config.text_field, config.label_field))
    loaded: dict[str, Task] = {}

    def load(spec: str) -> Task:
        if spec not in loaded:
            loaded[spec] = base(spec)
        return loaded[spec]

    return load


def check_plan(planned: Sequence[PlannedTask], config: EvalConfig) -> None:
    """Something is left to evaluate, and every (task, setting) of ``planned`` can make
    its first prompt (built without a token budget)."""
    if not any(pt.settings for pt in planned):
        skipped = "; ".join(f"{pt.task.name}: {', '.join(pt.skipped)}" for pt in planned if pt.skipped)
        raise TaskmixError(
            f"eval: nothing to evaluate: no setting applies to any task ({skipped}); flipped needs a task "
            f"with two classes, symbol settings a classification task"
        )
    for pt in planned:
        examples = eval_examples(pt.task, config)
        for setting in pt.settings:
            next(iter(iter_prompt_set(pt, examples[:1], setting, config, None, None)), None)


def prepare_eval(
    config: EvalConfig, loader: Callable[[str], Task] | None = None, check_model: bool = True
) -> Callable[[str], Task]:
    """Check ``config`` as far as possible without its model (see the module docstring)
    and return the loader that holds the tasks loaded for the checks: pass it to
    :func:`~taskmix.evaluation.runner.run_eval`. ``check_model=False`` skips the model
    (when it does not exist yet: the tuned model of an experiment)."""
    if check_model:
        check_model_spec(config.model)  # before the dtype: a missing model is the only line printed
    config = with_concrete_dtype(config, "cpu")  # auto -> bf16 or fp32: the output folder's key holds the one used
    if config.out:
        check_out_dir(config)
        check_out_folder(config.out)
    if check_model:
        check_context_length(config)
    load = caching_loader(config, loader)
    check_plan(plan_tasks(config, load), config)
    return load


def previous_run_key(out: str | Path) -> str | None:
    """The run key of the results already in ``out`` (``None`` if there are none)."""
    if not (Path(out) / RESULTS_FILE).is_file():
        return None
    try:
        return read_results(out).get("run_key")
    except TaskmixError:
        return None


def remove_stale_plots(out: str | Path) -> None:
    """Remove plots a previous, different run left in ``out`` (this run wrote none)."""
    for name in PLOT_FILES:
        (Path(out) / name).unlink(missing_ok=True)
