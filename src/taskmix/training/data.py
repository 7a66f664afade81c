"""Training data: reading a mixture, tokenisation, the seeded batch plan and collation.

A mixture folder (written by ``taskmix build``) holds ``prompts.jsonl``: one JSON object
per line with at least ``prompt``, ``target`` and ``task``. :func:`read_examples` streams
it as :class:`~taskmix.records.TrainingExample` records (:func:`check_mixture` reads it once before a run
starts); :func:`tokenise` turns them into one flat token array (prompt tokens then target
tokens per example) with offsets, and with ``label_loss="context"`` also lists the prompt
tokens of inferable exemplar labels (:mod:`.targets`); :func:`batch_plan` gives the
deterministic order of micro-batches of one epoch; :func:`collate` pads a micro-batch and
lists the flat positions whose hidden state predicts a target token.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import DataError, TaskmixError
from ..records import PROMPTS_FILE, Segment, TrainingExample
from ..seeding import derive_seed
from .targets import check_offsets_tokenizer, context_targets

#: More than this share of examples longer than ``max_length`` is refused (their prompts
#: would lose their start, exemplars and all); a smaller share is a warning.
MAX_TRUNCATED_SHARE = 0.05


def prompts_path(data: str | Path) -> Path:
    """The JSONL file of a mixture folder (or the file itself when given one)."""
    data = Path(data)
    if data.is_dir():
        path = data / PROMPTS_FILE
        if not path.is_file():
            raise TaskmixError(f"{data}: not a mixture folder (no {PROMPTS_FILE}); build one with `taskmix build`")
        return path
    if data.is_file():
        return data
    raise TaskmixError(f"{data}: no such mixture folder")


def read_examples(data: str | Path) -> Iterator[TrainingExample]:
    """Stream the examples of a mixture folder or JSONL file; a bad line is a DataError."""
    path = prompts_path(data)
    with path.open("rb") as f:
        for i, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(path, "not UTF-8 text", i) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(path, f"malformed JSON: {e.msg}", i) from None
            yield TrainingExample.from_json(obj, path, i)


def check_mixture(data: str | Path, label_loss: str = "query") -> int:
    """Read every example of a mixture once (a malformed line, bad spans, an empty mixture
    are one-line errors) and check that it can be trained with ``label_loss``; returns the
    number of examples. Run before a run folder is touched, so a bad mixture writes nothing."""
    path = prompts_path(data)
    n = equal = 0
    for n, ex in enumerate(read_examples(path), start=1):
        if label_loss == "context" and not ex.segments:
            raise DataError(path, f"example {n} ({ex.uid or ex.task}) has no label spans ('segments'): the mixture "
                            "was built before they were recorded; rebuild it with `taskmix build` to train with "
                            "label_loss: context")
        equal += label_loss == "context" and equal_class_counts(ex.segments)
    if not n:
        raise TaskmixError(f"{path}: the mixture is empty: no training examples")
    if equal > n // 2:
        print(f"taskmix: warning: label_loss context: {equal} of {n} prompts show every class the same number of "
              "exemplars, so their last labels follow from counting the labels already shown; build the mixture "
              "with class_counts: independent", file=sys.stderr)
    return n


def equal_class_counts(segments: Sequence[Segment]) -> bool:
    """Whether a prompt's exemplar labels show two or more classes, each the same number of times."""
    counts = Counter(s.label_class for s in segments if s.kind == "exemplar_label")
    return len(counts) >= 2 and len(set(counts.values())) == 1


