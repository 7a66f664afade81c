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

from ..config import to_dict
from ..errors import TaskmixError
from ..fileio import atomic_write_json, atomic_write_text
from ..fileio import sha256_file as file_sha256  # noqa: F401  (re-exported)
from .config import RESUME_FREE_FIELDS, TrainConfig

RUN_FILE = "run.json"
LOSS_FILE = "loss.jsonl"
PLOT_FILE = "loss.png"
MODEL_DIR = "model"
ADAPTER_DIR = "adapter"



def run_identity(model: str, data_sha256: str, config: TrainConfig) -> dict[str, Any]:
    """What must match for a folder to be resumed rather than refused."""
    cfg = {k: v for k, v in to_dict(config).items() if k not in RESUME_FREE_FIELDS}
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
        run_file.unlink()  # a run that failed before its first step (e.g. a bad mixture): nothing to keep
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


def read_loss_log(out_dir: Path) -> list[dict[str, Any]]:
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
    return rows


def truncate_loss_log(out_dir: Path, step: int) -> None:
    """Keep only log lines of steps <= ``step`` (used when resuming from a checkpoint)."""
    rows = [r for r in read_loss_log(out_dir) if int(r.get("step", 0)) <= step]
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
    """Draw ``loss.png`` from ``loss.jsonl`` (matplotlib, Agg backend)."""
    rows = read_loss_log(out_dir)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("target-token loss")
    ax.set_title(Path(out_dir).name)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(out_dir) / PLOT_FILE
    tmp = path.with_name(".loss.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
