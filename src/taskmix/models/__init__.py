"""Models: preparing the shipped GGUF models, loading them, and the scoring engine.

Public API (imports of torch/transformers happen inside the functions)::

    resolve_model(spec) -> Path | str          # alias -> prepared folder; folder; hub id
    resolve_model_dir(spec) -> Path            # the same, but only a local folder will do
    prepare_model(alias, force=False) -> Path  # GGUF -> cached HF folder
    load_model(spec, dtype="float32", batch_size=16, cache_dir=None,
               show_progress=True, use_cache=True, min_shared_prefix=16) -> LanguageModel
    LanguageModel                               # protocol: fingerprint, loglikelihood, generate
"""

from __future__ import annotations

from .interface import LanguageModel
from .loading import load_model, model_identity
from .prepare import KNOWN_MODELS, is_prepared, prepare_model, prepared_dir, resolve_model, resolve_model_dir

__all__ = [
    "KNOWN_MODELS",
    "LanguageModel",
    "is_prepared",
    "load_model",
    "model_identity",
    "prepare_model",
    "prepared_dir",
    "resolve_model",
    "resolve_model_dir",
]
