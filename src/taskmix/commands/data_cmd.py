"""``taskmix data fetch|verify``: bring the pinned source files into the cache and check them."""

from __future__ import annotations

import argparse

from ..data.fetch import fetch, verify
from ..errors import DataError, TaskmixError

CACHE_HELP = "data cache folder (default: $TASKMIX_CACHE/data, else ~/.cache/taskmix/data)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="fetch and verify the pinned task data")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    fetch = sub.add_parser("fetch", help="bring every source file into the cache, verifying sha256")
    fetch.add_argument("--mirror", metavar="DIR", help="read this offline mirror instead of the network (default: $TASKMIX_MIRROR)")
    fetch.add_argument("--cache", metavar="DIR", help=CACHE_HELP)
    fetch.add_argument("--only", metavar="PATTERN", help="glob on manifest paths, e.g. 'github/cardiffnlp/*'")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.set_defaults(func=run_fetch)

    verify = sub.add_parser("verify", help="check the cached files against their pinned sha256")
    verify.add_argument("--cache", metavar="DIR", help=CACHE_HELP)
    verify.add_argument("--only", metavar="PATTERN", help="glob on manifest paths")
    verify.set_defaults(func=run_verify)


def run_fetch(args: argparse.Namespace) -> int:
    report = fetch(cache=args.cache, mirror=args.mirror, only=args.only, progress=False if args.no_progress else None)
    print(
        f"{report.total} files: {report.fetched} fetched ({report.bytes_written / 1e6:.1f} MB), "
        f"{report.skipped} already present; from {report.origin} in {report.seconds:.1f} s"
    )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    report = verify(cache=args.cache, only=args.only)
    if report.bad:
        raise DataError(report.bad[0], f"sha256 mismatch ({len(report.bad)} bad, {len(report.missing)} missing files); run `taskmix data fetch`")
    if report.missing:
        raise TaskmixError(
            f"{len(report.missing)} of {report.total} files missing (first: {report.missing[0]}); run `taskmix data fetch`"
        )
    print(f"{report.ok} of {report.total} files verified")
    return 0
