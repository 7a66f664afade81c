"""The quick in-context check during training (``TrainConfig.eval_every``).

Every ``eval_every`` optimizer steps (and before the first and after the last) the model
being trained is evaluated in context on a few tasks by the evaluation stage itself
(:func:`taskmix.evaluation.runner.run_eval` with the model injected, nothing written):
``eval_queries`` queries per task, 4 exemplars per class in demonstration blocks of
``eval_block_size`` queries, the ``eval_settings`` that apply, prompts fitted to
``eval_max_length`` tokens. The prompts depend only on the config and the tasks, so every
check scores the same prompts and the numbers are comparable step to step; the first
check warns (once, on stderr) about queries left out because they cannot fit.

The model is not reloaded: the engine (:class:`taskmix.models.hf.HFLanguageModel`) wraps
the very module being trained (for LoRA its base model, which holds the adapters),
without a result cache, scores in inference mode and fp32, and the module's train/eval
mode is put back afterwards. Nothing random is drawn from the training's streams, so a
run with checks trains exactly as one without. Under several processes every process
takes part (the evaluation shares its chunks out) and the main one logs.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from ..catalogue import load_task_spec
from ..errors import TaskmixError
from ..evaluation.config import EvalConfig
from ..evaluation.runner import run_eval
from ..models.hf import HFLanguageModel
from ..prompts.builder import setting_applies
from ..records import Task
from .config import TrainConfig

#: Exemplars per class in the check's prompts (the evaluation's default ``k``).
CHECK_K = 4


class ICLCheck:
    """The check of one run; tasks are loaded when it is made (an unknown task fails
    before anything is written)."""

    def __init__(self, config: TrainConfig, loader: Callable[[str], Task] | None = None):
        self.every = config.eval_every
        self.seconds = 0.0  # time spent in the checks made during training, together
        self.last_seconds = 0.0  # time of the last of them
        self.warned = False
        self.eval_config = EvalConfig(
            model="(model being trained)", tasks=tuple(config.eval_tasks), settings=tuple(config.eval_settings),
            k=CHECK_K, max_examples=config.eval_queries, seed=config.seed, block_size=config.eval_block_size,
            max_context_tokens=config.eval_max_length, bootstrap_samples=100, plots=False, progress=False,
        )
        load = loader or load_task_spec
        self.tasks: dict[str, Task] = {spec: load(spec) for spec in config.eval_tasks}
        if not any(setting_applies(t, s) for t in self.tasks.values() for s in config.eval_settings):
            raise TaskmixError(f"eval_settings {', '.join(config.eval_settings)} apply to none of the eval_tasks "
                               f"({', '.join(config.eval_tasks)})")

    def due(self, step: int, total: int) -> bool:
        """Whether optimizer step ``step`` (1-based) of ``total`` is followed by a check."""
        return step % self.every == 0 or step == total

    def baseline(self, model: Any, tokenizer: Any) -> dict[str, float]:
        """The check of the model before training (not counted in :attr:`seconds`, which the
        loop subtracts from its clock: this one runs before the clock starts)."""
        return self._run(model, tokenizer)

    def __call__(self, model: Any, tokenizer: Any) -> dict[str, float]:
        """In-context accuracy per setting (the mean over the tasks it applies to)."""
        t0 = time.perf_counter()
        try:
            return self._run(model, tokenizer)
        finally:
            self.last_seconds = time.perf_counter() - t0
            self.seconds += self.last_seconds

    def _run(self, model: Any, tokenizer: Any) -> dict[str, float]:

        was_training = model.training
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        try:
            lm = HFLanguageModel(base, tokenizer, fingerprint="taskmix-train-check", cache=None, show_progress=False)
            run = run_eval(self.eval_config, model=lm, loader=self.tasks.__getitem__, write=False)
        finally:
            model.train(was_training)
        if not self.warned:
            self.warned = True
            for note in run.notes:
                if "do not fit" in note:
                    print(f"taskmix: warning: in-context check: {note}", file=sys.stderr)
        return {s.setting: round(s.accuracy, 4) for s in run.averages}
