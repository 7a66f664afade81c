"""``taskmix run experiment.yaml``: select -> build -> train -> eval -> report.

Each stage writes into ``<run>/<stage>/`` under a key of its inputs (see
:mod:`taskmix.pipeline.stages`): a rerun skips finished stages, resumes an interrupted
one (training from its checkpoint, evaluation from the engine's request cache) and
keeps the outputs of a stage whose inputs changed. Before any stage runs, the
evaluations are checked as far as they can be without their models (tasks, settings,
exemplars), so a mistake there does not surface after hours of training; and a run
folder that holds something other than an experiment is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..config import key_dict, to_dict
from ..errors import TaskmixError
from ..evaluation.preflight import prepare_eval
from ..evaluation.runner import run_eval
from ..fileio import atomic_write_json, atomic_write_text, write_failures
from ..mixture.build import build_symbol_mixture, prompt_check
from ..models.loading import SCORING_VERSION
from ..models.precision import device_type, with_concrete_dtype
from ..progress import quiet_libraries
from ..report import ReportInput, write_report
from ..report.render import SelectionRow
from ..selection import SelectedTask
from ..selection.controls import ProblemFn
from ..selection.tuning_pool import TuningSelection, select_tuning
from ..training import rundir
from ..training.loop import train
from ..versions import REPORT_PACKAGES, package_versions
from .experiment import ExperimentConfig, SelectSection
from .stages import StageRunner

EXPERIMENT_FILE = "experiment.json"


@dataclass(frozen=True)
class ExperimentResult:
    run_dir: Path
    selected: tuple[Any, ...]
    mixture_dir: Path | None
    tuned_model: Path | None
    evals: tuple[tuple[str, Path], ...]
    report_html: Path | None
    seconds: float


def run_selection(sel: SelectSection, seed: int, problem: ProblemFn | None = None) -> TuningSelection:
    """The select stage's choice for section ``sel`` and the experiment's ``seed``
    (``problem``: which tasks a control must replace; see ``select_tuning``)."""
    return select_tuning(
        sel.pool, sel.k, sel.method, target=sel.target, instruction=sel.instruction, aggregate=sel.aggregate,
        encoder=sel.encoder or None, with_templates=sel.with_templates, exclude_same_source=sel.exclude_same_source,
        seed=seed, draw=sel.draw, problem=problem,
    )


def _select(cfg: ExperimentConfig, d: Path, log: Callable[[str], None] = print) -> tuple[Any, ...]:
    """Run the select section; ``selection.json`` records the tasks, the pool, and every
    chosen task that could not be built (with why, and what replaced it)."""
    sel = cfg.select
    assert sel is not None
    problem = None
    if sel.method in ("random", "all"):  # a control replaces (or leaves out) a task that yields no prompt
        problem = prompt_check(cfg.mixture_config(sel.pool[:1]))
    result = run_selection(sel, cfg.seed, problem)
    record: dict[str, Any] = {"target": sel.target or sel.instruction, "tasks": [c.__dict__ for c in result.tasks],
                              "method": sel.method, "pool": list(result.pool),
                              "removed_from_pool": list(sel.removed_from_pool), "excluded_same_source": list(result.excluded),
                              "replaced": [r.__dict__ for r in result.replaced]}
    if sel.method == "random":
        record["draw"] = {"seed": cfg.seed, "draw": sel.draw}
    if sel.method == "all":
        record["per_task_cap"] = cfg.mixture_config(tuple(t.name for t in result.tasks)).per_task_cap
    atomic_write_json(d / "selection.json", record)
    for r in result.replaced:
        log(f"[select] {r.task} cannot be used ({r.reason}); " + (f"replaced by {r.replaced_by}" if r.replaced_by else "left out"))
    return result.tasks


def select_material(cfg: ExperimentConfig) -> dict[str, Any]:
    """What the select stage's output depends on: the section (and, for the controls, which
    tasks yield a prompt: the build section and the tokenizer's model)."""
    assert cfg.select is not None
    material: dict[str, Any] = {"select": cfg.select.identity()}
    if cfg.select.method in ("random", "all"):
        material["build"] = cfg.build
    return material


def _load_selection(d: Path) -> tuple[Any, ...]:
    data = json.loads((d / "selection.json").read_text(encoding="utf-8"))
    return tuple(SelectedTask(**row) for row in data["tasks"])


