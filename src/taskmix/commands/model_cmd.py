"""``taskmix model prepare|info|list``: prepare the shipped GGUF models and inspect model folders."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import TaskmixError
from ..models.loading import model_identity
from ..models.prepare import KNOWN_MODELS, is_prepared, prepare_model, prepared_dir, read_marker, resolve_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="prepare the shipped models (GGUF -> HF folder) and inspect them")
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    prep = sub.add_parser("prepare", help="convert a shipped GGUF (smollm2-135m, gemma3-270m) into a cached HF folder")
    prep.add_argument("alias", nargs="+", help="model alias(es): smollm2-135m, gemma3-270m")
    prep.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    prep.set_defaults(func=run_prepare)

    info = sub.add_parser("info", help="architecture, size, tokenizer and fingerprint of a model")
    info.add_argument("model", help="alias, model folder or hub id")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)

    ls = sub.add_parser("list", help="the known aliases and whether they are prepared")
    ls.set_defaults(func=run_list)


def run_prepare(args: argparse.Namespace) -> int:
    for alias in args.alias:
        if alias not in KNOWN_MODELS:
            raise TaskmixError(f"unknown model {alias!r} (known: {', '.join(sorted(KNOWN_MODELS))})")
    for alias in args.alias:
        if args.force or not is_prepared(alias):
            print(f"preparing {alias} (one-time GGUF conversion, under a minute) ...", file=sys.stderr, flush=True)
        folder = prepare_model(alias, force=args.force, quiet=True)
        print(f"{alias}\t{folder}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    for alias, known in sorted(KNOWN_MODELS.items()):
        state = str(prepared_dir(alias)) if is_prepared(alias) else f"not prepared ({known.install_hint}; taskmix model prepare {alias})"
        print(f"{alias}\t{known.description}\t{state}")
    return 0


def model_info(spec: str) -> dict:
    """Facts about a model folder (or alias) without loading its weights."""
    location = resolve_model(spec, prepare=False)
    if isinstance(location, str):
        raise TaskmixError(f"{spec}: model info needs a local folder or a prepared alias")
    try:
        config = json.loads((location / "config.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise TaskmixError(f"{location / 'config.json'}: not valid JSON ({e})") from e
    text = config.get("text_config") or config
    weights = sorted(location.glob("*.safetensors")) + sorted(location.glob("*.bin"))
    info = {
        "path": str(location),
        "architecture": ",".join(config.get("architectures") or [config.get("model_type", "?")]),
        "layers": text.get("num_hidden_layers"),
        "hidden_size": text.get("hidden_size"),
        "vocab_size": text.get("vocab_size"),
        "max_position_embeddings": text.get("max_position_embeddings"),
        "weights_bytes": sum(p.stat().st_size for p in weights),
        "has_tokenizer": (location / "tokenizer_config.json").is_file(),
        "adapter": (location / "adapter_config.json").is_file(),
        "identity": model_identity(location),
    }
    marker = read_marker(location)
    if marker:
        info["source"] = f"{marker.get('source_package')}:{marker.get('source_file')}"
        info["source_sha256"] = marker.get("source_sha256")
    return info


def run_info(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0