@dataclass(frozen=True)
class TokenisedData:
    """Token ids of every example, flat: example ``i`` is ``ids[offsets[i]:offsets[i+1]]``,
    its first ``prompt_lens[i]`` tokens are prompt (context) and the rest are target.

    With ``label_loss="context"``, ``label_ids[label_offsets[i]:label_offsets[i+1]]`` are
    the indices (ascending, into example ``i``) of its prompt tokens that are trained too:
    the tokens of its inferable exemplar labels. ``label_offsets`` is ``None`` when only
    targets are trained.
    """

    ids: Any  # np.ndarray[int32]
    offsets: Any  # np.ndarray[int64], len n+1
    prompt_lens: Any  # np.ndarray[int32], len n
    n_truncated: int
    label_ids: Any = None  # np.ndarray[int32]
    label_offsets: Any = None  # np.ndarray[int64], len n+1

    def __len__(self) -> int:
        return len(self.prompt_lens)

    @property
    def lengths(self) -> Any:
        return self.offsets[1:] - self.offsets[:-1]

    @property
    def n_target_tokens(self) -> int:
        extra = 0 if self.label_ids is None else len(self.label_ids)
        return int((self.lengths - self.prompt_lens).sum()) + extra

    def trained_indices(self, i: int) -> Any:
        """Indices into example ``i`` of every token that carries the loss, ascending."""
        import numpy as np

        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        own = np.arange(int(self.prompt_lens[i]), end - start, dtype=np.int64)
        if self.label_offsets is None:
            return own
        labels = self.label_ids[int(self.label_offsets[i]) : int(self.label_offsets[i + 1])]
        return np.concatenate([labels.astype(np.int64), own])


def tokenise(
    examples: Iterable[TrainingExample],
    tokenizer: Any,
    max_length: int,
    append_eos: bool = False,
    chunk: int = 512,
    label_loss: str = "query",
) -> TokenisedData:
    """Tokenise prompt and target separately and concatenate them.

    The prompt is tokenised with the tokenizer's special tokens (e.g. BOS), the target
    without. A sequence longer than ``max_length`` loses prompt tokens from its start
    (the first prompt token, e.g. BOS, is kept); the target is never cut. With
    ``label_loss="context"`` the prompt's inferable exemplar labels are trained too
    (:func:`~taskmix.training.targets.context_targets`; needs segments and a fast tokenizer).
    """
    import numpy as np

    eos = tokenizer.eos_token_id if append_eos else None
    if append_eos and eos is None:
        raise TaskmixError("append_eos is set but the tokenizer has no end-of-sequence token")
    context = label_loss == "context"
    if context:
        check_offsets_tokenizer(tokenizer)
    pieces: list[Any] = []
    offsets = [0]
    prompt_lens: list[int] = []
    label_pieces: list[Any] = []
    label_offsets = [0]
    truncated = 0
    buf: list[TrainingExample] = []

    def flush() -> None:
        nonlocal truncated
        encoded = tokenizer([e.prompt for e in buf], add_special_tokens=True, return_offsets_mapping=context)
        p_ids = encoded["input_ids"]
        char_spans = encoded["offset_mapping"] if context else [None] * len(buf)
        t_ids = tokenizer([e.target for e in buf], add_special_tokens=False)["input_ids"]
        for ex, p, t, spans in zip(buf, p_ids, t_ids, char_spans):
            t = list(t) + ([eos] if eos is not None else [])
            if not t:
                raise TaskmixError(f"example {ex.uid or ex.task!r}: target {ex.target!r} has no tokens")
            if len(t) >= max_length:
                raise TaskmixError(
                    f"example {ex.uid or ex.task!r}: target has {len(t)} tokens, max_length is {max_length}"
                )
            if not p:
                raise TaskmixError(f"example {ex.uid or ex.task!r}: empty prompt and no BOS token to condition on")
            dropped = 0
            if len(p) + len(t) > max_length:
                keep = max_length - len(t)
                dropped = len(p) - max(keep, 1)  # tokens 1 .. dropped are cut
                p = [p[0]] + list(p[len(p) - keep + 1 :]) if keep > 1 else [p[0]]
                truncated += 1
            seq = np.asarray(list(p) + t, dtype=np.int32)
            pieces.append(seq)
            offsets.append(offsets[-1] + len(seq))
            prompt_lens.append(len(p))
            if context:
                if not ex.segments:
                    raise TaskmixError(f"example {ex.uid or ex.task!r} has no label spans; rebuild the mixture with "
                                       "`taskmix build` to train with label_loss: context")
                labels = context_targets(spans, ex.segments, dropped)
                label_pieces.append(np.asarray(labels, dtype=np.int32))
                label_offsets.append(label_offsets[-1] + len(labels))
        buf.clear()

    for ex in examples:
        buf.append(ex)
        if len(buf) >= chunk:
            flush()
    if buf:
        flush()
    if not prompt_lens:
        raise TaskmixError("the mixture is empty: no training examples")
    check_truncation(truncated, len(prompt_lens), max_length)
    return TokenisedData(
        ids=np.concatenate(pieces),
        offsets=np.asarray(offsets, dtype=np.int64),
        prompt_lens=np.asarray(prompt_lens, dtype=np.int32),
        n_truncated=truncated,
        label_ids=np.concatenate(label_pieces) if context else None,
        label_offsets=np.asarray(label_offsets, dtype=np.int64) if context else None,
    )


