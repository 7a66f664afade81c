"""Helpers shared by the instruction-style loaders (BIG-Bench, BBH, NIV2, promptsource).

Reading JSON with one-line errors, fixed seeded train/test splits, and resolving a file
under the data root.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError
from ..records import Example, Provenance, Split
from ..seeding import rng_for

#: Fraction of a split-less task's examples that go to ``train`` (exemplar pool).
TRAIN_FRACTION = 0.25
#: Upper bound on the ``train`` split of a split-less task.
MAX_TRAIN = 500


def read_text(path: Path) -> str:
    """A UTF-8 text file; a missing or undecodable file is a :class:`DataError` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read: {e}") from None


def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing or malformed file is a :class:`DataError` naming it (and the line)."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    except RecursionError:
        raise DataError(path, "invalid JSON: nested too deeply") from None


def resolve(root: Path, relpath: str) -> Path:
    """The path of ``relpath`` under ``root`` (the mirror layout); missing files raise :class:`DataError`."""
    path = Path(root) / relpath
    if not path.exists():
        raise DataError(path, "not found under the data root (is the mirror complete?)")
    return path


def seeded_train_test(
    examples: Sequence[Example],
    *parts: object,
    fraction: float = TRAIN_FRACTION,
    max_train: int = MAX_TRAIN,
) -> tuple[Split, Split]:
    """Split ``examples`` into fixed ``train`` / ``test`` splits.

    The order is a seeded shuffle keyed by ``parts`` (e.g. the task name), so the same
    task always gives the same splits. ``train`` gets ``round(fraction * n)`` examples
    (at least 1 when ``n >= 2``, at most ``max_train``); ``test`` gets the rest. Both
    splits keep the original example order.
    """
    n = len(examples)
    if n == 0:
        return Split("train", ()), Split("test", ())
    order = list(range(n))
    rng_for("split", *parts).shuffle(order)
    n_train = min(max_train, max(1 if n >= 2 else 0, round(fraction * n)))
    train_idx = sorted(order[:n_train])
    test_idx = sorted(order[n_train:])
    return (
        Split("train", tuple(examples[i] for i in train_idx)),
        Split("test", tuple(examples[i] for i in test_idx)),
    )


#: Pinned upstream commits of the GitHub sources (as in the mirror's SOURCES.txt).
GITHUB_COMMITS = {
    "suzgunmirac/BIG-Bench-Hard": "9ee07bd481feebf959a6b59d61ea57bdcf30964d",
    "google-research/FLAN": "e9e4ec6e2701182c7a91af176f705310da541277",
    "bigscience-workshop/promptsource": "7dab96a3eeb3717cea633705135ebc488885d709",
}


@lru_cache(maxsize=4096)
def provenance_of(root: Path, relpath: str, license: str = "") -> Provenance:
    """A :class:`Provenance` for a mirror-layout file: its sha256 and upstream URL (cached per process)."""
    data = (Path(root) / relpath).read_bytes()
    parts = relpath.split("/")
    if parts[0] == "github" and len(parts) > 3:
        repo = f"{parts[1]}/{parts[2]}"
        commit = GITHUB_COMMITS.get(repo, "HEAD")
        url = f"https://raw.githubusercontent.com/{repo}/{commit}/{'/'.join(parts[3:])}"
    elif parts[0] == "pypi":
        url = f"pypi:{parts[1]}/{'/'.join(parts[2:])}"
    else:
        url = f"derived:{relpath}"
    return Provenance(path=relpath, sha256=hashlib.sha256(data).hexdigest(), url=url, license=license)
