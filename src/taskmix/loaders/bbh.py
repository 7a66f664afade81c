"""BIG-Bench Hard (``bbh/<task>``): 27 tasks, 6,511 examples.

Files under the data root: ``github/suzgunmirac/BIG-Bench-Hard/bbh/<task>.json``
(``{"examples": [{"input", "target"}]}``) and ``cot-prompts/<task>.txt``, whose first
line after the canary header (``-----``) is the task's instruction (a leading
``Task description:`` is dropped). Targets are free-form strings; every task gets fixed
seeded ``train`` (10%, the exemplar pool) / ``test`` splits (BBH itself has none).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import DataError, TaskmixError
from ..records import Example, Task
from .instr_common import provenance_of, read_json, read_text, resolve, seeded_train_test

FAMILY = "bbh"
REPO = "github/suzgunmirac/BIG-Bench-Hard"
LICENSE = "MIT"
#: BBH keeps most examples for evaluation: 10% (25 per task) go to ``train``.
TRAIN_FRACTION = 0.1


@lru_cache(maxsize=8)
def _tasks(root: Path) -> tuple[str, ...]:
    base = resolve(root, f"{REPO}/bbh")
    return tuple(sorted(p.stem for p in base.glob("*.json")))


def task_names(root: Path) -> list[str]:
    """``bbh/<task>`` for the 27 BBH tasks."""
    return [f"{FAMILY}/{t}" for t in _tasks(Path(root))]


def parse_instruction(text: str, path: Path | str = "<cot-prompt>") -> str:
    """The instruction of a BBH cot-prompt file: its first line after the canary header."""
    lines = [line.strip() for line in text.splitlines()]
    if "-----" in lines:
        lines = lines[lines.index("-----") + 1 :]
    for line in lines:
        if line and not line.startswith("BENCHMARK DATA SHOULD NEVER"):
            prefix = "Task description:"
            return line[len(prefix) :].strip() if line.startswith(prefix) else line
    raise DataError(path, "no instruction line in the cot-prompt file")


def load(name: str, root: Path) -> Task:
    """Load ``bbh/<task>``."""
    root = Path(root)
    task = name.split("/", 1)[1] if name.startswith(f"{FAMILY}/") else ""
    if task not in _tasks(root):
        raise TaskmixError(f"unknown BBH task {name!r}")
    data_rel = f"{REPO}/bbh/{task}.json"
    prompt_rel = f"{REPO}/cot-prompts/{task}.txt"
    data_path = resolve(root, data_rel)
    data = read_json(data_path)
    raw = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise DataError(data_path, "expected an object with an 'examples' list")
    examples = []
    for i, e in enumerate(raw):
        if not isinstance(e, dict) or "input" not in e or "target" not in e:
            raise DataError(data_path, f"example {i} needs 'input' and 'target'")
        examples.append(Example(f"{name}:{i}", (("input", str(e["input"])),), target=str(e["target"])))
    prompt_path = resolve(root, prompt_rel)
    instruction = parse_instruction(read_text(prompt_path), prompt_path)
    train, test = seeded_train_test(examples, name, fraction=TRAIN_FRACTION)
    return Task(
        name=name,
        source=FAMILY,
        instructions=(instruction,),
        input_fields=("input",),
        label_space=None,
        splits=(train, test),
        source_dataset=f"bigbench/{task}",
        license=LICENSE,
        provenance=(provenance_of(root, data_rel, LICENSE), provenance_of(root, prompt_rel, LICENSE)),
    )
