"""Records of an evaluation run and how they are written and read back.

A run folder holds:

* ``results.json`` -- config, model fingerprint, versions, timing, every :class:`Score`
  (per dataset x setting, and averages per setting), notes;
* ``results.md`` -- the same as tables (accuracy % with 95% intervals, balanced accuracy,
  the random-guess baseline, cells where one answer exceeds 80% of the queries flagged);
* ``predictions.jsonl`` -- one :class:`Prediction` per evaluated prompt (streamed to disk
  while the evaluation runs, see :class:`PredictionWriter`; read back lazily by
  :class:`StoredPredictions`, so neither side holds every prediction in memory);
* ``accuracy_by_setting.png``, ``accuracy_by_dataset.png`` -- plots.

Every file is written atomically; ``results.json`` is written last, so a folder with a
``results.json`` is complete.

``results.json`` fields added since schema 1 was introduced (additive: older files read
the same, their scores simply lack them):

* each score's ``extra`` (strings, like its ``metric``, ``interval`` and
  ``dropped_exemplars``) gains ``balanced_accuracy``, ``balanced_ci_low``,
  ``balanced_ci_high`` (classification), ``top_prediction_share``, ``chance`` (the
  random-guess baseline 1/classes; classification), ``classes``, ``clusters`` and
  ``largest_cluster``; averages hold their means over datasets
  (:class:`taskmix.evaluation.summary.Diagnostics` reads them back typed);
* ``interval`` says which interval a score has: ``wilson``, ``cluster bootstrap (B)``,
  ``stratified bootstrap (B)``, ``stratified cluster bootstrap (B)`` or ``none (one
  demonstration set)`` (then ``ci_low``/``ci_high`` are 0 and 1);
* each prediction in ``predictions.jsonl`` gains ``seed`` and ``demo_set`` (the id of its
  demonstration set; queries with the same seed, task, setting and demo set share one,
  and the intervals resample them together). Lines without them read as seed 0 and a
  demonstration set of their own.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import TaskmixError
from ..fileio import atomic_open, atomic_write_json, atomic_write_text, temp_siblings
from ..records import Score
from .plots import ordered, write_plots
from .summary import AVERAGE, Diagnostics, has_interval, mean_chance, run_diagnostics

RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"
MARKDOWN_FILE = "results.md"
SCHEMA = 1


@dataclass(frozen=True)
class Prediction:
    """What the model did on one prompt.

    Classification: ``candidates`` (shown labels), ``scores`` (ranking score per
    candidate), ``prediction`` and ``answer`` (indices). Free-form: ``generated`` and
    ``target``. ``correct`` is the outcome either way. ``seed`` is the evaluation seed
    the prompt was made with; ``demo_set`` the id of its demonstration set (queries with
    the same seed, task, setting and ``demo_set`` share it and are not independent;
    ``""``: a demonstration set of its own).
    """

    task: str
    setting: str
    example_uid: str
    correct: bool
    answer: int | None = None
    prediction: int | None = None
    candidates: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    target: str | None = None
    generated: str | None = None
    format_name: str = ""
    n_exemplars: int = 0
    dropped_exemplars: int = 0
    seed: int = 0
    demo_set: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Prediction":
        data = dict(data)
        data["candidates"] = tuple(data.get("candidates") or ())
        data["scores"] = tuple(data.get("scores") or ())
        return cls(**data)


def _prediction_line(p: Prediction) -> bytes:
    return (json.dumps(p.to_json(), ensure_ascii=False) + "\n").encode("utf-8")


class StoredPredictions(Sequence):
    """The predictions of a run folder, read from ``predictions.jsonl`` line by line each
    time they are iterated: a run's predictions are never all in memory at once.

    Indexing works (by reading up to the index), but iteration is the way to use it.
    Compares equal to any sequence of the same predictions.
    """

    def __init__(self, path: str | Path, count: int | None = None):
        self.path = Path(path)
        self._count = count

    def __iter__(self) -> Iterator[Prediction]:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield Prediction.from_json(json.loads(line))
                except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as e:
                    raise TaskmixError(f"{self.path}:{i}: malformed prediction ({e})") from None

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self)
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return list(self)[index]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        for i, p in enumerate(self):
            if i == index:
                return p
        raise IndexError(index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __repr__(self) -> str:
        return f"StoredPredictions({str(self.path)!r})"


class PredictionWriter:
    """Appends predictions to a run folder's ``predictions.jsonl`` as they are made.

    Use as a context manager: the file is written through a temp file that becomes
    ``predictions.jsonl`` when the ``with`` block ends without an exception (an
    interrupted evaluation leaves the previous file, if any, as it was; an exception
    discards the temp file).
    """

    def __init__(self, out: str | Path):
        self.path = Path(out) / PREDICTIONS_FILE
        self.count = 0
        self._stack = ExitStack()
        self._file: Any = None

    def __enter__(self) -> "PredictionWriter":
        # a killed evaluation (SIGKILL: no cleanup) leaves its temp file behind; drop it
        for stale in temp_siblings(self.path):
            stale.unlink(missing_ok=True)
        self._file = self._stack.enter_context(atomic_open(self.path))
        return self

    def add(self, predictions: Iterable[Prediction]) -> None:
        for p in predictions:
            self._file.write(_prediction_line(p))
            self.count += 1

    def __exit__(self, *exc: Any) -> bool:
        return self._stack.__exit__(*exc)

    def stored(self) -> StoredPredictions:
        """The written predictions (valid once the ``with`` block has ended)."""
        return StoredPredictions(self.path, self.count)


@dataclass(frozen=True)
class EvalRun:
    """A finished evaluation: everything written to the run folder.

    ``run_key`` identifies the evaluation (config without output options, and model), so
    a rerun into the same folder is recognised as the same run.
    """

    run_key: str
    config: dict[str, Any]
    model: str
    fingerprint: str
    scores: tuple[Score, ...]
    averages: tuple[Score, ...]
    predictions: Sequence[Prediction]  # a tuple, or StoredPredictions read from disk lazily
    versions: tuple[tuple[str, str], ...] = ()
    timing: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds evaluated (as :attr:`EvalConfig.run_seeds`: ``seeds``, else the one ``seed``)."""
        return tuple(self.config.get("seeds") or (self.config.get("seed", 0),))

    def score(self, task: str, setting: str) -> Score:
        for s in self.scores + self.averages:
            if s.task == task and s.setting == setting:
                return s
        raise KeyError((task, setting))


