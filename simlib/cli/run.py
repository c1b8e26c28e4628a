"""``simlib run`` and ``simlib validate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CommandError
from ..paths import safe_name
from ..plugins import load_scenario
from ..scenario import to_yaml
from . import command
from .common import experiment_arguments, report_targets, run_options, scenario_arguments


def _run_args(p: argparse.ArgumentParser) -> None:
    scenario_arguments(p)
    experiment_arguments(p, replications=1)
    p.add_argument(
        "--panel",
        action="store_true",
        help=(
            "also write panel.parquet: one row per (replication, account, month alive) with "
            "the health a CRM records (satisfaction.observation_noise), churn and offers"
        ),
    )


@command("run", "simulate N replications and write the result tables", _run_args)
def run(args: argparse.Namespace) -> int:
    from ..experiment import simulate
    from ..results import check_destination, locked_destination

    scenario = load_scenario(args.scenario, args.overrides)
    out = Path(args.out) if args.out else Path("reports") / "runs" / safe_name(scenario.name)
    check_destination(out)  # a file or a folder of something else: refused before running
    if not (args.cache_dir or args.resume):
        args.no_cache = True  # a single run stores nothing unless asked to
    options = run_options(args)
    if args.panel:
        if args.cache_dir or args.resume:
            raise CommandError(
                "--panel: the panel is not kept in the cache; leave out --cache-dir / --resume"
            )
        options["panel"] = True
    with locked_destination(out, "another simlib run"):  # two runs into one folder: refused
        result = simulate(scenario, replications=args.replications, seed=args.seed, **options)
        result.write(out)
    report_targets(result.extra, args.quiet)
    if not args.quiet:
        s = result.summary
        print(
            f"{scenario.name}: {result.replications} replication(s), "
            f"{result.account_months:,} account-months in {result.wall_seconds:.1f} s; "
            f"mean LTV {s['ltv_mean'].mean():,.0f}, "
            f"monthly logo churn {100 * s['logo_churn_monthly'].mean():.2f} %"
        )
    print(out)
    return 0


@command(
    "validate", "check a scenario; print the fully resolved YAML, or the errors", scenario_arguments
)
def validate(args: argparse.Namespace) -> int:
    from ..model.book_import import check_book_header

    scenario = load_scenario(args.scenario, args.overrides)
    if scenario.population.from_csv is not None:  # the book's header, not its rows
        check_book_header(scenario.population.from_csv, scenario)
    sys.stdout.write(to_yaml(scenario))
    return 0
