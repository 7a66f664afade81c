"""Pools of arbitrary label symbols for symbol tuning and symbol evaluation.

Following Wei et al. (2023), "Symbol tuning improves in-context learning in language
models", labels are remapped to arbitrary symbols of three kinds:

* ``integer`` -- decimal integers, ``"0"`` .. ``"99999"``;
* ``letters`` -- upper-case letter combinations of two to four letters (``"QX"``, ``"BKZW"``)
  that do not spell an English word;
* ``word``    -- lower-case English words of 3-12 letters from the ``web2`` list of the
  ``english-words`` package (2.0.2).

Each kind contributes :data:`KIND_SIZE` = 100,000 candidates, shuffled with a fixed seed
and split so that the first :data:`TUNING_PER_KIND` (10,000) go to the ``tuning`` pool and
the next :data:`EVAL_PER_KIND` (90,000) to the ``eval`` pool: 30,000 tuning symbols and
270,000 evaluation symbols, disjoint by construction (as in the paper, where evaluation
uses symbols never seen in tuning). The kinds are disjoint by spelling (digits, upper
case letters, lower case letters), so every pool holds distinct strings.

Every symbol is a single "token-sequence-safe" string: ASCII letters or digits only, no
whitespace, no punctuation such as ``:`` that prompt formats use as separators. Prompts
insert a symbol after a space (``"Output: QX"``).

Public API (stable):

* :data:`POOLS`, :data:`KINDS`
* :func:`symbol_pool` ``(pool, kind=None) -> tuple[str, ...]`` (cached)
* :func:`pool_sizes` ``(pool) -> dict[str, int]``
* :func:`sample_symbols` ``(pool, n, rng, exclude=(), kind=None) -> tuple[str, ...]``
* :func:`symbol_kind` ``(symbol) -> str``
* :func:`is_safe_symbol` ``(symbol) -> bool``
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Iterable

from .errors import TaskmixError
from .seeding import derive_seed

POOLS = ("tuning", "eval")
KINDS = ("integer", "letters", "word")

KIND_SIZE = 100_000
TUNING_PER_KIND = 10_000
EVAL_PER_KIND = KIND_SIZE - TUNING_PER_KIND

POOL_SEED = 20230315  # fixed: the pools are part of the toolkit, not of a run's config
WORD_SOURCE = "web2"

_SAFE = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"[a-z]{3,12}")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Combinations of 2, 3 and 4 letters, indexed 0..N-1 in that order.
_LETTER_COUNTS = (26**2, 26**3, 26**4)


def is_safe_symbol(symbol: str) -> bool:
    """True if ``symbol`` is non-empty and only ASCII letters/digits (no spaces or separators)."""
    return bool(_SAFE.fullmatch(symbol))


def symbol_kind(symbol: str) -> str:
    """The kind of a symbol: ``integer``, ``letters`` (upper case) or ``word`` (lower case)."""
    if symbol.isdigit():
        return "integer"
    if symbol.isalpha() and symbol.isupper():
        return "letters"
    if symbol.isalpha() and symbol.islower():
        return "word"
    raise TaskmixError(f"{symbol!r} is not a taskmix symbol")


def _letter_combo(index: int) -> str:
    for length, count in zip((2, 3, 4), _LETTER_COUNTS):
        if index < count:
            chars = []
            for _ in range(length):
                index, r = divmod(index, 26)
                chars.append(_LETTERS[r])
            return "".join(reversed(chars))
        index -= count
    raise IndexError(index)


def _integers() -> list[str]:
    rng = random.Random(derive_seed(POOL_SEED, "integer"))
    return [str(i) for i in rng.sample(range(KIND_SIZE), KIND_SIZE)]


def _letters() -> list[str]:
    # Letter combinations that spell a word (any case) are left out, so that no letter
    # symbol equals a word symbol case-insensitively.
    words = _word_list()
    rng = random.Random(derive_seed(POOL_SEED, "letters"))
    combos = (_letter_combo(i) for i in rng.sample(range(sum(_LETTER_COUNTS)), 2 * KIND_SIZE))
    out = [c for c in combos if c.lower() not in words][:KIND_SIZE]
    assert len(out) == KIND_SIZE
    return out


@lru_cache(maxsize=1)
def _word_list() -> frozenset[str]:
    try:
        from english_words import get_english_words_set
    except ImportError as e:  # pragma: no cover - it is a declared dependency
        raise TaskmixError("the english-words package is needed for word symbols: pip install english-words") from e
    return frozenset(get_english_words_set([WORD_SOURCE], lower=True))


def _words() -> list[str]:
    words = sorted(w for w in _word_list() if _WORD.fullmatch(w))
    if len(words) < KIND_SIZE:
        raise TaskmixError(f"english-words {WORD_SOURCE!r} has only {len(words)} usable words; need {KIND_SIZE}")
    rng = random.Random(derive_seed(POOL_SEED, "word"))
    return rng.sample(words, KIND_SIZE)


_GENERATORS = {"integer": _integers, "letters": _letters, "word": _words}


@lru_cache(maxsize=None)
def _kind_all(kind: str) -> tuple[str, ...]:
    return tuple(_GENERATORS[kind]())


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise TaskmixError(f"unknown symbol pool {pool!r} (known: {', '.join(POOLS)})")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise TaskmixError(f"unknown symbol kind {kind!r} (known: {', '.join(KINDS)})")


@lru_cache(maxsize=None)
def symbol_pool(pool: str, kind: str | None = None) -> tuple[str, ...]:
    """All symbols of ``pool`` (``"tuning"`` or ``"eval"``), optionally of one ``kind``.

    The order is deterministic (a fixed shuffle); a whole pool lists its integers, then
    letter combinations, then words. Cached after the first call (~0.5 s).
    """
    _check_pool(pool)
    if kind is None:
        return tuple(s for k in KINDS for s in symbol_pool(pool, k))
    _check_kind(kind)
    everything = _kind_all(kind)
    return everything[:TUNING_PER_KIND] if pool == "tuning" else everything[TUNING_PER_KIND:]


def pool_sizes(pool: str) -> dict[str, int]:
    """Number of symbols of each kind in ``pool``."""
    return {kind: len(symbol_pool(pool, kind)) for kind in KINDS}


def sample_symbols(
    pool: str,
    n: int,
    rng: random.Random,
    exclude: Iterable[str] = (),
    kind: str | None = None,
) -> tuple[str, ...]:
    """``n`` distinct symbols drawn uniformly from ``pool`` (or one ``kind`` of it) with ``rng``.

    Symbols whose lower-cased spelling is in ``exclude`` (compared case-insensitively, e.g.
    the task's natural label words) are never drawn. Deterministic for a given ``rng`` state.
    """
    if n < 0:
        raise TaskmixError(f"cannot sample a negative number of symbols ({n})")
    symbols = symbol_pool(pool, kind)
    banned = {e.strip().lower() for e in exclude}
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        if len(seen) >= len(symbols):
            raise TaskmixError(f"symbol pool {pool!r} has too few symbols for {n} labels")
        s = symbols[rng.randrange(len(symbols))]
        if s in seen:
            continue
        seen.add(s)
        if s.lower() in banned:
            continue
        out.append(s)
    return tuple(out)
