"""``simlib sweep``: a parameter grid or a Latin hypercube, one tidy table of outcomes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CommandError
from . import command
from .common import (
    _non_negative_int,
    _positive_int,
    experiment_arguments,
    report_targets,
    run_options,
    scenario_arguments,
)


def _sweep_args(p: argparse.ArgumentParser) -> None:
    scenario_arguments(p)
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep KEY over these YAML values (repeatable: every combination)",
    )
    p.add_argument(
        "--lhs", type=_positive_int, metavar="N", help="N Latin hypercube points over --range"
    )
    p.add_argument(
        "--range",
        dest="ranges",
        action="append",
        default=[],
        metavar="KEY=LO:HI",
        help="range of KEY for --lhs (repeatable; whole-number keys are rounded)",
    )
    p.add_argument(
        "--lhs-seed",
        type=_non_negative_int,
        default=0,
        metavar="S",
        help="seed of the Latin hypercube (default 0)",
    )
    experiment_arguments(p, replications=1)


@command(
    "sweep",
    "parameter sweep (--grid, full factorial) or Latin hypercube (--lhs N --range ...): one "
    "tidy table of outcomes",
    _sweep_args,
)
def sweep_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..paths import safe_name
    from ..results import check_destination
    from ..scenario import load_scenario
    from ..sweep import parse_grid, parse_ranges, sweep

    if args.grid and (args.lhs is not None or args.ranges):
        raise CommandError("give either --grid or --lhs with --range, not both")
    grid = parse_grid(args.grid) if args.grid else None
    ranges = parse_ranges(args.ranges) if args.ranges else None
    options = run_options(args)
    base = load_scenario(args.scenario, args.overrides)
    out = Path(args.out) if args.out else Path("reports") / "sweeps" / safe_name(base.name)
    check_destination(out)  # a file or a folder of something else: refused before running
    result = sweep(
        args.scenario,
        grid,
        lhs=args.lhs,
        ranges=ranges,
        lhs_seed=args.lhs_seed,
        replications=args.replications,
        seed=args.seed,
        overrides=args.overrides,
        **options,
    )
    result.write(out)
    report_targets(result.extra, args.quiet)
    if not args.quiet:
        with pd.option_context(
            "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.6g}".format
        ):
            print(
                f"{len(result.points)} point(s) x {result.replications} replication(s), seed "
                f"{result.seed}; means and 95 % half-widths"
            )
            print(result.point_means().to_string(index=False))
    failures = result.failures
    for _, row in failures.drop_duplicates("point").iterrows():
        n = int((failures["point"] == row["point"]).sum())
        label = ", ".join(f"{k}={row[k]}" for k in result.keys)
        print(
            f"simlib sweep: point {row['point']} ({label}) failed in {n} replication(s): "
            f"{row['error']}",
            file=sys.stderr,
        )
    print(out)
    return 1 if len(failures) else 0
