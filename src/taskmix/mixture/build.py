"""Writing a mixture folder: ``prompts.jsonl``, a ``datasets`` copy and ``manifest.json``.

Prompts are streamed to a JSONL file line by line (never all held in memory), then the
JSONL is converted to a Hugging Face dataset with ``save_to_disk``. Everything is written
into a temporary folder next to the output and renamed into place when complete, so a
failed build leaves no half-written mixture and never touches an existing one. The
manifest holds the config, seed, per-task counts and the sha256 of ``prompts.jsonl``
(the content hash); nothing time- or machine-dependent, so the same config gives the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ..catalogue import load_task_spec
from ..config import from_dict, key_dict, to_dict
from ..errors import TaskmixError
from ..fileio import atomic_write_json, default_dir_mode, temp_siblings
from ..models.prepare import resolve_model_dir
from ..records import PROMPTS_FILE, Task
from .config import MixtureConfig
from .neighbours import Encode
from ..selection.encoder import DEFAULT_ENCODER, Encoder
from ..prompts.compose import TokenCounter
from .symbol import TaskStats, check_no_evaluation_tasks, mixture_prompts, plan_task, task_prompts

MANIFEST_FILE = "manifest.json"
DATASET_DIR = "dataset"


@dataclass(frozen=True)
class MixtureResult:
    """A built mixture folder and its content hash."""

    out_dir: Path
    n_prompts: int
    content_sha256: str
    counts: tuple[tuple[str, int], ...]
    already_built: bool = False
    skipped: tuple[tuple[str, int], ...] = ()  # per task: queries whose prompt could not fit max_length


def _tokenizer_for(spec: str) -> Any:
    if not spec:
        return None
    from transformers import AutoTokenizer

    folder = resolve_model_dir(spec)
    try:
        return AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as e:
        raise TaskmixError(f"{folder}: cannot load tokenizer ({e})") from None


def _same_mixture(recorded: Any, config: MixtureConfig) -> bool:
    """Whether a manifest's recorded config builds the mixture of ``config``: compared as
    stage keys (:func:`taskmix.config.key_dict`), so a folder built before a field was added
    (its manifest lacks it, which means the field's neutral value) is the same mixture. A
    recorded config that is no valid ``MixtureConfig`` is another mixture."""
    try:
        return key_dict(from_dict(MixtureConfig, recorded)) == key_dict(config)
    except TaskmixError:
        return False


def build_symbol_mixture(
    config: MixtureConfig,
    out_dir: str | os.PathLike,
    load: Callable[[str], Task] | None = None,
    tokenizer: Any = None,
    encode: Encode | None = None,
) -> MixtureResult:
    """Build the symbol-tuning mixture of ``config`` into ``out_dir``.

    ``load`` maps a task name to a :class:`Task` (default:
    :func:`~taskmix.catalogue.load_task_spec`, a catalogue name or a user task file);
    ``tokenizer`` overrides ``config.tokenizer`` and ``encode`` the sentence encoder of
    ``exemplar_choice: similar`` (tests pass them in). An existing
    ``out_dir`` with the same config is left as it is; a different one is refused.
    """
    out_dir = Path(out_dir)
    check_no_evaluation_tasks(config)
    config_data = to_dict(config)
    if out_dir.exists():
        manifest = out_dir / MANIFEST_FILE
        if manifest.is_file():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except ValueError as e:
                raise TaskmixError(f"{manifest}: corrupt mixture manifest ({e}); use a new --out") from None
            if not isinstance(old, dict):
                raise TaskmixError(f"{manifest}: corrupt mixture manifest (not a JSON object); use a new --out")
            if _same_mixture(old.get("config"), config):
                return MixtureResult(out_dir, int(old.get("n_prompts", 0)), str(old.get("content_sha256")),
                                     tuple((k, v["written"]) for k, v in old.get("tasks", {}).items()), True)
            raise TaskmixError(f"{out_dir}: holds a mixture built from a different config; use a new --out")
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise TaskmixError(f"{out_dir}: exists and is not a mixture folder; use a new --out")
    if load is None:  # catalogue names and user task files
        load = load_task_spec
    if tokenizer is None:
        tokenizer = _tokenizer_for(config.tokenizer)
    counter = TokenCounter(tokenizer, chars_per_token=config.chars_per_token)
    encoder_note: dict[str, str] = {}
    if config.exemplar_choice == "similar":
        if encode is None:
            encoder = Encoder()
            encode = encoder.encode
            encoder_note = {"encoder": f"{DEFAULT_ENCODER}@{encoder.fingerprint}"}
        else:
            encoder_note = {"encoder": "given by the caller"}

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # a build killed earlier left its temp folder: nothing in it is reused (builds are cheap to redo)
    for stale in temp_siblings(out_dir):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    os.chmod(tmp, default_dir_mode())
    try:
        stats: dict[str, TaskStats] = {}
        digest = hashlib.sha256()
        n = 0
        with (tmp / PROMPTS_FILE).open("wb") as f:
            for prompt in mixture_prompts(config, load, counter, stats, encode):
                line = (json.dumps(prompt.to_json(), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
                f.write(line)
                digest.update(line)
                n += 1
            f.flush()
            os.fsync(f.fileno())
        if n == 0:
            raise TaskmixError("the mixture is empty: no task produced a prompt")
        _save_dataset(tmp / PROMPTS_FILE, tmp / DATASET_DIR, tmp)
        content = digest.hexdigest()
        atomic_write_json(
            tmp / MANIFEST_FILE,
            {
                "kind": "symbol",
                "config": config_data,
                "seed": config.seed,
                "tokenizer": config.tokenizer or f"estimate: {config.chars_per_token} chars per token",
                **encoder_note,
                "n_prompts": n,
                "content_sha256": content,
                "tasks": {name: vars(s) for name, s in stats.items()},
            },
        )
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return MixtureResult(out_dir, n, content, tuple((k, s.written) for k, s in stats.items()),
                         skipped=tuple((k, s.skipped_too_long) for k, s in stats.items() if s.skipped_too_long))


def _save_dataset(jsonl: Path, dest: Path, scratch: Path) -> None:
    """Convert the JSONL to a ``datasets`` dataset folder (``load_from_disk`` reads it)."""
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()
    cache = scratch / ".hf-cache"
    ds = Dataset.from_json(str(jsonl), cache_dir=str(cache))
    ds.save_to_disk(str(dest))
    del ds
    shutil.rmtree(cache, ignore_errors=True)


def content_sha256(out_dir: str | os.PathLike) -> str:
    """The sha256 of a mixture's ``prompts.jsonl``."""
    h = hashlib.sha256()
    with (Path(out_dir) / PROMPTS_FILE).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prompt_check(
    config: MixtureConfig, load: Callable[[str], Task] | None = None, tokenizer: Any = None
) -> Callable[[str], str | None]:
    """A function telling why a task yields no prompt under ``config`` (none of its queries
    fits ``max_length`` with ``min_exemplars_per_class``: the build's one-line reason), or
    ``None`` when it yields one. Any other problem with the task (not a classification task,
    held out for evaluation, unknown) is raised, as the build would. The tokenizer is loaded once."""
    load = load or load_task_spec
    counter = TokenCounter(tokenizer if tokenizer is not None else _tokenizer_for(config.tokenizer),
                           chars_per_token=config.chars_per_token)

    def problem(name: str) -> str | None:
        # judged with random exemplars (no encoder needed; nearest ones differ only in length)
        one = replace(config, tasks=(name,), extra_tasks=(), per_task_cap=1, exemplar_choice="random")
        check_no_evaluation_tasks(one)
        pool = plan_task(load(name), one.split)
        try:
            next(task_prompts(pool, one, counter, TaskStats()))
        except TaskmixError as e:
            return e.message
        return None

    return problem