def score_to_json(score: Score) -> dict[str, Any]:
    data = dataclasses.asdict(score)
    data["extra"] = dict(score.extra)
    return data


def score_from_json(data: dict[str, Any]) -> Score:
    data = dict(data)
    data["extra"] = tuple((str(k), str(v)) for k, v in (data.get("extra") or {}).items())
    return Score(**data)


def results_json(run: EvalRun) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run_key": run.run_key,
        "model": run.model,
        "fingerprint": run.fingerprint,
        "config": run.config,
        "versions": dict(run.versions),
        "timing": dict(run.timing),
        "scores": [score_to_json(s) for s in run.scores],
        "averages": [score_to_json(s) for s in run.averages],
        "notes": list(run.notes),
    }


def write_run(out: str | Path, run: EvalRun, plots: bool = True) -> Path:
    """Write all files of ``run`` into ``out`` (atomically, results.json last)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stored = isinstance(run.predictions, StoredPredictions) and run.predictions.path.resolve() == (out / PREDICTIONS_FILE).resolve()
    if not stored:  # already streamed there by the evaluation otherwise
        with atomic_open(out / PREDICTIONS_FILE) as f:
            for p in run.predictions:
                f.write(_prediction_line(p))
    diagnostics = run_diagnostics(run.scores, run.averages, run.predictions)
    atomic_write_text(out / MARKDOWN_FILE, markdown_report(run, diagnostics))
    if plots:
        try:
            write_plots(out, run, diagnostics)
        except Exception as e:  # a plot is never worth losing the results over
            print(f"taskmix: warning: plots not written ({type(e).__name__}: {e})", file=sys.stderr)
    atomic_write_json(out / RESULTS_FILE, results_json(run))
    return out


def read_results(folder: str | Path) -> dict[str, Any]:
    """The parsed ``results.json`` of a run folder (one-line errors if missing/malformed)."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        raise TaskmixError(f"{folder}: not an evaluation run (no {RESULTS_FILE})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TaskmixError(f"{path}: malformed results file ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise TaskmixError(f"{path}: not a taskmix results file of schema {SCHEMA}")
    return data


def read_run(folder: str | Path) -> EvalRun:
    """Read a run folder back into an :class:`EvalRun`; its predictions are read from disk
    as they are iterated (:class:`StoredPredictions`), and checked here once."""
    data = read_results(folder)
    predictions = StoredPredictions(Path(folder) / PREDICTIONS_FILE)
    len(predictions)  # parses every line once: a malformed file fails here, in one line
    return EvalRun(
        run_key=data["run_key"],
        config=data["config"],
        model=data["model"],
        fingerprint=data["fingerprint"],
        scores=tuple(score_from_json(s) for s in data["scores"]),
        averages=tuple(score_from_json(s) for s in data["averages"]),
        predictions=predictions,
        versions=tuple(data.get("versions", {}).items()),
        timing=tuple(data.get("timing", {}).items()),
        notes=tuple(data.get("notes", [])),
    )


ONE_ANSWER_MARK = "\u26a0"  # warning sign: one answer is more than 80% of a cell's predictions


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def format_score(score: Score | None, diag: Diagnostics | None = None) -> str:
    """``acc [low, high]``, then ``bal. B`` and a flag when one answer exceeds 80% of the
    queries (as in results.md and the report)."""
    if score is None:
        return "n/a"
    if has_interval(score):
        text = f"{100 * score.accuracy:.1f} [{100 * score.ci_low:.1f}, {100 * score.ci_high:.1f}]"
    else:
        text = f"{100 * score.accuracy:.1f} [no interval]"
    if diag is not None and diag.balanced_accuracy is not None:
        text += f", bal. {_pct(diag.balanced_accuracy)}"
    if diag is not None and diag.one_answer and score.task != AVERAGE:
        text += f" {ONE_ANSWER_MARK} {100 * diag.top_share:.0f}% one answer"
    return text


def protocol_text(cfg: dict[str, Any]) -> str:
    """The demonstration protocol of an evaluation config, in words (``effective_block_size``
    is what the run used: ``None`` one set for all queries; runs before it existed say
    ``shared_demos``/``block_size`` only)."""
    block = cfg.get("effective_block_size", cfg.get("block_size"))
    if cfg.get("shared_demos") or ("effective_block_size" in cfg and block is None):
        text = "one shared demonstration set per dataset, setting and seed"
    elif isinstance(block, int) and block > 1:
        text = f"one demonstration set per block of {block} queries"
    else:
        text = "fresh exemplars per query"
    seeds = cfg.get("seeds")
    if isinstance(seeds, (list, tuple)) and len(seeds) > 1:
        text += f", seeds {', '.join(str(x) for x in seeds)} pooled"
    return text


INTERVALS_NOTE = (
    "Accuracy (%) with 95% intervals: per dataset Wilson when every query has its own "
    "demonstrations, else a bootstrap over demonstration sets; the average is the unweighted "
    "mean over datasets with a stratified bootstrap interval; no interval: all queries share one "
    "demonstration set (evaluate more seeds). bal. = balanced accuracy (mean "
    "recall per class); random = the random-guess baseline (1/classes); "
    f"{ONE_ANSWER_MARK} = one answer is more than 80% of the cell's predictions (its accuracy mostly "
    "measures which answer the model defaults to)."
)


def markdown_report(
    run: EvalRun,
    diagnostics: dict[tuple[str, str], Diagnostics] | None = None,
    names: dict[str, str] | None = None,
) -> str:
    """The ``results.md`` text: a dataset x setting table with averages and notes.
    ``diagnostics`` as from :func:`~taskmix.evaluation.summary.run_diagnostics` (computed
    when not given); ``names`` maps task names to display names."""
    if diagnostics is None:
        diagnostics = run_diagnostics(run.scores, run.averages, run.predictions)
    names = names or {}
    tasks = ordered(s.task for s in run.scores)
    settings = ordered(s.setting for s in run.scores + run.averages)
    by_key = {(s.task, s.setting): s for s in run.scores + run.averages}
    cfg = run.config
    lines = [
        f"# Evaluation: {run.model}",
        "",
        f"- fingerprint: `{run.fingerprint}`",
        f"- k={cfg.get('k')} per class, format={cfg.get('format')}, seed={cfg.get('seed')}, "
        f"max examples={cfg.get('max_examples')}, protocol={protocol_text(cfg)}, "
        f"scoring={'length-normalised' if cfg.get('length_normalized') else 'sum'} log-likelihood",
    ]
    if cfg.get("suite"):
        lines.append(f"- suite {cfg['suite']}: its per-task k / format / settings overrides apply "
                     "(see taskmix.evaluation.suites)")
    chance, n_chance = mean_chance(diagnostics)
    if chance is not None:
        lines.append(f"- random-guess baseline: {_pct(chance)}% on average over {n_chance} classification datasets")
    lines += [
        "",
        INTERVALS_NOTE,
        "",
        "| dataset | n | random | " + " | ".join(settings) + " |",
        "|---|---|---|" + "---|" * len(settings),
    ]

    def cell(task: str, setting: str) -> str:
        return format_score(by_key.get((task, setting)), diagnostics.get((task, setting)))

    for task in tasks:
        n = max((s.n for s in run.scores if s.task == task), default=0)
        task_chance = next((d.chance for (t, _), d in diagnostics.items() if t == task and d.chance is not None), None)
        lines.append(f"| {names.get(task, task)} | {n} | {_pct(task_chance)} | " + " | ".join(cell(task, st) for st in settings) + " |")
    if run.averages:
        lines.append(f"| **{AVERAGE}** | | {_pct(chance)} | " + " | ".join(cell(AVERAGE, st) for st in settings) + " |")
    flagged = [k for k, d in diagnostics.items() if k[0] != AVERAGE and d.one_answer]
    if flagged:
        lines += ["", f"{ONE_ANSWER_MARK} {len(flagged)} of {len(run.scores)} cells give one answer to more than 80% of their queries."]
    dropped = [s for s in run.scores if int(dict(s.extra).get("dropped_exemplars", "0"))]
    if dropped:
        lines += ["", "Exemplars dropped to fit the context:", ""]
        lines += [
            f"- {s.task} / {s.setting}: {dict(s.extra)['dropped_exemplars']} exemplars over "
            f"{dict(s.extra).get('prompts_with_dropped', '?')} prompts"
            for s in dropped
        ]
    if run.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in run.notes]
    timing = dict(run.timing)
    if timing:
        lines += ["", "Timing (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items())]
    return "\n".join(lines) + "\n"
