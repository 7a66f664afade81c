"""In-context-learning evaluation: suites, prompts -> model -> scores -> run folders.

Public API::

    EvalConfig                                   # evaluation.config
    run_eval(config, model=None, loader=None, write=True) -> EvalRun
    read_run(folder) -> EvalRun
    compare_runs(a, b, seed=0) -> tuple[Difference, ...]
    SUITES, suite_tasks(name)
"""

from __future__ import annotations

from .compare import Difference, compare_runs
from .config import EvalConfig
from .results import EvalRun, Prediction, read_run
from .runner import run_eval
from .suites import SUITES, suite_tasks

__all__ = ["Difference", "EvalConfig", "EvalRun", "Prediction", "SUITES", "compare_runs", "read_run", "run_eval", "suite_tasks"]
