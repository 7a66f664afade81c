"""How often a tuning prompt's query has the label of its most similar exemplar.

For every prompt of a symbol-tuning mixture (``prompts.jsonl`` with segments), the exemplars'
inputs and the query's input are read back from the prompt's segments and embedded with a
sentence encoder (all-MiniLM-L6-v2 by default, cached on disk); the prompt *agrees* when the
exemplar nearest to the query (cosine) shows the query's class, and its *centroid agrees* when
the class whose exemplars' mean is nearest is the query's. With random exemplars (the paper's
mixture) these rates say how much a reader of the exemplars is rewarded; with
``exemplar_choice: similar`` they should be higher -- this script measures by how much.

    python benchmarks/mixture_nearest_agreement.py \\
        --mixture random=runs/symbol-tuning-gemma3/build/mixture \\
        --mixture similar=runs/symbol-tuning-gemma3-similar/build/mixture \\
        --json benchmarks/results/mixture_nearest_agreement.json

Rates are given for all prompts and per prompt kind (symbol, instruction, flipped), with the
share a random guess among the prompt's classes would get. Bad input (a missing folder, a
mixture without segments, a malformed line) is one line and exit 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from taskmix.errors import TaskmixError
from taskmix.fileio import atomic_write_json

Encode = Callable[[Sequence[str]], Any]


def read_prompts(folder: Path) -> list[dict]:
    """The prompts of a mixture folder, each with its exemplar inputs, their classes, the
    query's input and class; a mixture built without segments is refused."""
    path = folder / "prompts.jsonl"
    if not path.is_file():
        raise TaskmixError(f"{folder}: no prompts.jsonl (not a mixture folder)")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            text, segments = row["prompt"], row["segments"]
            inputs = [text[s["start"]:s["end"]] for s in segments if s["kind"] == "exemplar_input"]
            classes = [s["class"] for s in segments if s["kind"] == "exemplar_label"]
            query = [text[s["start"]:s["end"]] for s in segments if s["kind"] == "query_input"]
            answer = [s["class"] for s in segments if s["kind"] == "answer"]
        except (ValueError, KeyError, TypeError):
            raise TaskmixError(f"{path}:{n}: not a mixture prompt with segments (rebuild the mixture)") from None
        if len(inputs) != len(classes) or len(query) != 1 or len(answer) != 1 or not inputs:
            raise TaskmixError(f"{path}:{n}: segments do not pair exemplar inputs with labels and one query")
        out.append({"kind": row.get("kind", "symbol"), "inputs": inputs, "classes": classes,
                    "query": query[0], "answer": answer[0]})
    if not out:
        raise TaskmixError(f"{path}: holds no prompt")
    return out


def agreement(prompts: list[dict], encode: Encode) -> dict[str, dict[str, float]]:
    """Nearest-exemplar and nearest-centroid agreement with the query's class, overall and by kind."""
    import numpy as np

    texts = sorted({t for p in prompts for t in p["inputs"] + [p["query"]]})
    vectors = dict(zip(texts, np.asarray(encode(texts), dtype=np.float32)))
    by_kind: dict[str, list[tuple[bool, bool, float]]] = {}
    for p in prompts:
        q = vectors[p["query"]]
        sims = np.array([float(vectors[t] @ q) for t in p["inputs"]])
        nearest = p["classes"][int(np.argmax(sims))]
        groups = sorted(set(p["classes"]))
        centroids = [np.mean([vectors[t] for t, c in zip(p["inputs"], p["classes"]) if c == g], axis=0) for g in groups]
        centroid = groups[int(np.argmax([float(c @ q) / (float(np.linalg.norm(c)) or 1.0) for c in centroids]))]
        row = (nearest == p["answer"], centroid == p["answer"], 1.0 / len(groups))
        by_kind.setdefault(p["kind"], []).append(row)
        by_kind.setdefault("all", []).append(row)
    return {kind: {"prompts": len(rows), "nearest_exemplar": sum(r[0] for r in rows) / len(rows),
                   "nearest_centroid": sum(r[1] for r in rows) / len(rows),
                   "random_guess": sum(r[2] for r in rows) / len(rows)}
            for kind, rows in sorted(by_kind.items())}


def main(argv: Sequence[str] | None = None, encode: Encode | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mixture", action="append", required=True, metavar="NAME=FOLDER",
                    help="a mixture folder (prompts.jsonl with segments); repeat")
    ap.add_argument("--json", required=True, help="summary file to write")
    args = ap.parse_args(argv)
    try:
        named = []
        for spec in args.mixture:
            name, sep, folder = spec.partition("=")
            if not sep or not name or not folder:
                raise TaskmixError(f"--mixture {spec!r}: expected NAME=FOLDER")
            named.append((name, Path(folder)))
        loaded = [(name, folder, read_prompts(folder)) for name, folder in named]
        if encode is None:
            from taskmix.selection.encoder import Encoder

            encoder = Encoder()
            encode, encoder_name = encoder.encode, f"all-MiniLM-L6-v2@{encoder.fingerprint}"
        else:
            encoder_name = "given by the caller"
        start = time.time()
        results = {name: {"folder": str(folder), **agreement(prompts, encode)} for name, folder, prompts in loaded}
        summary = {
            "command": "python benchmarks/mixture_nearest_agreement.py " + " ".join(
                [f"--mixture {s}" for s in args.mixture] + [f"--json {args.json}"]),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()} {platform.system()}",
            "encoder": encoder_name,
            "seconds": round(time.time() - start, 1),
            "mixtures": results,
        }
        atomic_write_json(Path(args.json), summary)
    except TaskmixError as e:
        print(f"mixture_nearest_agreement: error: {e}", file=sys.stderr)
        return 2
    for name, res in results.items():
        for kind, r in res.items():
            if isinstance(r, dict):
                print(f"{name:10s} {kind:12s} {r['prompts']:5d} prompts  nearest exemplar {100 * r['nearest_exemplar']:.1f}%  "
                      f"nearest centroid {100 * r['nearest_centroid']:.1f}%  random guess {100 * r['random_guess']:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
