"""``simlib bench``: the speed benchmark tables (same as ``make bench``)."""

from __future__ import annotations

import argparse

from . import command


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="10000,100000", help="comma-separated book sizes")
    p.add_argument("--quick", action="store_true", help="one repeat per case instead of three")
    p.add_argument(
        "--full", action="store_true", help="add 1,000,000-account books (a few minutes more)"
    )
    p.add_argument("--no-sweep", action="store_true", help="skip the sweep timing")
    p.add_argument(
        "--report",
        action="store_true",
        help="also time papermill scenario reports (needs the notebooks extra)",
    )


@command("bench", "print the speed benchmark tables", _args)
def bench(args: argparse.Namespace) -> int:
    from ..bench import main

    sizes = tuple(int(s) for s in args.sizes.split(",") if s)
    return main(
        sizes, quick=args.quick, full=args.full, sweep=not args.no_sweep, report=args.report
    )
