"""The configuration of an in-context-learning evaluation (filled by ``taskmix eval`` or YAML)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import is_file_spec
from ..config import canonical_dtype, show, to_dict
from ..errors import ConfigError
from ..prompts.builder import SETTING_NAMES
from ..prompts.formats import get_format
from .suites import suite_tasks

#: How ``run_key`` spells a dtype: as before both spellings were accepted, so that the
#: same evaluation keeps its key (and its run folder) across versions.
_KEY_DTYPE = {"fp32": "float32", "bf16": "bfloat16"}
#: Queries per demonstration set when ``block_size`` is not given: ``None``, one set for all the
#: queries of a (task, setting, seed). Chosen by ``benchmarks/eval_blocks.py`` (the largest G
#: whose seed-to-seed spread stays within 1.25x that of fresh exemplars; 7.9x fewer model
#: tokens than fresh): see ``benchmarks/results/eval_blocks.json`` and the README.
DEFAULT_BLOCK_SIZE: int | None = None
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
    seeds: evaluate each of these seeds (evaluated examples and demonstration sets drawn
        per seed) and pool them; none given: ``seed`` alone. Runs with the same seeds
        see byte-identical prompts, so they compare pair by pair.
    out: the run folder (results.json, results.md, predictions.jsonl, plots).
    block_size: queries per demonstration set: 1 gives every query fresh exemplars; G deals
        the queries of a (task, setting) in a seeded order into groups of G that share one
        demonstration block (exemplars, format, symbol mapping), whose key/value cache the
        engine computes once; ``None`` uses the default (``DEFAULT_BLOCK_SIZE``: one block for
        all queries, measured in ``benchmarks/eval_blocks.py``). Intervals treat a block's
        queries as one cluster, so evaluate several ``seeds``.
    shared_demos: one demonstration block for all queries of a (task, setting, seed), the
        same as a block size at least the number of queries (cheapest; all results rest
        on one draw of exemplars). Conflicts with ``block_size``.
    dtype: model weights dtype: ``fp32`` (or ``float32``), ``bf16`` (or ``bfloat16``) or
        ``auto`` (bf16 where this CPU multiplies it natively, else fp32; the run records the
        one used); stored as ``fp32``/``bf16``.
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
    seeds: tuple[int, ...] = ()
    out: str = ""
    block_size: int | None = None
    shared_demos: bool = False
    dtype: str = "fp32"
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
        check_task_names(self.suite, self.tasks)
        if not self.settings:
            raise ConfigError("eval: settings must not be empty")
        for s in self.settings:
            if s != "all" and s not in SETTING_NAMES:
                raise ConfigError(f"eval: unknown setting {show(s)} (known: {', '.join(SETTING_NAMES)}, or all)")
        if "all" in self.settings and len(self.settings) > 1:
            raise ConfigError("eval: 'all' cannot be combined with other settings")
        if self.k < 0:
            raise ConfigError(f"eval: k must be 0 or more, got {self.k}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ConfigError(f"eval: max_examples must be at least 1, got {self.max_examples}")
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype, "eval"))
        if self.batch_size < 1:
            raise ConfigError(f"eval: batch_size must be at least 1, got {self.batch_size}")
        if self.format != "random":
            get_format(self.format)
        if self.max_context_tokens is not None and self.max_context_tokens < 8:
            raise ConfigError(f"eval: max_context_tokens too small ({self.max_context_tokens})")
        if self.max_new_tokens < 1:
            raise ConfigError(f"eval: max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.block_size is not None and self.block_size < 1:
            raise ConfigError(f"eval: block_size must be at least 1, got {self.block_size}")
        if self.block_size is not None and self.shared_demos:
            raise ConfigError("eval: block_size and shared_demos conflict (shared demos are one block for all "
                              "queries); give one of them")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"eval: seeds must not repeat a seed, got {', '.join(map(str, self.seeds))}")
        if any(s < 0 for s in self.seeds):
            raise ConfigError("eval: seeds must be 0 or more")
        if self.bootstrap_samples < 100:
            raise ConfigError(f"eval: bootstrap_samples must be at least 100, got {self.bootstrap_samples}")

    @property
    def effective_block_size(self) -> int | None:
        """Queries per demonstration set as run: ``None`` for one shared block."""
        if self.shared_demos:
            return None
        return DEFAULT_BLOCK_SIZE if self.block_size is None else self.block_size

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds evaluated, in order."""
        return self.seeds or (self.seed,)

    def run_key(self) -> str:
        """A hash of everything that changes results (not output options). Runs made before
        blocks and seeds existed (fresh exemplars or shared demos, one seed) keep their key."""
        data = {k: v for k, v in to_dict(self).items() if k not in OUTPUT_ONLY_FIELDS}
        data["dtype"] = _KEY_DTYPE[self.dtype]
        data.pop("block_size", None)
        legacy = None if self.shared_demos else 1  # what a run made before blocks existed did
        if self.effective_block_size != legacy:
            data["block_size"] = "n" if self.effective_block_size is None else self.effective_block_size
        if not data.get("seeds"):
            data.pop("seeds", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def check_task_names(suite: str | None, tasks: tuple[str, ...]) -> None:
    """Every task spec names a task, and no two different specs give tasks of one name.

    Results are keyed by task name, and a user file's task is named after the file
    (``a/good.jsonl`` and ``b/good.jsonl``, or ``data.csv`` and ``data.tsv``, are both
    ``good``/``data``): such a pair is refused rather than one of them dropped. The same
    spec twice (or a suite task named again in ``tasks``) is one task.
    """
    for spec in tasks:
        if not str(spec).strip():
            raise ConfigError("eval: tasks holds an empty task name")
    specs = [t.name for t in suite_tasks(suite)] if suite else []
    seen: dict[str, tuple[str, str]] = {}  # task name -> (what it is, the spec that gave it)
    for spec in specs + list(tasks):
        if is_file_spec(spec):
            path = Path(spec).expanduser()
            name, identity = path.stem, str(path.resolve())
        else:
            name, identity = spec, spec
        first_identity, first_spec = seen.setdefault(name, (identity, spec))
        if first_identity != identity:
            raise ConfigError(
                f"eval: {show(first_spec)} and {show(spec)} would both be the task {name!r} (a task file is "
                f"named after the file); rename one of them"
            )
