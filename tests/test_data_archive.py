"""Safe archive extraction: hostile tar and zip archives are refused before anything is written."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from taskmix.data.archive import check_member_name, safe_extract
from taskmix.errors import DataError


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_extracts_json_members_only_and_strips_prefix(tmp_path):
    arc = _tar(tmp_path / "pkg.tar.gz", [
        (_file("pkg-1.0/a/task.json"), b'{"a": 1}'),
        (_file("pkg-1.0/a/readme.md"), b"# no"),
        (_file("pkg-1.0/b/c/task.json"), b'{"c": 2}'),
        (_file("other/x.json"), b"{}"),
    ])
    out = tmp_path / "out"
    written = safe_extract(arc, out, strip_prefix="pkg-1.0/")
    assert sorted(p.relative_to(out.resolve()).as_posix() for p in written) == ["a/task.json", "b/c/task.json"]
    assert (out / "a" / "task.json").read_bytes() == b'{"a": 1}'
    assert not (out / "a" / "readme.md").exists()
    assert not (out / "x.json").exists() and not (out / "other").exists()


@pytest.mark.parametrize("name", ["../evil.json", "a/../../evil.json", "/etc/evil.json", "C:/evil.json", "a\\..\\..\\evil.json"])
def test_tar_path_escape_is_refused(tmp_path, name):
    arc = _tar(tmp_path / "bad.tar", [(_file("ok.json"), b"{}"), (_file(name), b"{}")], mode="w")
    out = tmp_path / "out"
    with pytest.raises(DataError, match="refusing archive") as e:
        safe_extract(arc, out)
    assert str(arc) in str(e.value)
    assert not (out / "ok.json").exists()  # nothing written from a refused archive
    assert not (tmp_path / "evil.json").exists()


@pytest.mark.parametrize("kind,what", [(tarfile.SYMTYPE, "symlink"), (tarfile.LNKTYPE, "hardlink")])
def test_tar_links_are_refused(tmp_path, kind, what):
    arc = _tar(tmp_path / "links.tar", [(_link("x.json", "/etc/passwd", kind), None)], mode="w")
    with pytest.raises(DataError, match=what):
        safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "out" / "x.json").exists()


def test_tar_devices_and_fifos_are_refused(tmp_path):
    dev = tarfile.TarInfo("dev.json")
    dev.type = tarfile.CHRTYPE
    fifo = tarfile.TarInfo("fifo.json")
    fifo.type = tarfile.FIFOTYPE
    for info, what in ((dev, "device"), (fifo, "other")):
        arc = _tar(tmp_path / f"{what}.tar", [(info, None)], mode="w")
        with pytest.raises(DataError, match=what):
            safe_extract(arc, tmp_path / "out")


def test_zip_escape_and_symlink_are_refused(tmp_path):
    arc = tmp_path / "bad.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("ok.json", "{}")
        zf.writestr("../../evil.json", "{}")
    with pytest.raises(DataError, match="leaves the target folder"):
        safe_extract(arc, tmp_path / "out")

    arc2 = tmp_path / "link.zip"
    with zipfile.ZipFile(arc2, "w") as zf:
        info = zipfile.ZipInfo("link.json")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="symlink"):
        safe_extract(arc2, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_zip_good_members_extract(tmp_path):
    arc = tmp_path / "good.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("d/one.json", '{"x": 1}')
        zf.writestr("d/two.txt", "no")
    written = safe_extract(arc, tmp_path / "out")
    assert [p.name for p in written] == ["one.json"]


def test_corrupt_and_missing_archives_are_data_errors(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage-not-a-gzip-stream" * 3)
    with pytest.raises(DataError, match="junk.tar.gz"):
        safe_extract(junk, tmp_path / "out")
    with pytest.raises(DataError, match="no such archive"):
        safe_extract(tmp_path / "absent.tar", tmp_path / "out")


def test_truncated_tar_is_a_data_error(tmp_path):
    arc = _tar(tmp_path / "t.tar.gz", [(_file("a.json"), b"{}" * 5000), (_file("b.json"), b"[]" * 5000)])
    data = arc.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.tar.gz"):
        safe_extract(cut, tmp_path / "out")


def test_member_name_normalisation():
    assert check_member_name("a", "./x/./y.json") == "x/y.json"
    with pytest.raises(DataError):
        check_member_name("a", "x/\x00.json")
