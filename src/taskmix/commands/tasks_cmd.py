"""``taskmix tasks list|show``: the task catalogue with counts, labels and an example."""

from __future__ import annotations

import argparse
import collections
import importlib
import sys
from pathlib import Path

from ..catalogue import FAMILIES, default_root, is_file_spec, list_task_names, load_task, load_task_spec
from ..data.sources import MissingDataError
from ..data.task_counts import CountsCache
from ..errors import TaskmixError
from ..prompts.formats import get_format


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tasks", help="list the task catalogue or show one task")
    sub = parser.add_subparsers(dest="tasks_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    ls = sub.add_parser("list", help="one line per task with example counts per split")
    ls.add_argument("--source", metavar="FAMILY", help="only this family (classic, tweeteval, raft, bigbench, bbh, niv2, p3)")
    ls.add_argument("--data", metavar="DIR", help="data folder (default: the data cache)")
    ls.add_argument("--refresh", action="store_true", help="recount instead of using cached counts")
    ls.set_defaults(func=run_list)

    show = sub.add_parser("show", help="counts, label space, instruction and one rendered example")
    show.add_argument("name", help="task name, e.g. subj or tweeteval/hate, or a task file (JSONL, CSV, TSV)")
    show.add_argument("--data", metavar="DIR", help="data folder (default: the data cache)")
    show.set_defaults(func=run_show)


def _root(args: argparse.Namespace) -> Path:
    if args.data:
        root = Path(args.data).expanduser()
        if not root.is_dir():
            raise TaskmixError(f"{root}: data folder does not exist")
        return root
    return default_root()


def available_families(source: str | None = None) -> list[str]:
    """Families whose loader module exists (others are skipped while being built)."""
    if source is not None:
        if source not in FAMILIES:
            raise TaskmixError(f"unknown task family {source!r} (known: {', '.join(FAMILIES)})")
        families = [source]
    else:
        families = list(FAMILIES)
    out = []
    for fam in families:
        try:
            importlib.import_module(FAMILIES[fam])
        except ModuleNotFoundError as e:
            if e.name == FAMILIES[fam]:
                if source is not None:
                    raise TaskmixError(f"task family {fam!r} is not available (module {e.name} missing)") from None
                continue
            raise
        out.append(fam)
    return out


def _split_text(splits: tuple[tuple[str, int], ...]) -> str:
    return "  ".join(f"{name} {n:,}" for name, n in splits)


def run_list(args: argparse.Namespace) -> int:
    root = _root(args)
    cache = CountsCache(root, refresh=args.refresh)
    rows = []
    failed: list[str] = []
    try:
        for fam in available_families(args.source):
            for name in list_task_names(fam, root):
                try:
                    c = cache.get(name, lambda n: load_task(n, root))
                except MissingDataError:
                    raise  # no data at all: one line saying `taskmix data fetch`
                except TaskmixError as e:  # one broken task does not hide the others
                    failed.append(f"{name}: {e.message}")
                    rows.append((name, fam, "-", f"ERROR {e.message}"))
                    continue
                rows.append((name, fam, c.category or "-", _split_text(c.splits)))
    finally:
        cache.save()
    width = min(40, max((len(r[0]) for r in rows), default=10))
    cat_width = min(24, max((len(r[2]) for r in rows), default=8))
    for name, fam, cat, splits in rows:
        print(f"{name:<{width}}  {fam:<9}  {cat:<{cat_width}}  {splits}")
    if failed:
        raise TaskmixError(f"{len(failed)} of {len(rows)} tasks failed to load (first: {failed[0]})")
    print(f"{len(rows)} tasks", file=sys.stderr)
    return 0


def render_example(task, example) -> str:
    """One example as a prompt with its answer (the ``input_output`` format, with instruction)."""
    if task.label_space is not None and example.label is not None:
        answer = task.label_space[example.label]
    else:
        answer = example.target or ""
    try:
        fmt = get_format("input_output")
        body = fmt.render_example(example.fields, answer)
    except (ImportError, TaskmixError, AttributeError):
        fields = "\n".join(f"{k}: {v}" for k, v in example.fields)
        body = f"{fields}\nOutput: {answer}"
    return f"{task.instruction}\n\n{body}" if task.instruction else body


def run_show(args: argparse.Namespace) -> int:
    task = load_task_spec(args.name) if is_file_spec(args.name) else load_task(args.name, _root(args))
    print(f"task:         {task.name}")
    print(f"source:       {task.source}" + (f" ({task.source_dataset})" if task.source_dataset else ""))
    print(f"category:     {task.category or '-'}")
    print(f"licence:      {task.license or '-'}")
    print(f"input fields: {', '.join(task.input_fields)}")
    print(f"splits:       {_split_text(tuple((s.name, len(s)) for s in task.splits))}")
    print(f"instruction:  {task.instruction}")
    if task.label_space is not None:
        print(f"labels ({len(task.label_space)}):")
        counts = {s.name: collections.Counter(e.label for e in s.examples) for s in task.splits}
        for i, word in enumerate(task.label_space):
            per = ", ".join(f"{s} {c[i]:,}" for s, c in counts.items())
            print(f"  {i}  {word:<16} {per}")
    for key, value in task.metadata:
        print(f"{key}: {value}")
    if task.provenance:
        print("provenance:")
        for p in task.provenance:
            print(f"  {p.path}  sha256 {p.sha256[:16] or '-'}  {p.url}")
    shown = sorted(task.splits, key=lambda s: s.name != "test")  # the test split first
    split = next((s for s in shown if len(s)), None)
    if split is not None:
        print(f"example ({split.name} {split.examples[0].uid}):")
        for line in render_example(task, split.examples[0]).splitlines():
            print(f"  | {line}")
    return 0
