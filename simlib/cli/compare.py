"""``simlib compare``: paired comparison of scenarios (common random numbers)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CommandError
from . import command
from .common import experiment_arguments, report_targets, run_options, scenario_arguments


def _compare_args(p: argparse.ArgumentParser) -> None:
    scenario_arguments(p, many=True)
    experiment_arguments(p, replications=10)
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="metric to compare (repeatable; default: all of them)",
    )


@command(
    "compare",
    "paired comparison (common random numbers) of each scenario against the first, with "
    "confidence intervals",
    _compare_args,
)
def compare_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..compare import compare
    from ..paths import safe_name
    from ..results import check_destination

    if len(args.scenarios) < 2:
        raise CommandError("give at least two scenarios: the baseline first, then alternatives")
    if args.out:
        check_destination(args.out)  # a file or a folder of something else: refused at once
    options = run_options(args)
    result = compare(
        args.scenarios,
        replications=args.replications,
        seed=args.seed,
        overrides=args.overrides,
        metrics=args.metric or None,
        **options,
    )
    names = list(result.results)
    out = (
        Path(args.out)
        if args.out
        else Path("reports") / "comparisons" / safe_name("-vs-".join(names))
    )
    result.write(out)
    report_targets(result.extra, args.quiet)
    if not args.quiet:
        with pd.option_context(
            "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.6g}".format
        ):
            print(
                f"{result.replications} replications, seed {result.seed}, baseline "
                f"{result.baseline!r}; 95 % intervals of the difference"
            )
            print(result.table.to_string(index=False))
    print(out)
    return 0
