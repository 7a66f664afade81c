"""Aligning the encoder to a pool's instruction style (INSTA's "aligned" encoder).

Pairs (:func:`training_pairs`):

* positives (label 1.0), by :attr:`AlignConfig.positives`: ``same_task``, two different
  instructions of the same task (on the ``p3`` pool: two templates of one promptsource
  dataset, the paper's rule); ``source_category``, also the instructions of two tasks that
  share both source dataset and category (for pools with one instruction per task, NIV2);
  ``category``, also any two tasks of one category;
* negatives (label 0.0): for each positive anchor, an instruction of another task whose
  cosine to the anchor under the base encoder is below ``neg_threshold`` (0.3).

Two recipes (:data:`ALIGNMENTS`) name a pool and a positive rule: ``promptsource`` (the
paper's: P3 templates, ``same_task``) and ``niv2-category`` (NIV2 definitions, ``category``).

Held-out tasks (the evaluation targets of a fold) never appear in any pair. Training uses
``CosineSimilarityLoss``; everything is seeded; the output is a standard
sentence-transformers folder (plus ``taskmix_align.json`` describing the run).
"""

from __future__ import annotations

import itertools
import random
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError, TaskmixError
from ..fileio import atomic_write_json
from ..seeding import derive_seed, rng_for
from ..loaders import promptsource
from .encoder import Encoder
from .index import Pool, build_pool

POSITIVE_RULES = ("source_category", "category", "same_task")
#: Alignment recipes: name -> (the pool trained on, its positive rule).
ALIGNMENTS: dict[str, tuple[str, str]] = {
    "promptsource": ("p3", "same_task"),  # INSTA: two templates of one dataset are positives
    "niv2-category": ("niv2", "category"),  # two NIV2 tasks of one category are positives
}


@dataclass(frozen=True)
class AlignConfig:
    """Settings of one aligned-encoder training run.

    epochs: passes over the pairs (INSTA: 5).
    lr: AdamW learning rate (INSTA: 1e-6; larger values move the small encoder faster).
    batch_size: pairs per step (INSTA: 16).
    max_pairs: cap on positive pairs (a seeded sample); as many negatives are added.
    neg_threshold: a negative's base cosine to its anchor must be below this.
    max_seq_length: token limit of the encoder while training (the saved model keeps the
        base encoder's limit for inference).
    positives: ``"source_category"`` (instructions of one task, or of tasks sharing source
        dataset and category), ``"category"`` (also any two tasks sharing a category) or
        ``"same_task"`` (only instructions of one task: the paper's P3 rule, see :data:`ALIGNMENTS`).
    seed: seed of pair sampling, shuffling and initialisation.
    """

    epochs: int = 1
    lr: float = 2e-5
    batch_size: int = 16
    max_pairs: int = 20000
    neg_threshold: float = 0.3
    max_seq_length: int = 128
    positives: str = "source_category"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "max_pairs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_seq_length < 8:
            raise ConfigError(f"max_seq_length must be >= 8, got {self.max_seq_length}")
        if not 0 < self.lr < 1:
            raise ConfigError(f"lr must be in (0, 1), got {self.lr}")
        if self.positives not in POSITIVE_RULES:
            raise ConfigError(f"positives must be one of {', '.join(POSITIVE_RULES)}, got {self.positives!r}")


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    label: float


@dataclass(frozen=True)
class AlignReport:
    out: Path
    n_positive: int
    n_negative: int
    n_holdout: int
    seconds: float


def positive_pairs(pool: Pool, holdout: Sequence[str] = (), rule: str = "source_category") -> list[tuple[int, int]]:
    """Index pairs ``(text_i, text_j)`` of :attr:`Pool.texts` that are positives (see module doc and ``rule``)."""
    held = set(holdout)
    owners = pool.owners
    by_task: dict[int, list[int]] = {}
    for ti, ow in enumerate(owners):
        if pool.tasks[ow].name not in held:
            by_task.setdefault(ow, []).append(ti)
    pairs = [p for texts in by_task.values() for p in itertools.combinations(texts, 2)]
    if rule == "same_task":
        return pairs
    groups: dict[tuple[str, str], list[int]] = {}
    for ow, texts in by_task.items():
        t = pool.tasks[ow]
        if rule == "category" and t.category:
            groups.setdefault(("", t.category), []).append(ow)
        elif t.source_dataset and t.category:
            groups.setdefault((t.source_dataset, t.category), []).append(ow)
    for members in groups.values():
        for x, y in itertools.combinations(members, 2):
            pairs.extend((i, j) for i in by_task[x] for j in by_task[y])
    return pairs


