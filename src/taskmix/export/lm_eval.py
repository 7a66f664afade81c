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
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import TaskmixError
from ..fileio import atomic_write_text
from ..records import Prompt


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


def export_prompts(prompts: Iterable[Prompt], out_dir: str | Path, group: str = "taskmix") -> list[ExportedTask]:
    """Write lm-eval task YAML + JSONL data for ``prompts``; returns what was written."""
    out = Path(out_dir).resolve()
    by_key: dict[tuple[str, str], list[Prompt]] = defaultdict(list)
    for p in prompts:
        by_key[(p.task, p.setting)].append(p)
    if not by_key:
        raise TaskmixError("nothing to export: no prompts were built")
    exported: list[ExportedTask] = []
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
        atomic_write_text(data_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
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
        atomic_write_text(yaml_path, "\n".join(lines) + "\n")
        exported.append(ExportedTask(name, task, setting, yaml_path, data_path, len(items)))
    group_lines = [f"group: {group}", "task:"] + [f"  - {e.name}" for e in exported]
    if all(e.data_path and not _is_generative(e) for e in exported):
        group_lines += ["aggregate_metric_list:", "  - metric: acc", "    weight_by_size: false"]
    group_lines += ["metadata:", "  version: 1.0"]
    atomic_write_text(out / f"{group}_group.yaml", "\n".join(group_lines) + "\n")
    return exported


def _is_generative(e: ExportedTask) -> bool:
    return "output_type: generate_until" in e.yaml_path.read_text(encoding="utf-8")
