"""``taskmix data fetch``/``verify`` and ``require``: mirror and (faked) network paths, checksums, atomicity."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import urllib.error
from pathlib import Path

import pytest

from taskmix import cli, fileio
from taskmix.data import fetch as fetch_mod
from taskmix.data.fetch import derive_from_python, fetch, verify
from taskmix.data.sources import Archive, Manifest, load_manifest, parse_manifest, require
from taskmix.errors import DataError, TaskmixError
from tests.plugins.data import make_entry


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- mirror path


def test_fetch_from_mirror_then_skip(fake_mirror, tmp_path):
    mirror, manifest, files = fake_mirror
    cache = tmp_path / "cache"
    report = fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    assert (report.total, report.fetched, report.skipped) == (3, 3, 0)
    for rel, data in files.items():
        assert (cache / rel).read_bytes() == data
    again = fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    assert (again.fetched, again.skipped) == (0, 3)
    v = verify(cache, manifest=manifest)
    assert (v.ok, v.missing, v.bad) == (3, (), ())


def test_fetch_only_glob(fake_mirror, tmp_path):
    mirror, manifest, _ = fake_mirror
    report = fetch(cache=tmp_path / "c", mirror=mirror, manifest=manifest, only="github/o/r/*", progress=False)
    assert report.fetched == 2
    assert not (tmp_path / "c" / "github/o/other/c.txt").exists()
    with pytest.raises(TaskmixError, match="matches no source file"):
        fetch(cache=tmp_path / "c", mirror=mirror, manifest=manifest, only="nope/*", progress=False)


def test_mirror_checksum_mismatch_is_refused_with_file_named(fake_mirror, tmp_path):
    mirror, manifest, _ = fake_mirror
    (mirror / "github/o/r/a.txt").write_bytes(b"tampered\n")
    with pytest.raises(DataError, match="sha256 mismatch") as e:
        fetch(cache=tmp_path / "c", mirror=mirror, manifest=manifest, progress=False)
    assert str(mirror / "github/o/r/a.txt") in str(e.value)
    assert not (tmp_path / "c" / "github/o/r/a.txt").exists()


def test_corrupt_cached_file_is_fetched_again(fake_mirror, tmp_path):
    mirror, manifest, files = fake_mirror
    cache = tmp_path / "c"
    fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    (cache / "github/o/r/a.txt").write_bytes(b"alphX\n")  # same size, wrong content
    assert verify(cache, manifest=manifest).bad == ("github/o/r/a.txt",)
    report = fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    assert report.fetched == 1
    assert (cache / "github/o/r/a.txt").read_bytes() == files["github/o/r/a.txt"]


def test_missing_mirror_file_and_bad_paths(fake_mirror, tmp_path):
    mirror, manifest, _ = fake_mirror
    (mirror / "github/o/other/c.txt").unlink()
    with pytest.raises(DataError, match="missing from the mirror") as e:
        fetch(cache=tmp_path / "c", mirror=mirror, manifest=manifest, progress=False)
    assert "github/o/other/c.txt" in str(e.value)
    with pytest.raises(TaskmixError, match="mirror folder does not exist"):
        fetch(cache=tmp_path / "c", mirror=tmp_path / "nowhere", manifest=manifest, progress=False)
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(TaskmixError, match="not a folder"):
        fetch(cache=afile, mirror=mirror, manifest=manifest, progress=False)


def test_killed_fetch_leaves_no_half_file(fake_mirror, tmp_path, monkeypatch):
    mirror, manifest, _ = fake_mirror
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is killed while writing the second file
        return real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", dying_replace)
    cache = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    files = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    assert files == [manifest.files[0].path]  # the finished file only; no temp file left
    monkeypatch.setattr(fileio.os, "replace", real_replace)
    assert fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False).fetched == 2


# ---------------------------------------------------------------- network path (faked urlopen)


class _FakeNet:
    def __init__(self, responses: dict[str, bytes]):
        self.responses = responses
        self.seen: list[str] = []

    def __call__(self, req, timeout=None):
        url = req.full_url if hasattr(req, "full_url") else req
        self.seen.append(url)
        if url not in self.responses:
            raise urllib.error.URLError("Name or service not known")
        return io.BytesIO(self.responses[url])


def _sdist(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_network_fetch_github_archive_and_derived(tmp_path, monkeypatch):
    gh = make_entry("github/o/r/x.txt", b"hello\n")
    task_json = b'{"examples": []}'
    sdist = _sdist({"pkg-1.0/pkg/tasks/t/task.json": task_json, "pkg-1.0/pkg/setup.py": b"print()"})
    archive = Archive(name="pkg==1.0", package="pkg", version="1.0", filename="pkg-1.0.tar.gz",
                      url="https://files.example/pkg-1.0.tar.gz", sha256=hashlib.sha256(sdist).hexdigest(),
                      member_prefix="pkg-1.0/", mirror_prefix="pypi/pkg-1.0/", license="Apache-2.0")
    member = make_entry("pypi/pkg-1.0/pkg/tasks/t/task.json", task_json, url="pypi:pkg==1.0!pkg-1.0/pkg/tasks/t/task.json",
                        origin="pypi:pkg==1.0")
    py_source = b'X = 1\nMETA = {"t1": {"definition": "d\\u00e9f", "n": 3}}\n'
    derived_bytes = json.dumps({"t1": {"definition": "d\u00e9f", "n": 3}}, indent=1, ensure_ascii=False).encode()
    derived = make_entry("derived/meta.json", derived_bytes, url="https://raw.githubusercontent.com/o/r/c/consts.py",
                         origin="derived:META")
    manifest = Manifest(files=(derived, gh, member), archives=(archive,), repositories=())
    net = _FakeNet({gh.url: b"hello\n", archive.url: sdist, derived.url: py_source})
    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", net)
    monkeypatch.delenv("TASKMIX_MIRROR", raising=False)
    cache = tmp_path / "c"
    report = fetch(cache=cache, manifest=manifest, progress=False)
    assert (report.fetched, report.origin) == (3, "network")
    assert (cache / member.path).read_bytes() == task_json
    assert (cache / derived.path).read_bytes() == derived_bytes
    assert not (cache / "pypi/pkg-1.0/pkg/setup.py").exists()

    # a tampered download is refused with the URL named, and nothing is written
    net.responses[gh.url] = b"evil\n"
    with pytest.raises(DataError, match="sha256 mismatch") as e:
        fetch(cache=tmp_path / "c2", manifest=manifest, only="github/*", progress=False)
    assert gh.url in str(e.value)
    assert not (tmp_path / "c2" / gh.path).exists()
    # an unreachable host is one line naming the URL
    net.responses.pop(gh.url)
    with pytest.raises(TaskmixError, match="download failed"):
        fetch(cache=tmp_path / "c3", manifest=manifest, only="github/*", progress=False)


def test_derive_from_python_rejects_non_literals():
    assert json.loads(derive_from_python(b"A = [1, 2]\n", "A", "f.py")) == [1, 2]
    with pytest.raises(DataError, match="not a plain literal"):
        derive_from_python(b"A = make()\n", "A", "f.py")
    with pytest.raises(DataError, match="no assignment"):
        derive_from_python(b"B = 1\n", "A", "f.py")
    with pytest.raises(DataError, match="cannot parse"):
        derive_from_python(b"A = (\n", "A", "f.py")


# ---------------------------------------------------------------- manifest and require


def test_committed_manifest_matches_the_mirror(mirror):
    manifest = load_manifest()
    pinned = {}
    for line in (mirror / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split(None, 1)
        pinned[name.strip().removeprefix("./")] = digest
    assert len(manifest.files) == 1286
    for f in manifest.files:
        assert pinned[f.path] == f.sha256
        if f.origin.startswith("github:"):
            assert f.url.startswith("https://raw.githubusercontent.com/") and f.path.split("/", 3)[3] in f.url
    assert manifest.archive("bigbench==1.0.0").sha256 == "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
    assert sum(f.path.startswith("pypi/bigbench-1.0.0/") for f in manifest.files) == 807


def test_generator_script_reproduces_committed_manifest(mirror, tmp_path):
    import runpy

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "sources.json"
    mod = runpy.run_path(str(root / "scripts" / "gen_sources.py"))
    assert mod["main"]([str(mirror), str(out)]) == 0
    assert out.read_bytes() == (root / "src/taskmix/resources/sources.json").read_bytes()


def test_manifest_refuses_unsafe_paths():
    entry = {"path": "../etc/passwd", "sha256": "0" * 64, "size": 1, "url": "https://x"}
    with pytest.raises(DataError, match="unsafe source path"):
        parse_manifest({"files": [entry]})
    with pytest.raises(DataError, match="malformed sources manifest"):
        parse_manifest({"files": [{"path": "a"}]})


def test_require_copies_from_mirror_or_says_fetch(mirror, tmp_path, monkeypatch):
    rel = "github/cardiffnlp/tweeteval/datasets/hate/mapping.txt"
    monkeypatch.setenv("TASKMIX_MIRROR", str(mirror))
    path = require(tmp_path / "root", rel)
    assert path.read_bytes() == (mirror / rel).read_bytes()
    assert require(tmp_path / "root", rel) == path  # present: returned as is
    monkeypatch.delenv("TASKMIX_MIRROR")
    with pytest.raises(TaskmixError, match="taskmix data fetch"):
        require(tmp_path / "other", rel)
    with pytest.raises(DataError, match="unsafe"):
        require(tmp_path / "root", "../x")


# ---------------------------------------------------------------- CLI


def test_cli_fetch_subset_from_real_mirror_and_verify(mirror, tmp_path, capsys):
    cache = tmp_path / "cache"
    code, out, err = _run(["data", "fetch", "--mirror", str(mirror), "--cache", str(cache),
                           "--only", "github/cardiffnlp/*", "--no-progress"], capsys)
    assert code == 0, err
    assert out.startswith("60 files: 60 fetched")
    code, out, _ = _run(["data", "verify", "--cache", str(cache), "--only", "github/cardiffnlp/*"], capsys)
    assert (code, out.strip()) == (0, "60 of 60 files verified")
    code, out, err = _run(["data", "verify", "--cache", str(cache)], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "missing" in err


@pytest.mark.parametrize("case", ["mirror", "cache", "checksum", "only"])
def test_cli_bad_input_is_one_line(case, tmp_path, capsys):
    rel = "github/cardiffnlp/tweeteval/datasets/hate/mapping.txt"
    fake = tmp_path / "fake-mirror"
    (fake / rel).parent.mkdir(parents=True)
    (fake / rel).write_text("0\tnot-hate\n1\tevil\n")
    afile = tmp_path / "file"
    afile.write_text("x")
    argv = {
        "mirror": ["data", "fetch", "--mirror", str(tmp_path / "no-such-dir"), "--cache", str(tmp_path / "c")],
        "cache": ["data", "fetch", "--mirror", str(fake), "--cache", str(afile)],
        "checksum": ["data", "fetch", "--mirror", str(fake), "--cache", str(tmp_path / "c"), "--only", rel],
        "only": ["data", "fetch", "--mirror", str(fake), "--cache", str(tmp_path / "c"), "--only", "zzz/*"],
    }[case]
    code, out, err = _run(argv, capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taskmix: error:"), err
    expect = {"mirror": "no-such-dir", "cache": str(afile), "checksum": str(fake / rel), "only": "zzz/*"}[case]
    assert expect in lines[0]
    assert not (tmp_path / "c" / rel).exists()


def test_cli_verify_names_a_tampered_file(mirror, tmp_path, capsys):
    cache = tmp_path / "cache"
    only = "github/trunghlt/*"
    assert _run(["data", "fetch", "--mirror", str(mirror), "--cache", str(cache), "--only", only, "--no-progress"], capsys)[0] == 0
    rel = "github/trunghlt/AdverseDrugReaction/ADE-Corpus-V2/ADE-NEG.txt"
    with open(cache / rel, "ab") as f:
        f.write(b"1 NEG injected\n")
    code, out, err = _run(["data", "verify", "--cache", str(cache), "--only", only], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert rel in err and "sha256 mismatch" in err
    # fetching again repairs it
    code, out, _ = _run(["data", "fetch", "--mirror", str(mirror), "--cache", str(cache), "--only", only, "--no-progress"], capsys)
    assert code == 0 and ": 1 fetched" in out