def p3_names_of(tasks: Sequence[str]) -> tuple[str, ...]:
    """The ``p3`` pool names (``p3/<dataset>``) of the promptsource datasets behind catalogue
    ``tasks`` (``promptsource.HELD``): what to hold out so that no template of a target is trained on."""
    wanted = set(tasks)
    return tuple(f"{promptsource.FAMILY}/{key}" for key, held in promptsource.HELD.items() if wanted & set(held.tasks))


def training_pairs(pool: Pool, base_vectors: Any, config: AlignConfig, holdout: Sequence[str] = ()) -> list[Pair]:
    """Seeded positive and negative :class:`Pair` s for ``pool`` (``base_vectors``: base-encoder rows of its texts)."""
    import numpy as np

    texts = pool.texts
    owners = np.asarray(pool.owners)
    held = set(holdout)
    allowed = np.array([pool.tasks[o].name not in held for o in owners])
    pos = positive_pairs(pool, holdout, config.positives)
    rng = rng_for("align-pairs", pool.name, config.seed, tuple(sorted(held)))
    rng.shuffle(pos)
    pos = pos[: config.max_pairs]
    out = [Pair(texts[i], texts[j], 1.0) for i, j in pos]
    n_neg = 0
    for i, _ in pos:
        sims = base_vectors @ base_vectors[i]
        ok = np.flatnonzero(allowed & (owners != owners[i]) & (sims < config.neg_threshold))
        if len(ok):
            out.append(Pair(texts[i], texts[int(ok[rng.randrange(len(ok))])], 0.0))
            n_neg += 1
    rng.shuffle(out)
    return out


def fine_tune(base: Path, pairs: Sequence[Pair], out: Path, config: AlignConfig) -> None:
    """Fine-tune the sentence-transformers model at ``base`` on ``pairs`` with CosineSimilarityLoss; save to ``out``."""
    import numpy as np
    import torch
    from sentence_transformers import InputExample, SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
    from torch.utils.data import DataLoader

    seed = derive_seed("align-train", config.seed) % (2**32)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    inference_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    examples = [InputExample(texts=[p.a, p.b], label=p.label) for p in pairs]
    generator = torch.Generator().manual_seed(seed)
    # sentence-transformers drops an incomplete last batch: never ask for more than we have
    batch_size = max(1, min(config.batch_size, len(examples)))
    loader = DataLoader(examples, shuffle=True, batch_size=batch_size, generator=generator)  # type: ignore[arg-type]
    loss = CosineSimilarityLoss(model)
    steps = max(1, len(loader) * config.epochs)
    with warnings.catch_warnings():  # fit() always asks to pin memory; without an accelerator torch warns
        warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true but no accelerator")
        model.fit(
            train_objectives=[(loader, loss)], epochs=config.epochs, warmup_steps=int(0.1 * steps),
            optimizer_params={"lr": config.lr}, show_progress_bar=False,
        )
    model.max_seq_length = inference_length
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))


def train_aligned_encoder(
    pool_name: str,
    root: Path,
    out: Path,
    config: AlignConfig,
    encoder: str | None = None,
    holdout: Sequence[str] = (),
    english_only: bool = False,
    pool: Pool | None = None,
) -> AlignReport:
    """Build the pool, make pairs with the base encoder, fine-tune and save to ``out``."""
    start = time.time()
    base = Encoder(encoder)
    pool = pool or build_pool(pool_name, root, english_only=english_only)
    unknown = set(holdout) - {t.name for t in pool.tasks}
    if unknown:
        raise TaskmixError(f"held-out task(s) not in the {pool.name} pool: {', '.join(sorted(unknown))}")
    vectors = base.encode(list(pool.texts))
    pairs = training_pairs(pool, vectors, config, holdout)
    n_pos = sum(1 for p in pairs if p.label > 0.5)
    if n_pos == 0:
        raise TaskmixError(f"the {pool.name} pool gives no positive pairs to train on")
    fine_tune(base.path, pairs, Path(out), config)
    report = AlignReport(Path(out), n_pos, len(pairs) - n_pos, len(set(holdout)), time.time() - start)
    atomic_write_json(
        Path(out) / "taskmix_align.json",
        {"pool": pool.name, "base_encoder": str(base.path), "config": asdict(config),
         "holdout": sorted(set(holdout)), "n_positive": n_pos, "n_negative": len(pairs) - n_pos},
    )
    return report
