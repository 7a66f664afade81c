"""The run folder: identity (``run.json``), the loss log (``loss.jsonl``) and its plot.

``run.json`` records what makes a run *this* run (model, data hash, config less the
fields in :data:`~taskmix.training.config.RESUME_FREE_FIELDS`). Starting ``taskmix
train`` on a folder whose ``run.json`` differs is refused, so an output folder is never
overwritten by a different run; the same run resumes from its latest checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import key_dict
from ..errors import TaskmixError
from ..fileio import atomic_write_json, atomic_write_text
from ..fileio import sha256_file as file_sha256  # noqa: F401  (re-exported)
from .config import LATER_FIELDS, RESUME_FREE_FIELDS, TrainConfig

RUN_FILE = "run.json"
LOSS_FILE = "loss.jsonl"
PLOT_FILE = "loss.png"
MODEL_DIR = "model"
ADAPTER_DIR = "adapter"



def run_identity(model: str, data_sha256: str, config: TrainConfig) -> dict[str, Any]:
    """What must match for a folder to be resumed rather than refused: fields added later are
    left out at the value older runs had (``KEY_NEUTRAL`` metadata, as in stage keys, and
    :data:`~taskmix.training.config.LATER_FIELDS` for those that came before stage keys)."""
    cfg = {k: v for k, v in key_dict(config).items()
           if k not in RESUME_FREE_FIELDS and not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
    return {"model": model, "data_sha256": data_sha256, "config": cfg}


def check_or_claim(out_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """Claim an empty/new ``out_dir`` for this run, or return the matching existing record.

    Raises a one-line error if the folder holds something else or a different run.
    """
    out_dir = Path(out_dir)
    run_file = out_dir / RUN_FILE
    if out_dir.exists() and not out_dir.is_dir():
        raise TaskmixError(f"{out_dir}: exists and is not a folder")
    if run_file.is_file() and {p.name for p in out_dir.iterdir()} <= {RUN_FILE, LOSS_FILE} and not read_loss_log(out_dir):
        # a run that failed before its first step (e.g. in its in-context check before training): nothing to keep
        run_file.unlink()
        (out_dir / LOSS_FILE).unlink(missing_ok=True)
    if run_file.is_file():
        try:
            old = json.loads(run_file.read_text(encoding="utf-8"))
        except (ValueError, OSError) as e:
            raise TaskmixError(f"{run_file}: unreadable run record ({e}); use a new --out") from None
        for key in ("model", "data_sha256"):
            if old.get(key) != identity[key]:
                raise TaskmixError(f"{out_dir}: holds a different run ({key} differs); use a new --out")
        old_cfg, new_cfg = old.get("config", {}), identity["config"]
        for key in sorted(set(old_cfg) | set(new_cfg)):
            if old_cfg.get(key) != new_cfg.get(key):
                raise TaskmixError(
                    f"{out_dir}: holds a different run (config {key}: {old_cfg.get(key)!r} there, "
                    f"{new_cfg.get(key)!r} now); use a new --out"
                )
        return old
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise TaskmixError(f"{out_dir}: folder is not empty and holds no taskmix run; use a new --out")
    atomic_write_json(run_file, {**identity, "status": "running"})
    return None


def mark(out_dir: Path, **fields: Any) -> None:
    """Update fields of ``run.json`` (e.g. ``status``)."""
    run_file = Path(out_dir) / RUN_FILE
    record = json.loads(run_file.read_text(encoding="utf-8"))
    record.update(fields)
    atomic_write_json(run_file, record)


def read_loss_log(out_dir: Path, all_rows: bool = False) -> list[dict[str, Any]]:
    """The logged steps, each with its ``loss``; with ``all_rows`` also the row of the
    in-context check made before training (step 0, no loss)."""
    path = Path(out_dir) / LOSS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:  # a line cut by a kill: drop it
                break
    return rows if all_rows else [r for r in rows if "loss" in r]


def truncate_loss_log(out_dir: Path, step: int) -> None:
    """Keep only log lines of steps <= ``step`` (used when resuming from a checkpoint; -1
    keeps none)."""
    rows = [r for r in read_loss_log(out_dir, all_rows=True) if int(r.get("step", 0)) <= step]
    atomic_write_text(Path(out_dir) / LOSS_FILE, "".join(json.dumps(r) + "\n" for r in rows))


class LossLog:
    """Appends one JSON line per logged step and flushes it."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LOSS_FILE
        self._f = self.path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def plot_loss(out_dir: Path) -> Path | None:
    """Draw ``loss.png`` from ``loss.jsonl`` (matplotlib, Agg backend): the loss, and the
    in-context accuracy per setting on a second axis when the run checks it."""
    rows = read_loss_log(out_dir, all_rows=True)
    losses = [r for r in rows if "loss" in r]
    checks = [r for r in rows if isinstance(r.get("icl"), dict)]
    if not losses and not checks:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in losses], [r["loss"] for r in losses], lw=1, color="C0", label="loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("target-token loss")
    ax.set_title(Path(out_dir).name)
    ax.grid(alpha=0.3)
    if checks:
        acc = ax.twinx()
        settings = list(dict.fromkeys(s for r in checks for s in r["icl"]))
        for i, setting in enumerate(settings):
            points = [(r["step"], r["icl"][setting]) for r in checks if setting in r["icl"]]
            acc.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, lw=1,
                     color=f"C{i + 1}", label=f"in-context {setting}")
        acc.set_ylim(0, 1)
        acc.set_ylabel("in-context accuracy")
        handles = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
        acc.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="best")
    fig.tight_layout()
    path = Path(out_dir) / PLOT_FILE
    tmp = path.with_name(".loss.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
