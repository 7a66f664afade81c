"""All randomness in taskmix flows from explicit seeds.

``derive_seed(seed, "task", "uid")`` gives a stable 63-bit integer for any tuple of parts,
independent of Python's hash randomisation, so the same config produces byte-identical
prompts on every machine.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(*parts: object) -> int:
    """A stable seed from any sequence of printable parts."""
    h = hashlib.sha256("\x1f".join(repr(p) for p in parts).encode("utf-8"))
    return int.from_bytes(h.digest()[:8], "big") >> 1


def rng_for(*parts: object) -> random.Random:
    """A private ``random.Random`` seeded from ``parts`` (never the global RNG)."""
    return random.Random(derive_seed(*parts))
