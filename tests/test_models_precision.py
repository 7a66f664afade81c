"""``dtype: auto`` and the bf16 check: the choice, its one warning, and that runs record the
format they used (never ``auto``), so stage keys and output folders match an explicit run."""

from __future__ import annotations

import json

import pytest

from taskmix.config import canonical_dtype
from taskmix.evaluation import EvalConfig, run_eval
from taskmix.models import precision
from taskmix.training.config import TrainConfig
from tests.plugins.eval import FakeModel, make_classification_task

SLOW_BF16 = {"fp32": 125.0, "bf16": 0.9}  # measured on an AVX2-only AMD EPYC (module doc)
FAST_BF16 = {"fp32": 190.0, "bf16": 430.0}  # a CPU with AVX512-BF16


@pytest.fixture
def cpu(monkeypatch):
    """Pretend the CPU has the given fp32/bf16 speeds; the warning's once-only cache is reset."""
    def use(speeds: dict[str, float]) -> None:
        monkeypatch.setattr(precision, "cpu_matmul_gflops", lambda dtype: speeds[dtype])
        precision._warn_slow_bf16.cache_clear()
    yield use
    precision._warn_slow_bf16.cache_clear()


def test_auto_is_a_dtype_spelling_of_every_config():
    assert canonical_dtype("AUTO", "x") == "auto"
    assert TrainConfig(dtype="auto").dtype == "auto"
    assert EvalConfig(model="m", tasks=("subj",), dtype="Auto").dtype == "auto"


def test_auto_is_bf16_only_where_bf16_is_the_faster_format(cpu):
    cpu(SLOW_BF16)
    assert precision.concrete_dtype("auto", "cpu") == "fp32"
    cpu(FAST_BF16)
    assert precision.concrete_dtype("auto", "cpu") == "bf16"
    assert precision.concrete_dtype("fp32", "cpu") == "fp32"


def test_an_explicit_bf16_is_kept_and_warned_about_once_on_a_cpu_without_native_bf16(cpu, capsys):
    cpu(FAST_BF16)
    assert precision.concrete_dtype("bf16", "cpu") == "bf16"
    assert capsys.readouterr().err == ""
    cpu(SLOW_BF16)
    assert precision.concrete_dtype("bf16", "cpu") == "bf16"
    assert precision.concrete_dtype("bf16", "cpu") == "bf16"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no native bf16" in err[0] and "0.9 GFLOP/s against 125" in err[0]


def test_with_concrete_dtype_returns_the_same_config_when_nothing_changes(cpu):
    cpu(SLOW_BF16)
    fixed = TrainConfig(dtype="fp32")
    assert precision.with_concrete_dtype(fixed, "cpu") is fixed
    assert precision.with_concrete_dtype(TrainConfig(dtype="auto"), "cpu") == fixed


def test_the_probe_measures_both_formats_on_this_cpu():
    assert precision.cpu_matmul_gflops("fp32") > 0 and precision.cpu_matmul_gflops("bf16") > 0
    assert precision.device_type(for_training=False) == "cpu"


def test_an_evaluation_with_auto_records_the_format_it_used_and_is_the_explicit_run(cpu, tmp_path):
    task = make_classification_task("toy", n_train=16, n_test=4)
    cfg = dict(model="fake", tasks=("toy",), k=1, max_examples=4, out=str(tmp_path / "run"), progress=False,
               plots=False, bootstrap_samples=100, block_size=1)
    for speeds, used in ((SLOW_BF16, "fp32"), (FAST_BF16, "bf16")):
        cpu(speeds)
        auto = run_eval(EvalConfig(**cfg, dtype="auto", overwrite=True), model=FakeModel(), loader=lambda s: task)
        assert json.loads((tmp_path / "run" / "results.json").read_text())["config"]["dtype"] == used
        # the explicit format's run is the same run (same key): it reruns into the folder without --overwrite
        same = run_eval(EvalConfig(**cfg, dtype=used), model=FakeModel(), loader=lambda s: task)
        assert same.run_key == auto.run_key
