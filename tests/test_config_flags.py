"""Config fields carry their documentation once; CLI flags are made from it; one dtype spelling."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from taskmix.cli import main
from taskmix.commands.flags import add_config_flags, given
from taskmix.config import canonical_dtype, field_docs
from taskmix.errors import ConfigError
from taskmix.evaluation.config import EvalConfig
from taskmix.mixture.config import MixtureConfig
from taskmix.models import precision
from taskmix.pipeline.experiment import ExperimentConfig, SelectSection
from taskmix.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class _Doc:
    """Something.

    alpha: the first
        line goes on here.
    beta, gamma: shared text.
    Not a field: ignored.
    """

    alpha: int = 1
    beta: str = "b"
    gamma: bool = False


def test_field_docs_reads_names_and_continuation_lines():
    assert field_docs(_Doc) == {"alpha": "the first line goes on here.", "beta": "shared text.", "gamma": "shared text."}


@pytest.mark.parametrize("cls", [EvalConfig, TrainConfig, MixtureConfig, ExperimentConfig, SelectSection])
def test_every_config_field_is_documented(cls):
    docs = field_docs(cls)
    internal = {"source_path"}  # set by load_experiment, never written by a user
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in docs and f.name not in internal]
    assert not missing, missing


def _help_of(argv: list[str], capsys) -> str:
    assert main([*argv, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv, cls, fields", [
    (["eval"], EvalConfig, ("k", "max_examples", "max_context_tokens", "block_size", "dtype")),
    (["export", "lm-eval"], EvalConfig, ("k", "max_examples", "settings", "format")),
    (["train"], TrainConfig, ("lr", "max_length", "grad_accum", "save_every")),
    (["build", "symbol"], MixtureConfig, ("per_task_cap", "max_length", "instruction_share")),
])
def test_flag_help_is_the_config_fields_documentation_and_default(argv, cls, fields, capsys):
    text = _help_of(argv, capsys)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name in fields:
        doc = " ".join(field_docs(cls)[name].replace("``", "").split())
        assert doc[:60] in text, (name, doc)
        if defaults[name] not in (None, "", ()) and not isinstance(defaults[name], bool):
            shown = ",".join(defaults[name]) if isinstance(defaults[name], tuple) else defaults[name]
            assert f"{doc} (default: {shown})"[-80:] in text, name


def test_unset_flags_leave_the_config_default():
    parser = argparse.ArgumentParser()
    add_config_flags(parser, EvalConfig, "k", "settings", "plots", "shared_demos", "seeds")
    assert given(parser.parse_args([]), "k", "settings", "plots", "shared_demos", "seeds") == {}
    args = parser.parse_args(["--k", "2", "--settings", "flipped,instr_labels", "--no-plots", "--seeds", "0,3"])
    assert given(args, "k", "settings", "plots", "shared_demos", "seeds") == {
        "k": 2, "settings": ["flipped", "instr_labels"], "plots": False, "seeds": [0, 3]}


def test_dtype_has_one_spelling_inside_and_both_outside():
    for spelled, canonical in (("bf16", "bf16"), ("bfloat16", "bf16"), ("BFloat16", "bf16"), ("fp32", "fp32"),
                               ("float32", "fp32")):
        assert canonical_dtype(spelled, "x") == canonical
        assert TrainConfig(dtype=spelled).dtype == canonical
        assert EvalConfig(model="m", tasks=("subj",), dtype=spelled).dtype == canonical
    with pytest.raises(ConfigError, match="dtype must be fp32"):
        TrainConfig(dtype="fp16")
    with pytest.raises(ConfigError, match="dtype must be fp32"):
        EvalConfig(model="m", tasks=("subj",), dtype="half")


def test_eval_run_keys_do_not_change_with_the_dtype_spelling():
    # keys computed by the code before one spelling existed (eval then said float32/bfloat16;
    # its default protocol, fresh exemplars, is block_size=1 today)
    base = dict(model="m", tasks=("subj",), out="o", block_size=1)
    assert EvalConfig(**base).run_key() == "f67314ed04da9ea3"
    assert EvalConfig(**base, dtype="fp32").run_key() == "f67314ed04da9ea3"
    assert EvalConfig(**base, dtype="bf16").run_key() == EvalConfig(**base, dtype="bfloat16").run_key() == "845f55f82ba2ccc9"


def test_every_command_accepts_both_dtype_spellings(tmp_path, capsys):
    for spelled in ("bf16", "bfloat16", "fp32", "float32", "auto"):
        precision._warn_slow_bf16.cache_clear()  # a CPU without native bf16 would warn again here, if asked
        # parsing succeeds; the command then stops at the missing model, in one line
        assert main(["train", "--model", str(tmp_path / "none"), "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                     "--dtype", spelled]) == 2
        assert main(["eval", "--model", str(tmp_path / "none"), "--tasks", "subj", "--out", str(tmp_path / "o"),
                     "--dtype", spelled]) == 2
        err = capsys.readouterr().err
        # exactly the two missing-model lines: no dtype probe or slow-bf16 warning before the input is checked
        assert "invalid choice" not in err and len(err.splitlines()) == 2, err
