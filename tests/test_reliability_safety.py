"""Hostile inputs: unsafe calls in the source tree, pickled model weights, YAML tags,
Jinja templates that reach for internals or files, and archive members that escape.

Complements tests/test_data_archive.py (tar/zip refusal), tests/test_data_fetch.py
(checksum refusal) and tests/test_loaders_instr_niv2_p3.py (safe templates YAML, basic
sandbox escapes).
"""

from __future__ import annotations

import ast
import io
import os
import pickle
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskmix.cli import main
from taskmix.errors import ConfigError, DataError, TaskmixError

SRC = Path(__file__).resolve().parents[1] / "src" / "taskmix"

# ---------------------------------------------------------------------------- source scan

BANNED_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader", "TemplateLoader"}


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def unsafe_calls(path: Path, root: Path = SRC.parent) -> list[str]:
    """``file:line: what`` for every unsafe construct in one Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root).as_posix()
    found = []

    def bad(node: ast.AST, what: str) -> None:
        found.append(f"{rel}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in BANNED_MODULES:
                    bad(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in BANNED_MODULES:
            bad(node, f"from {node.module} import")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name in ("eval", "exec", "compile", "__import__"):
                bad(node, f"{name}()")
            elif name in ("yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all", "yaml.full_load_all"):
                bad(node, name)
            elif name == "yaml.load":
                loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if loader is None or _dotted(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                    bad(node, "yaml.load without a SafeLoader")
            elif name in ("torch.load",) and not _is_true(_kw(node, "weights_only")):
                bad(node, "torch.load without weights_only=True")
            elif last in ("extractall", "extract") and name.split(".")[0] not in ("re",):
                bad(node, f"{name}() (use taskmix.data.archive.safe_extract)")
            elif name in ("os.system", "os.popen", "os.execv", "os.execvp", "os.spawnl", "pty.spawn"):
                bad(node, name)
            elif _is_true(_kw(node, "shell")):
                bad(node, f"{name}(shell=True)")
            elif _is_true(_kw(node, "trust_remote_code")):
                bad(node, f"{name}(trust_remote_code=True)")
            elif _is_true(_kw(node, "allow_pickle")):
                bad(node, f"{name}(allow_pickle=True)")
            elif last in ("read_pickle", "load_pickle"):
                bad(node, name)
            elif last == "from_pretrained" and "AutoModel" in name and _kw(node, "gguf_file") is None:
                if not _is_true(_kw(node, "use_safetensors")):
                    bad(node, f"{name} without use_safetensors=True (a .bin file is a pickle)")
    return found


def test_source_tree_has_no_unsafe_loading_or_execution():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 40
    problems = [p for f in files for p in unsafe_calls(f)]
    assert problems == [], "unsafe constructs:\n" + "\n".join(problems)


def test_the_scanner_catches_each_unsafe_construct(tmp_path):
    sample = tmp_path / "sample.py"
    code = (
        "import pickle\nimport yaml, torch, tarfile, subprocess, os\n"
        "yaml.load(t)\nyaml.load(t, Loader=yaml.Loader)\nyaml.full_load(t)\n"
        "torch.load(p)\ntorch.load(p, weights_only=False)\n"
        "tarfile.open(p).extractall(d)\nsubprocess.run(c, shell=True)\nos.system(c)\neval(s)\nexec(s)\n"
        "AutoModelForCausalLM.from_pretrained(d)\nAutoTokenizer.from_pretrained(d, trust_remote_code=True)\n"
        "np.load(p, allow_pickle=True)\n"
        # safe forms: not reported
        "yaml.safe_load(t)\nyaml.load(t, Loader=TemplateLoader)\ntorch.load(p, weights_only=True)\nmodel.eval()\n"
        "AutoModelForCausalLM.from_pretrained(d, use_safetensors=True)\nAutoModelForCausalLM.from_pretrained(d, gguf_file=g)\n"
    )
    sample.write_text(code)
    found = unsafe_calls(sample, tmp_path)
    assert [int(f.split(":")[1]) for f in found] == [1, *range(3, 16)], found


def test_template_loader_builds_templates_and_nothing_else(tmp_path):
    """The scanner allows ``yaml.load(..., Loader=TemplateLoader)``: it must act as a safe loader."""
    from taskmix.loaders.promptsource_templates import parse_templates

    marker = tmp_path / "ran"
    for tag in ("!!python/object/apply:os.system", "!!python/object/new:os.system", "!!python/name:os.system",
                "!!python/module:os"):
        text = f"dataset: x\ntemplates:\n  a: {tag} ['touch {marker}']\n"
        with pytest.raises(DataError, match="invalid templates YAML"):
            parse_templates(text)
    assert not marker.exists()
    good = "dataset: x\ntemplates:\n  a: !Template\n    id: a\n    name: n\n    jinja: '{{text}} ||| yes'\n"
    assert [t.name for t in parse_templates(good).templates] == ["n"]


# ---------------------------------------------------------------------------- pickled weights


def _evil_pickle(marker: Path) -> bytes:
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Evil(), protocol=2)


@pytest.fixture
def pickled_model(train_tiny_model, tmp_path) -> tuple[Path, Path]:
    """A model folder whose weights are a ``pytorch_model.bin`` that runs a command when unpickled."""
    import torch

    folder = tmp_path / "evil-model"
    shutil.copytree(train_tiny_model, folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "PWNED"
    buf = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(folder / "pytorch_model.bin", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, _evil_pickle(marker) if item.filename.endswith("data.pkl") else data)
    return folder, marker


def test_pickled_weights_are_never_unpickled_by_the_engine_or_training(pickled_model, tmp_path, capsys):
    from taskmix.models import load_model
    from taskmix.training import TrainConfig
    from taskmix.training.model import load_for_training

    folder, marker = pickled_model
    with pytest.raises(TaskmixError):
        load_model(folder, use_cache=False, show_progress=False)
    with pytest.raises(TaskmixError):
        load_for_training(folder, TrainConfig())
    assert not marker.exists()
    # through the command line: one line, no traceback
    task = tmp_path / "t.jsonl"
    task.write_text("".join(f'{{"text": "x{i}", "label": "{"ab"[i % 2]}"}}\n' for i in range(20)))
    rc = main(["eval", "--model", str(folder), "--tasks", str(task), "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0 and err.startswith("taskmix: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert not marker.exists()


# ---------------------------------------------------------------------------- YAML configs

YAML_ATTACKS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "tasks: !!python/object/apply:os.system ['touch {marker}']",
    "seed: !!python/name:os.system\n",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
]


@pytest.mark.parametrize("attack", YAML_ATTACKS)
def test_yaml_configs_are_loaded_safely(attack, tmp_path, capsys):
    from taskmix.config import load_yaml

    marker = tmp_path / "PWNED"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(attack.format(marker=marker))
    with pytest.raises(ConfigError) as e:
        load_yaml(cfg)
    assert str(cfg) in str(e.value) and "\n" not in str(e.value)
    for argv in (["build", "symbol", "--config", str(cfg), "--out", str(tmp_path / "m")],
                 ["eval", "--config", str(cfg), "--model", "x", "--out", str(tmp_path / "r")],
                 ["train", "--config", str(cfg), "--model", "x", "--data", "d", "--out", str(tmp_path / "t")]):
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert err.startswith("taskmix: error:") and err.count("\n") == 1, err
    assert not marker.exists()


# ---------------------------------------------------------------------------- Jinja sandbox

HOSTILE_TEMPLATES = [
    "{{ text.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ text|attr('__class__') }}",
    "{{ '{0.__class__}'.format(text) }}",
    "{{ self._TemplateReference__context }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['__builtins__']['open']('/etc/passwd').read() }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% from '/etc/passwd' import x %}",
    "{% extends '/etc/hostname' %}",
    "{{ open('/etc/passwd') }}",
    "{{ config.items() }}",
    "{{ [].append(1) }}",
    "{{ range(10**9)|list|length }}",  # larger than the sandbox's MAX_RANGE
    "{{ 2**99999 }}",  # folded while compiling, too long to print
    "{{ text|truncate(-1) }}",  # an assertion inside a filter
    "{{ text[::0] }}",
    "{% for %}",
]


@pytest.mark.parametrize("source", HOSTILE_TEMPLATES)
def test_hostile_templates_fail_with_one_line_error(source):
    from taskmix.loaders.jinja_sandbox import render

    with pytest.raises(TaskmixError) as e:
        render(source, {"text": "hello"}, where="templates.yaml:x")
    assert str(e.value).startswith("templates.yaml:x: ") and "\n" not in str(e.value)


def test_templates_with_internals_name_the_sandbox():
    from taskmix.loaders.jinja_sandbox import render

    for source in HOSTILE_TEMPLATES[:9]:
        with pytest.raises(TaskmixError, match="sandbox|undefined"):
            render(source, {"text": "hello"})


# Token soup: no '*', no loops and only short numbers, so no template can exhaust memory or time.
TOKENS = ["{{", "}}", "{%", "%}", "text", "row", ".", "|", "(", ")", "[", "]", "'", '"', ",", ":", "~", "+", "-", "/",
          "1", "0", "upper", "list", "join", "attr", "__class__", "__globals__", "__init__", "mro", "self", "lipsum",
          "cycler", "if", "else", "endif", "set", "=", "include", "import", "x", " ", "range", "length", "int"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_random_templates_render_or_fail_with_one_line_error(source):
    from taskmix.loaders.jinja_sandbox import render

    try:
        out = render(source, {"text": "hello", "row": {"a": "b"}})
    except TaskmixError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(out, str)


# ---------------------------------------------------------------------------- archives (gaps)


@pytest.mark.parametrize("name", ["/etc/evil.json", "C:\\evil.json", "..\\evil.json", "a/../../evil.json", "./../x.json"])
def test_zip_absolute_drive_and_backslash_names_are_refused(tmp_path, name):
    from taskmix.data.archive import safe_extract

    arc = tmp_path / "bad.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("ok.json", "{}")
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # ZipInfo normalises names given to the constructor; write the raw one
        zf.writestr(info, "{}")
    with pytest.raises(DataError, match="refusing archive|leaves the target|absolute"):
        safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.json").exists()
    assert not list(tmp_path.parent.glob("evil.json"))


def test_tar_symlinked_folder_then_file_through_it_is_refused(tmp_path):
    from taskmix.data.archive import safe_extract

    arc = tmp_path / "bad.tar"
    with tarfile.open(arc, "w") as tf:
        link = tarfile.TarInfo("d")
        link.type = tarfile.SYMTYPE
        link.linkname = str(tmp_path / "outside")
        tf.addfile(link)
        data = b"{}"
        f = tarfile.TarInfo("d/evil.json")
        f.size = len(data)
        tf.addfile(f, io.BytesIO(data))
    (tmp_path / "outside").mkdir()
    with pytest.raises(DataError, match="symlink"):
        safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "outside" / "evil.json").exists()


def test_fetch_refuses_a_mirror_file_whose_checksum_differs_and_keeps_the_cache(fake_mirror, tmp_path):
    """A file swapped in the mirror after a good fetch is refused; the good cached copy stays."""
    from taskmix.data.fetch import fetch

    mirror, manifest, files = fake_mirror
    cache = tmp_path / "c"
    fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    (cache / "github/o/r/a.txt").unlink()
    (mirror / "github/o/r/a.txt").write_bytes(b"evil\n")
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch(cache=cache, mirror=mirror, manifest=manifest, progress=False)
    assert not (cache / "github/o/r/a.txt").exists()
    assert (cache / "github/o/r/sub/b.json").read_bytes() == files["github/o/r/sub/b.json"]


# ---------------------------------------------------------------------------- template resource limits

RESOURCE_BOMBS = [
    "{{ 'a' * 10**10 }}",
    "{{ text * 10**9 }}",
    "{{ [1] * 10**8 }}",
    "{{ 7 ** (10 ** 8) }}",
    "{{ text | center(10**10) }}",
    "{{ text | indent(10**10) }}",
    "{{ text | wordwrap(10**10) }}",
    "{{ '%099999999d' % 1 }}",
    "{{ '%099999999d' | format(1) }}",
    "{{ '{:>99999999}'.format(1) }}",
    "{{ '{0:{1}}'.format(1, 10**9) }}",
    "{{ text.ljust(10**9) }}",
    "{{ text.rjust(width=10**9) }}",
    "{{ text.zfill(10**9) }}",
    "{% for i in range(99999) %}{{ 'x' * 999999 }}{% endfor %}",
]


@pytest.mark.parametrize("source", RESOURCE_BOMBS)
def test_templates_cannot_build_huge_values(source):
    import time

    from taskmix.loaders.jinja_sandbox import MAX_STRING, render

    t0 = time.perf_counter()
    with pytest.raises(TaskmixError, match=f"limit of {MAX_STRING:,} characters") as e:
        render(source, {"text": "hello"}, where="templates.yaml:x")
    assert "\n" not in str(e.value) and "sandbox" in str(e.value)
    assert time.perf_counter() - t0 < 2  # refused before the value is built


@pytest.mark.parametrize("source, expected", [
    ("{{ text * 3 }}", "hellohellohello"), ("{{ 2 ** 10 }}", "1024"), ("{{ '%05d' % 3 }}", "00003"),
    ("{{ 7 % 3 }}", "1"), ("{{ '{:>7}'.format(text) }}", "  hello"), ("{{ text | center(9) }}", "  hello  "),
    ("{{ 'Answer: %s' | format(text) }}", "Answer: hello"), ("{{ text.ljust(7) }}|", "hello  |"),
    ("{{ 'id 12345678: %s' % text }}", "id 12345678: hello"),
    ("{% for i in range(3) %}{{ i }},{% endfor %}", "0,1,2,"),
])
def test_bounded_sandbox_still_renders_ordinary_templates(source, expected):
    from taskmix.loaders.jinja_sandbox import render

    assert render(source, {"text": "hello"}) == expected
