"""``load_model``: a model spec (alias, folder, hub id) -> a ready :class:`LanguageModel`."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..config import DTYPE_SPELLINGS
from ..errors import TaskmixError
from ..fileio import sha256_file
from .cache import ResultCache, default_cache_path
from .hf import HFLanguageModel, config_max_length
from .precision import concrete_dtype
from .prepare import read_marker, resolve_model

#: Bump when scoring rules change: it invalidates the result cache and ``taskmix run``'s
#: evaluation stages. v2: the output layer in float32 (bf16 logits tied labels).
SCORING_VERSION = "ll-lmeval04-v2"
DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}


def model_identity(location: Path | str) -> str:
    """A stable id of the weights + tokenizer at ``location``.

    Prepared folders use the recorded GGUF sha256; other folders hash their config,
    tokenizer and weight files; hub ids are used as they are.
    """
    if isinstance(location, str):
        return f"hub:{location}"
    marker = read_marker(location)
    if marker and marker.get("source_sha256"):
        return f"{marker.get('alias', location.name)}@{marker['source_sha256'][:16]}"
    h = hashlib.sha256()
    for path in sorted(location.iterdir()):
        if path.is_file() and (path.suffix in {".json", ".safetensors", ".bin", ".model", ".txt", ".jinja"}):
            h.update(path.name.encode())
            h.update(sha256_file(path).encode())
    return f"{location.name}@{h.hexdigest()[:16]}"


def stated_context_length(spec: str | os.PathLike) -> int | None:
    """The context length a local model folder's ``config.json`` states, read without
    loading weights; ``None`` for a hub id, an unprepared alias or a config that states none."""
    try:
        location = resolve_model(spec, prepare=False)
    except TaskmixError:
        return None
    if not isinstance(location, Path) or not (location / "config.json").is_file():
        return None
    from transformers import AutoConfig

    try:
        return config_max_length(AutoConfig.from_pretrained(str(location)))
    except (OSError, ValueError):
        return None


def load_model(
    spec: str | os.PathLike,
    dtype: str = "float32",
    batch_size: int = 16,
    cache_dir: str | os.PathLike | None = None,
    show_progress: bool = True,
    use_cache: bool = True,
    min_shared_prefix: int = 16,
    threads: int | None = None,
):
    """Load a causal LM as an :class:`~taskmix.models.hf.HFLanguageModel`.

    ``spec``: alias (``smollm2-135m``; prepared on first use), model folder (a PEFT
    adapter folder is merged into its base) or hub id. ``dtype``: ``float32`` (default,
    for scoring), ``bfloat16`` or ``auto`` (bfloat16 where this CPU multiplies it natively). ``cache_dir``: folder of the sqlite result cache
    (default ``<taskmix cache>/lm``); ``use_cache=False`` disables it.
    ``min_shared_prefix``: shortest shared token prefix worth a key/value cache (0 = off).
    ``batch_size``: rows (distinct contexts) per forward pass. ``threads``: if given,
    ``torch.set_num_threads(threads)`` (process-wide). ``show_progress``: tqdm bars.
    Raises :class:`TaskmixError` (one line) for a missing/broken model or a bad dtype.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    asked = str(dtype).lower()
    dtype_name = DTYPES.get(concrete_dtype(DTYPE_SPELLINGS.get(asked, asked), "cpu"))
    if dtype_name is None:
        raise TaskmixError(f"unknown dtype {dtype!r} (use float32 or bfloat16)")
    if threads:
        torch.set_num_threads(int(threads))
    location = resolve_model(spec)
    torch_dtype = getattr(torch, dtype_name)
    adapter = isinstance(location, Path) and (location / "adapter_config.json").is_file()
    try:
        if adapter:
            base_spec = json.loads((location / "adapter_config.json").read_text())["base_model_name_or_path"]
            base_location = resolve_model(base_spec)
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(str(base_location), dtype=torch_dtype, attn_implementation="sdpa", use_safetensors=True)
            model = PeftModel.from_pretrained(base, str(location)).merge_and_unload()
            tok_source = location if (location / "tokenizer_config.json").is_file() else base_location
            identity = f"{model_identity(base_location)}+{model_identity(location)}"
        else:
            model = AutoModelForCausalLM.from_pretrained(str(location), dtype=torch_dtype, attn_implementation="sdpa", use_safetensors=True)
            tok_source = location
            identity = model_identity(location)
        tokenizer = AutoTokenizer.from_pretrained(str(tok_source))
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # a broken or foreign folder: one line, not a traceback
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TaskmixError(f"cannot load model {spec}: {first}") from e
    model.eval()
    fingerprint = f"{identity}|{dtype_name}|{SCORING_VERSION}"
    cache = None
    if use_cache:
        path = Path(cache_dir) / "results.sqlite" if cache_dir is not None else default_cache_path()
        cache = ResultCache(path)

    return HFLanguageModel(
        model,
        tokenizer,
        fingerprint=fingerprint,
        batch_size=batch_size,
        cache=cache,
        show_progress=show_progress,
        min_shared_prefix=min_shared_prefix,
    )
