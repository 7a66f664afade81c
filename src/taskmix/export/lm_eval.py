"""Export taskmix prompts as lm-evaluation-harness tasks.

For every (task, setting) the exporter writes a JSONL data file holding the exact prompts
taskmix evaluates (``context``, ``choices``, ``gold`` for classification; ``context``,
``target`` for generation) and a task YAML that feeds them to lm-eval unchanged:
``doc_to_text`` is the context, ``doc_to_choice`` the shown labels (each with its leading
space, so ``target_delimiter`` is empty), ``doc_to_target`` the gold index. lm-eval then
issues exactly the log-likelihood requests taskmix issues, so its ``acc`` equals taskmix's
rank-classification accuracy. A group YAML names all exported tasks.

The data paths in the YAML are absolute (lm-eval resolves ``data_files`` against the
working directory), so re-export after moving the folder.

An export is written into a temporary folder and then takes the place of the output
folder as a whole: exporting again (with ``overwrite``) leaves no task YAML of the
earlier export behind for ``--include_path`` to load. A folder that is not an export is
never written into.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import TaskmixError
from ..fileio import atomic_write_text, default_dir_mode, temp_siblings
from ..records import Prompt

GROUP_SUFFIX = "_group.yaml"


@dataclass(frozen=True)
class ExportedTask:
    name: str  # lm-eval task name
    task: str  # taskmix task name
    setting: str
    yaml_path: Path
    data_path: Path
    n: int


def lm_eval_task_name(prefix: str, task: str, setting: str) -> str:
    """A valid lm-eval task name: ``<prefix>_<task>_<setting>`` with non-word characters as ``_``."""
    return re.sub(r"[^0-9A-Za-z_]+", "_", f"{prefix}_{task}_{setting}").strip("_").lower()


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def is_export_folder(folder: Path) -> bool:
    """Whether ``folder`` holds an lm-eval export (YAML and JSONL files, one group YAML)."""
    names = [p.name for p in folder.iterdir()]
    return any(n.endswith(GROUP_SUFFIX) for n in names) and all(n.endswith((".yaml", ".jsonl")) for n in names)


def check_export_dir(out_dir: str | Path, overwrite: bool = False) -> None:
    """``out_dir`` may be new or empty, or an earlier export when ``overwrite`` is set."""
    out = Path(out_dir)
    if not out.exists():
        return
    if not out.is_dir():
        raise TaskmixError(f"{out}: exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not is_export_folder(out):
        raise TaskmixError(f"{out}: holds files that are not an lm-eval export; choose another --out")
    if not overwrite:
        raise TaskmixError(f"{out}: holds an earlier export; pass --overwrite to replace it (its files are removed)")


def export_prompts(
    prompts: Iterable[Prompt], out_dir: str | Path, group: str = "taskmix", overwrite: bool = False
) -> list[ExportedTask]:
    """Write lm-eval task YAML + JSONL data for ``prompts`` into ``out_dir`` (replacing an
    earlier export there only with ``overwrite``); returns what was written."""
    out = Path(out_dir).resolve()
    check_export_dir(out, overwrite)
    by_key: dict[tuple[str, str], list[Prompt]] = defaultdict(list)
    for p in prompts:
        by_key[(p.task, p.setting)].append(p)
    if not by_key:
        raise TaskmixError("nothing to export: no prompts were built")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in temp_siblings(out):  # left by a killed export
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, default_dir_mode())
    try:
        exported = _write_export(by_key, out, tmp, group)
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return exported


def _replace_folder(new: Path, out: Path) -> None:
    """Put folder ``new`` at ``out``; an earlier ``out`` is moved aside first and removed
    after (a kill in between leaves it as ``.<name>.previous``, not deleted)."""
    if not out.exists():
        os.replace(new, out)
        return
    aside = out.with_name(f".{out.name}.previous")
    if aside.exists():
        shutil.rmtree(aside)
    os.replace(out, aside)
    os.replace(new, out)
    shutil.rmtree(aside, ignore_errors=True)


def _write_export(by_key: dict[tuple[str, str], list[Prompt]], out: Path, tmp: Path, group: str) -> list[ExportedTask]:
    """Write the files into ``tmp``; the YAML names the data files where they will be (in ``out``)."""
    exported: list[ExportedTask] = []
    generative_any = False
    for (task, setting), items in sorted(by_key.items()):
        name = lm_eval_task_name(group, task, setting)
        data_path = out / f"{name}.jsonl"
        generative = not items[0].candidates
        rows = []
        for p in items:
            if generative:
                rows.append({"id": p.example_uid, "context": p.text, "target": p.target or ""})
            else:
                rows.append({"id": p.example_uid, "context": p.text, "choices": list(p.candidates), "gold": p.answer})
        atomic_write_text(tmp / data_path.name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        lines = [
            f"task: {name}",
            "dataset_path: json",
            "dataset_kwargs:",
            "  data_files:",
            f"    test: {_yaml_str(str(data_path))}",
            "test_split: test",
            'doc_to_text: "{{context}}"',
        ]
        if generative:
            lines += [
                "output_type: generate_until",
                "doc_to_target: target",
                'target_delimiter: ""',
                "generation_kwargs:",
                '  until: ["\\n"]',
                "  do_sample: false",
                "metric_list:",
                "  - metric: exact_match",
                "    aggregation: mean",
                "    higher_is_better: true",
                "    ignore_whitespace: true",
            ]
        else:
            lines += [
                "output_type: multiple_choice",
                "doc_to_choice: choices",
                "doc_to_target: gold",
                'target_delimiter: ""',
                "metric_list:",
                "  - metric: acc",
                "    aggregation: mean",
                "    higher_is_better: true",
            ]
        lines.append(f"metadata:\n  version: 1.0\n  taskmix_task: {_yaml_str(task)}\n  taskmix_setting: {setting}")
        yaml_path = out / f"{name}.yaml"
        atomic_write_text(tmp / yaml_path.name, "\n".join(lines) + "\n")
        exported.append(ExportedTask(name, task, setting, yaml_path, data_path, len(items)))
        generative_any = generative_any or generative
    group_lines = [f"group: {group}", "task:"] + [f"  - {e.name}" for e in exported]
    if not generative_any:
        group_lines += ["aggregate_metric_list:", "  - metric: acc", "    weight_by_size: false"]
    group_lines += ["metadata:", "  version: 1.0"]
    atomic_write_text(tmp / f"{group}{GROUP_SUFFIX}", "\n".join(group_lines) + "\n")
    return exported
