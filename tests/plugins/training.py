"""Fixtures of the training/mixture area: a tiny random Llama with a byte-level tokenizer,
and a tiny hand-written mixture folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY_CORPUS = [
    "Input: the film was great\nOutput: foo",
    "Input: a dull and boring movie\nOutput: bar",
    "Sentence: it rains today\nLabel: 7",
    "Q: is it good? A: yes, no, maybe",
]


def make_tiny_causal_lm(folder: Path, seed: int = 0) -> Path:
    """A 2-layer random Llama (hidden 32) with a byte-level BPE tokenizer, saved as an HF folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TINY_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def train_tiny_model(tmp_path_factory) -> Path:
    """A tiny random causal LM folder (created once per session, < 1 s)."""
    return make_tiny_causal_lm(tmp_path_factory.mktemp("train_tiny_model"))


def write_tiny_mixture(folder: Path, n: int = 48, segments: bool = False) -> Path:
    """A mixture folder with ``n`` hand-made symbol-style prompts (``prompts.jsonl`` only);
    with ``segments``, each record also has the composer's spans (exemplar inputs and
    labels with their class and whether it is inferable, the query, the answer slot)."""
    folder.mkdir(parents=True, exist_ok=True)
    words = ["great", "dull", "fine", "awful", "good", "bad", "nice", "poor"]
    symbols = [" foo", " bar", " 7", " zq"]
    lines = []
    for i in range(n):
        k = 1 + i % 5
        prompt, spans, seen = "", [], set()
        for j in range(k):
            if j:
                prompt += "\n\n"
            cls = (i + j) % 2
            text, label = f"Input: {words[(i + j) % 8]} film\nOutput:", symbols[cls]
            spans.append({"kind": "exemplar_input", "start": len(prompt), "end": len(prompt) + len(text)})
            prompt += text
            spans.append({"kind": "exemplar_label", "start": len(prompt), "end": len(prompt) + len(label),
                          "class": cls, "inferable": cls in seen})
            prompt += label
            seen.add(cls)
        prompt += "\n\n"
        query = f"Input: {words[i % 8]} movie\nOutput:"
        spans.append({"kind": "query_input", "start": len(prompt), "end": len(prompt) + len(query)})
        prompt += query
        spans.append({"kind": "answer", "start": len(prompt), "end": len(prompt), "class": i % 4})
        record = {"uid": f"t{i}", "task": "tiny", "kind": "symbol", "format": "io", "prompt": prompt,
                  "target": symbols[i % 4]}
        if segments:
            record["segments"] = spans
        lines.append(json.dumps(record))
    (folder / "prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def tiny_mixture(tmp_path) -> Path:
    return write_tiny_mixture(tmp_path / "mixture")


@pytest.fixture
def tiny_spans_mixture(tmp_path) -> Path:
    """The prompts of ``tiny_mixture`` with their label spans (``segments``)."""
    return write_tiny_mixture(tmp_path / "spans_mixture", segments=True)


def make_tiny_task(name: str = "toy", n: int = 40, labels: tuple[str, ...] = ("negative", "positive"),
                   two_fields: bool = False):
    """A hand-made classification :class:`Task` with ``n`` train examples, labels cycling."""
    from taskmix.records import Example, Split, Task

    words = ["bright", "gloomy", "tender", "harsh", "lively", "slow", "witty", "flat"]
    examples = []
    for i in range(n):
        text = f"{words[i % 8]} story number {i}"
        fields = (("premise", text), ("hypothesis", f"it is {words[(i * 3) % 8]}")) if two_fields else (("sentence", text),)
        examples.append(Example(uid=f"{name}-{i}", fields=fields, label=i % len(labels)))
    return Task(
        name=name,
        source="test",
        instructions=(f"Classify the {name} text.",),
        input_fields=tuple(k for k, _ in examples[0].fields),
        label_space=labels,
        splits=(Split("train", tuple(examples)),),
    )


@pytest.fixture
def toy_loader():
    """A ``load(name) -> Task`` for mixture tests: ``toy`` (2 classes) and ``toy3`` (3 classes, 2 fields)."""
    tasks = {
        "toy": make_tiny_task("toy"),
        "toy3": make_tiny_task("toy3", n=45, labels=("entailment", "neutral", "contradiction"), two_fields=True),
    }

    def load(name: str):
        from taskmix.errors import TaskmixError

        if name not in tasks:
            raise TaskmixError(f"unknown task {name!r}")
        return tasks[name]

    return load