def check_run_dir(run_dir: Path) -> None:
    """A run folder is new, empty, or an earlier run of an experiment (``experiment.json``)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise TaskmixError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not (run_dir / EXPERIMENT_FILE).is_file():
        raise TaskmixError(f"{run_dir}: holds files that are not an experiment run's; choose another --out")


def check_evaluations(cfg: ExperimentConfig, labels: tuple[str, ...]) -> dict[str, Callable[[str], Any]]:
    """Check each evaluation of ``labels`` without its model (the tuned one does not exist
    yet); the task loaders that hold the tasks loaded here, by ``base``/``tuned``."""
    return {label: prepare_eval(cfg.eval_config(cfg.model, ""), check_model=label == "base") for label in labels}


def run_experiment(cfg: ExperimentConfig, log: Callable[[str], None] = print, evaluate: bool = True) -> ExperimentResult:
    """Run (or resume) every configured stage of ``cfg``; returns where everything is.
    ``evaluate=False`` stops after training (no evaluation, no report); a later run with
    evaluation reuses the stages that ran."""
    t0 = time.time()
    run_dir = cfg.run_dir
    check_run_dir(run_dir)
    eval_labels = cfg.eval_models if evaluate else ()
    loaders = check_evaluations(cfg, eval_labels)
    tcfg = cfg.train_config()
    if tcfg is not None:  # auto -> bf16 or fp32 here, so the stage key holds the one used
        tcfg = with_concrete_dtype(tcfg, device_type(for_training=True))
    quiet_libraries(all([tcfg.progress if tcfg else True, cfg.eval_config(cfg.model, "").progress]))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / EXPERIMENT_FILE, to_dict(cfg))
    runner = StageRunner(run_dir, log=log)
    base = {"taskmix": __version__, "model": cfg.model}

    selected: tuple[Any, ...] = ()
    select_key = None
    if cfg.select is not None:
        selected, select_key = runner.run("select", {**base, **select_material(cfg)},
                                          lambda d: _select(cfg, d, log), _load_selection)
        scored = cfg.select.method == "insta"
        log(f"[select] {cfg.select.method}: " + ", ".join(f"{s.name} ({s.score:.3f})" if scored else s.name for s in selected))

    mixture_dir = None
    build_key = None
    if cfg.build is not None:
        mcfg = cfg.mixture_config(tuple(s.name for s in selected) if selected else None)

        def build(d: Path) -> Path:
            build_symbol_mixture(mcfg, d / "mixture")
            return d / "mixture"

        mixture_dir, build_key = runner.run("build", {**base, "select": select_key, "build": key_dict(mcfg)},
                                            build, lambda d: d / "mixture")

    tuned = None
    tuned_key = None
    if cfg.train is not None:

        def do_train(d: Path) -> Path:
            with write_failures(d / "run"):
                return Path(train(cfg.model, mixture_dir, d / "run", tcfg).model_dir)

        def load_trained(d: Path) -> Path:
            return d / "run" / rundir.MODEL_DIR

        tuned, _ = runner.run("train", {**base, "build": build_key, "train": key_dict(tcfg)}, do_train, load_trained)
        tuned_key = runner.outcomes[-1].key

    evals: list[tuple[str, Path]] = []
    for label in eval_labels:
        model = cfg.model if label == "base" else str(tuned)
        name = f"eval-{label}"
        ecfg = with_concrete_dtype(cfg.eval_config(model, str(runner.stage_dir(name) / "results")), "cpu")
        upstream = tuned_key if label == "tuned" else None
        material = {**base, "upstream": upstream, "scoring": SCORING_VERSION,  # new scoring rules: evaluate again
                    "eval": {k: v for k, v in key_dict(ecfg).items() if k not in ("model", "out")}}

        def do_eval(d: Path, ecfg: Any = ecfg, label: str = label) -> Path:
            with write_failures(d / "results"):
                run_eval(ecfg, loader=loaders[label])
            return d / "results"

        folder, _ = runner.run(name, material, do_eval, lambda d: d / "results")
        evals.append((label, folder))

    report_html = None
    if not evaluate:
        log("[eval] left out (evaluate=False): no evaluation and no report; run again without it to evaluate")
    elif cfg.report:
        config_yaml = Path(cfg.source_path).read_text(encoding="utf-8") if cfg.source_path else json.dumps(to_dict(cfg), indent=2)
        loss_log = runner.stage_dir("train") / "run" / "loss.jsonl" if cfg.train is not None else None
        report = ReportInput(
            title=cfg.name,
            run_dir=run_dir.resolve(),
            config_yaml=config_yaml,
            versions=package_versions(REPORT_PACKAGES, missing="not installed"),
            evals=tuple(evals),
            loss_log=loss_log,
            selection_target=(cfg.select.target or cfg.select.instruction) if cfg.select else None,
            selection=tuple(SelectionRow(s.rank, s.name, s.score, s.category, s.source_dataset) for s in selected),
            stages=tuple((o.name, o.seconds, o.skipped) for o in runner.outcomes),
        )
        _, report_html = write_report(report, run_dir)
        log(f"[report] {run_dir / 'report.md'} and {report_html}")
    seconds = time.time() - t0
    atomic_write_text(run_dir / "DONE", f"finished in {seconds:.1f}s\n")
    return ExperimentResult(run_dir, selected, mixture_dir, tuned, tuple(evals), report_html, seconds)