def check_truncation(truncated: int, total: int, max_length: int) -> None:
    """Warn about (or, past :data:`MAX_TRUNCATED_SHARE`, refuse) examples that are cut
    to ``max_length`` tokens."""
    if not truncated:
        return
    what = (f"{truncated} of {total} training examples are longer than max_length {max_length} tokens "
            f"and lose the start of their prompt")
    if truncated > MAX_TRUNCATED_SHARE * total:
        raise TaskmixError(f"{what} (more than {MAX_TRUNCATED_SHARE:.0%}); raise max_length to at least "
                           f"the mixture's build max_length")
    print(f"taskmix: warning: {what}", file=sys.stderr)


def batch_plan(lengths: Any, batch_size: int, seed: int, epoch: int, batching: str, bucket_size: int) -> list[Any]:
    """The micro-batches (arrays of example indices) of one epoch, in order.

    A seeded permutation of all examples; with ``bucket`` batching, each run of
    ``batch_size * bucket_size`` examples is sorted by length and cut into batches, and
    the batches are shuffled again; ``sequential`` keeps file order. Depends only on its
    arguments.
    """
    import numpy as np

    n = len(lengths)
    if batching == "sequential":
        return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    rng = np.random.default_rng(derive_seed(seed, "train-order", epoch))
    perm = rng.permutation(n)
    batches: list[Any] = []
    if batching == "bucket":
        span = batch_size * bucket_size
        for start in range(0, n, span):
            chunk = perm[start : start + span]
            chunk = chunk[np.argsort(-np.asarray(lengths)[chunk], kind="stable")]
            batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    else:
        batches = [perm[i : i + batch_size] for i in range(0, n, batch_size)]
    return batches


@dataclass(frozen=True)
class Batch:
    """A padded micro-batch: ``input_ids``/``attention_mask`` are (B, T); ``positions``
    are flat indices into the (B*T) hidden states that predict ``labels`` (N,)."""

    input_ids: Any
    attention_mask: Any
    positions: Any
    labels: Any
    n_tokens: int  # real (non-pad) tokens
    n_targets: int


def collate(data: TokenisedData, indices: Any, pad_id: int) -> Batch:
    """Right-pad the examples ``indices`` and gather the positions that predict their
    trained tokens (:meth:`TokenisedData.trained_indices`)."""
    import numpy as np
    import torch

    lens = data.lengths[indices]
    width = int(lens.max())
    ids = np.full((len(indices), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(indices), width), dtype=np.int64)
    positions: list[Any] = []
    labels: list[Any] = []
    for row, i in enumerate(indices):
        start, end = int(data.offsets[i]), int(data.offsets[i + 1])
        seq = data.ids[start:end]
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
        trained = data.trained_indices(i)
        # hidden state at position t predicts token t+1
        positions.append(row * width + trained - 1)
        labels.append(seq[trained])
    pos = np.concatenate(positions)
    lab = np.concatenate(labels).astype(np.int64)
    return Batch(
        input_ids=torch.from_numpy(ids),
        attention_mask=torch.from_numpy(mask),
        positions=torch.from_numpy(pos.astype(np.int64)),
        labels=torch.from_numpy(lab),
        n_tokens=int(lens.sum()),
        n_targets=len(lab),
    )
