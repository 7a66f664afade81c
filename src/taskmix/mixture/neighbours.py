"""Nearest exemplars for tuning prompts (``MixtureConfig.exemplar_choice: similar``).

With random exemplars a query's label agrees with its most similar exemplar's label only
a little more often than chance, so a model tuned on them is rewarded little for reading
which exemplar the query resembles. With ``similar``, each class of a prompt shows the
exemplars of that class nearest to the query (cosine similarity of sentence embeddings)
among a fixed, seeded sample of the class (``MixtureConfig.similar_pool`` examples): the
nearest exemplar's label then predicts the query's label more often, the skill a
demonstrations-only reader needs (``benchmarks/icl_headroom.py`` measures what it gives on
the evaluation datasets). The random stream is consumed exactly as for random exemplars,
so a prompt draws the same kind, format, symbols and number of exemplars per class, and
writes its classes in the same order. Which exemplars it shows changes, and with them the
prompt's length: fitting ``max_length`` keeps each class's nearest exemplars (the list is
nearest first, and fitting keeps a prefix), but may keep fewer or more of them than with
random ones, and a query whose prompt no longer fits is skipped (so the queries that fill
``per_task_cap`` can differ too). With ``MixtureConfig.similar_share`` below 1 only the
first part of each class's exemplars are the nearest and the rest are its random ones. Not
in the paper.

Embeddings come from an ``encode`` function (texts -> L2-normalised rows); the mixture
builder passes the default sentence encoder (all-MiniLM-L6-v2,
:class:`taskmix.selection.encoder.Encoder`, cached on disk; its fingerprint goes into the
mixture's manifest). A task's sample is embedded in one call and its queries in chunks of
:data:`QUERY_CHUNK`, in query order, so the cost is a few thousand short texts a task.
Ranking compares the float32 similarities as they are (ties: sample order). The encoder's
disk cache keeps the first embedding of every text, so a rebuild on one machine gives the same
bytes; on another machine, float differences in the encoder could reorder two candidates
whose similarities agree to about 1e-6.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Sequence

from ..prompts.compose import Choose, ExemplarPool
from ..records import Example
from ..seeding import rng_for

Encode = Callable[[Sequence[str]], Any]
"""``encode(texts)``: an ``len(texts) x dim`` array of L2-normalised embeddings."""

#: Queries are embedded this many at a time, in the order the mixture visits them.
QUERY_CHUNK = 256


def example_text(example: Example) -> str:
    """The text an example is embedded by: its input fields, one per line."""
    return "\n".join(example.texts)


class NearestExemplars:
    """The nearest exemplars of each class for the queries of one task.

    ``order`` is the order the mixture visits the pool's examples as queries; each class's
    candidates are a seeded sample of at most ``sample_size`` of its examples (the same for
    every query of the task).
    """

    def __init__(self, pool: ExemplarPool, order: Sequence[int], sample_size: int, seed: int, encode: Encode,
                 share: float = 1.0):
        import numpy as np

        if not 0.0 < share <= 1.0:
            raise ValueError(f"NearestExemplars: share must be in (0, 1], got {share!r}")
        self.pool = pool
        self.share = share
        self.encode = encode
        rng = rng_for(seed, "symbol-mixture-neighbours", pool.task.name)
        picked = [sorted(rng.sample(range(len(group)), min(len(group), sample_size))) for group in pool.groups]
        self.candidates = [tuple(group[i] for i in idx) for group, idx in zip(pool.groups, picked)]
        self.keys = [tuple(keys[i] for i in idx) for keys, idx in zip(pool.keys, picked)]
        texts = [example_text(e) for g in self.candidates for e in g]
        vectors = np.asarray(encode(texts), dtype=np.float32) if texts else np.zeros((0, 0), np.float32)
        bounds = np.cumsum([0] + [len(g) for g in self.candidates])
        self.vectors: list[Any] = [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        self.order = list(order)
        self.position = {q: i for i, q in enumerate(self.order)}
        self.query_vectors: dict[int, Any] = {}

    def _query_vector(self, query_index: int) -> Any:
        """The embedding of pool example ``query_index``; embeds its chunk of the query order."""
        import numpy as np

        if query_index not in self.query_vectors:
            at = self.position.get(query_index)
            chunk = [query_index] if at is None else self.order[at - at % QUERY_CHUNK: at - at % QUERY_CHUNK + QUERY_CHUNK]
            chunk = [q for q in chunk if q not in self.query_vectors]
            vectors = np.asarray(self.encode([example_text(self.pool.examples[q]) for q in chunk]), dtype=np.float32)
            self.query_vectors.update(zip(chunk, vectors))
        return self.query_vectors[query_index]

    def nearest(self, query_index: int, group: int, k: int, exclude: frozenset) -> list[Example]:
        """The (at most) ``k`` candidates of class ``group`` nearest to the query, nearest
        first (ties: sample order), none of them excluded (uid or input text)."""
        if k <= 0 or not self.candidates[group]:
            return []
        similarity = self.vectors[group] @ self._query_vector(query_index)
        ranked = sorted(range(len(self.candidates[group])), key=lambda i: (-float(similarity[i]), i))
        picked: list[Example] = []
        for i in ranked:
            example = self.candidates[group][i]
            if example.uid in exclude or self.keys[group][i] in exclude:
                continue
            picked.append(example)
            if len(picked) == k:
                break
        return picked

    def chooser(self, query_index: int) -> Choose:
        """A :func:`~taskmix.prompts.compose.draw_demo_set` ``choose`` for one query. It
        draws the random exemplars too, so the stream moves on exactly as with
        ``exemplar_choice: random`` and every later draw of the prompt is the same. With
        ``share`` below 1 a class shows ``ceil(share * k)`` nearest exemplars, nearest first,
        then its random ones that are not among them, in drawn order, up to ``k`` in all
        (fitting a prompt to its length keeps a prefix, so it drops random ones first)."""

        def choose(group: int, k: int, rng: random.Random, exclude: frozenset) -> list[Example]:
            drawn = self.pool.take_up_to(group, k, rng, exclude)
            near = self.nearest(query_index, group, min(k, math.ceil(self.share * k - 1e-9)), exclude)
            if self.share >= 1 or len(near) >= k:
                return near  # all nearest: exactly what similar did before similar_share
            shown = {e.uid for e in near}
            return near + [e for e in drawn if e.uid not in shown][: k - len(near)]

        return choose
