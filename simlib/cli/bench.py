"""``simlib bench``: the speed benchmark table (same as ``make bench``)."""

from __future__ import annotations

import argparse

from . import command


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="10000,100000", help="comma-separated book sizes")
    p.add_argument("--quick", action="store_true", help="one repeat per case instead of three")


@command("bench", "print the speed benchmark table", _args)
def bench(args: argparse.Namespace) -> int:
    from ..bench import main

    sizes = tuple(int(s) for s in args.sizes.split(",") if s)
    return main(sizes, quick=args.quick)
