"""benchmarks/mixture_nearest_agreement.py: nearest-exemplar and nearest-centroid agreement of a
mixture's prompts against hand-computed values, on a real built mixture, and bad input."""

from __future__ import annotations

import json

import numpy as np

from taskmix.mixture.build import build_symbol_mixture
from taskmix.mixture.config import MixtureConfig
from taskmix.records import Segment, TrainingExample
from tests.plugins.scripts import load_script

script = load_script("mixture_nearest_agreement")


def angle_encode(texts):
    """Texts are angles in degrees ("x 30"): unit vectors on the circle."""
    return np.array([[np.cos(np.radians(float(t.split()[-1]))), np.sin(np.radians(float(t.split()[-1])))] for t in texts])


def write_prompt(folder, exemplars, query_angle, query_class, kind="symbol"):
    """One prompt: exemplars as (angle, class) pairs, written as "x <angle>\\nA: s<class>"."""
    text, segments = "", []
    for angle, cls in exemplars:
        inp = f"x {angle}"
        segments.append(Segment("exemplar_input", len(text), len(text) + len(inp)))
        text += inp + "\nA:"
        segments.append(Segment("exemplar_label", len(text), len(text) + 3, label_class=cls))
        text += f" s{cls}\n\n"
    inp = f"x {query_angle}"
    segments.append(Segment("query_input", len(text), len(text) + len(inp)))
    text += inp + "\nA:"
    segments.append(Segment("answer", len(text), len(text), label_class=query_class))
    row = TrainingExample(prompt=text, target=f" s{query_class}", task="t", uid=f"t:{len(exemplars)}{query_angle}",
                          kind=kind, format_name="qa", n_exemplars=len(exemplars), segments=tuple(segments))
    with (folder / "prompts.jsonl").open("a") as f:
        f.write(json.dumps(row.to_json()) + "\n")


def test_agreement_against_hand_computed_values(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    # query at 0: nearest exemplar is class 1 (at 10), but class 0's centroid (at -20 and 20, mean at 0) is nearer
    write_prompt(folder, [(-20, 0), (20, 0), (10, 1), (170, 1)], 0, 0)
    # query at 90: nearest exemplar (80) and centroid are class 1; three classes
    write_prompt(folder, [(0, 0), (80, 1), (100, 1), (200, 2)], 90, 1, kind="instruction")
    out = tmp_path / "summary.json"
    assert script.main(["--mixture", f"hand={folder}", "--json", str(out)], encode=angle_encode) == 0
    r = json.loads(out.read_text())["mixtures"]["hand"]
    assert r["all"] == {"prompts": 2, "nearest_exemplar": 0.5, "nearest_centroid": 1.0, "random_guess": (1 / 2 + 1 / 3) / 2}
    assert r["symbol"]["nearest_exemplar"] == 0.0 and r["instruction"]["nearest_exemplar"] == 1.0


def test_runs_on_a_built_mixture_and_bad_input_is_one_line(toy_loader, tmp_path, capsys):
    def words(texts):
        out = np.zeros((len(texts), 16))
        for i, t in enumerate(texts):
            for w in t.split():
                out[i, sum(map(ord, w)) % 16] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    build_symbol_mixture(MixtureConfig(tasks=("toy", "toy3"), per_task_cap=10, max_length=400), tmp_path / "m", load=toy_loader)
    out = tmp_path / "s.json"
    assert script.main(["--mixture", f"r={tmp_path / 'm'}", "--json", str(out)], encode=words) == 0
    r = json.loads(out.read_text())["mixtures"]["r"]["all"]
    assert r["prompts"] == 20 and 0 <= r["nearest_exemplar"] <= 1 and 0.3 < r["random_guess"] < 0.5
    for argv in (["--mixture", f"x={tmp_path / 'none'}"], ["--mixture", "nofolder"]):
        assert script.main(argv + ["--json", str(tmp_path / "bad.json")], encode=words) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("mixture_nearest_agreement: error:")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "prompts.jsonl").write_text('{"prompt": "x"}\n')
    assert script.main(["--mixture", f"b={tmp_path / 'broken'}", "--json", str(tmp_path / "bad.json")], encode=words) == 2
    assert "not a mixture prompt with segments" in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()
