"""The configuration of an in-context-learning evaluation (filled by ``taskmix eval`` or YAML)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..config import to_dict
from ..errors import ConfigError
from ..prompts.builder import SETTING_NAMES
from ..prompts.formats import get_format
from .suites import suite_tasks

DTYPES = ("float32", "bfloat16")
#: Fields that do not change results: a rerun differing only in these is the same run.
OUTPUT_ONLY_FIELDS = ("out", "overwrite", "batch_size", "plots", "progress")


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how.

    model: a model alias (``smollm2-135m``), a local model folder or a hub id.
    suite: a named suite (``symbol-eval``, ``algorithmic``); ``None`` for only ``tasks``.
    tasks: extra task names or user files (``subj``, ``path/to/file.jsonl``), run after the suite's.
    settings: setting names (``instr_labels``, ``noinstr_labels``, ``instr_symbols``,
        ``noinstr_symbols``, ``flipped``) or ``("all",)``: every setting that applies to a
        task (suites may restrict it, e.g. ``algorithmic`` runs only ``noinstr_labels``).
        Settings that do not apply to a task (flipped on a 3-class task) are skipped with a note.
    k: exemplars per class (classification) or in total (free-form); 0 for zero-shot.
    max_examples: evaluated examples per task (a seeded sample of the test split); ``None`` for all.
    seed: the seed of every random choice (examples, exemplars, formats, symbols, bootstrap).
    out: the run folder (results.json, results.md, predictions.jsonl, plots).
    shared_demos: one demonstration block per (task, setting, seed) instead of fresh
        exemplars per query (cheaper; more variance between seeds).
    dtype: model weights dtype.
    batch_size: requests per forward pass (engine option; does not change results).
    format: a prompt format name or ``random`` (drawn per prompt).
    length_normalized: rank candidates by mean instead of summed token log-probability.
    max_context_tokens: context budget for prompt + answer; ``None`` uses the model's
        maximum length when the model reports one.
    max_new_tokens: generation length for free-form tasks.
    text_field, label_field: field names for user task files (several text fields joined
        by "+", e.g. "premise+hypothesis").
    eval_split: the split evaluated examples come from (``validation`` if it is missing).
    overwrite: replace a different run's results in ``out``.
    bootstrap_samples: replicates for the intervals of averages.
    plots: write PNG plots.
    progress: show a progress bar.
    """

    model: str
    suite: str | None = None
    tasks: tuple[str, ...] = ()
    settings: tuple[str, ...] = ("all",)
    k: int = 4
    max_examples: int | None = 100
    seed: int = 0
    out: str = ""
    shared_demos: bool = False
    dtype: str = "float32"
    batch_size: int = 8
    format: str = "random"
    length_normalized: bool = False
    max_context_tokens: int | None = None
    max_new_tokens: int = 48
    text_field: str | None = None
    label_field: str | None = None
    eval_split: str = "test"
    overwrite: bool = False
    bootstrap_samples: int = 2000
    plots: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        if not str(self.model).strip():
            raise ConfigError("eval: model must be given")
        if self.suite is None and not self.tasks:
            raise ConfigError("eval: give a suite or tasks")
        if self.suite is not None:
            suite_tasks(self.suite)
        if not self.settings:
            raise ConfigError("eval: settings must not be empty")
        for s in self.settings:
            if s != "all" and s not in SETTING_NAMES:
                raise ConfigError(f"eval: unknown setting {s!r} (known: {', '.join(SETTING_NAMES)}, or all)")
        if "all" in self.settings and len(self.settings) > 1:
            raise ConfigError("eval: 'all' cannot be combined with other settings")
        if self.k < 0:
            raise ConfigError(f"eval: k must be 0 or more, got {self.k}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ConfigError(f"eval: max_examples must be at least 1, got {self.max_examples}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"eval: dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.batch_size < 1:
            raise ConfigError(f"eval: batch_size must be at least 1, got {self.batch_size}")
        if self.format != "random":
            get_format(self.format)
        if self.max_context_tokens is not None and self.max_context_tokens < 8:
            raise ConfigError(f"eval: max_context_tokens too small ({self.max_context_tokens})")
        if self.max_new_tokens < 1:
            raise ConfigError(f"eval: max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.bootstrap_samples < 100:
            raise ConfigError(f"eval: bootstrap_samples must be at least 100, got {self.bootstrap_samples}")

    def run_key(self) -> str:
        """A hash of everything that changes results (not output options)."""
        data = {k: v for k, v in to_dict(self).items() if k not in OUTPUT_ONLY_FIELDS}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]
