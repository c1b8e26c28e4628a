"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import CommandError


def scenario_arguments(p: argparse.ArgumentParser, many: bool = False) -> None:
    """SCENARIO (or several) and repeated ``--set KEY=VALUE``."""
    if many:
        p.add_argument(
            "scenarios",
            nargs="+",
            metavar="SCENARIO",
            help="YAML files or preset names; the first is the baseline",
        )
    else:
        p.add_argument("scenario", metavar="SCENARIO", help="a YAML file or a preset name")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted key with a YAML value (repeatable)",
    )


def experiment_arguments(p: argparse.ArgumentParser, replications: int) -> None:
    """``-r``, ``--seed``, ``--out``, ``-q``, executor, cache and ``--target-ci`` arguments."""
    p.add_argument(
        "-r",
        "--replications",
        type=_positive_int,
        default=replications,
        metavar="N",
        help=f"replications (default {replications}; with --target-ci, the first batch)",
    )
    p.add_argument(
        "--seed", type=_non_negative_int, default=0, metavar="S", help="seed of the run (default 0)"
    )
    p.add_argument("--out", metavar="DIR", help="output folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no table")
    p.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where replications run: local processes (default) or a Dask cluster",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="parallel workers (default: the CPUs of this machine; 1 = in this process)",
    )
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://HOST:8786)"
    )
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where replications are stored and reused (default .cache/simlib, or "
        "$SIMLIB_CACHE_DIR)",
    )
    p.add_argument(
        "--no-cache", action="store_true", help="store nothing, reuse nothing (a fresh run)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run: only missing replications are simulated",
    )
    p.add_argument(
        "--target-ci",
        action="append",
        default=[],
        metavar="METRIC=HALF_WIDTH",
        help="add replications in batches until the 95%% interval of METRIC is that narrow "
        "(repeatable)",
    )
    p.add_argument(
        "--max-replications",
        type=_positive_int,
        default=200,
        metavar="N",
        help="cap on replications with --target-ci (default 200)",
    )


def parse_targets(items: list[str]) -> dict[str, float]:
    """``["ltv_mean=50", ...]`` -> ``{"ltv_mean": 50.0}`` (metric names checked later)."""
    out: dict[str, float] = {}
    for item in items:
        metric, sep, text = item.partition("=")
        metric = metric.strip()
        if not sep or not metric:
            raise CommandError(f"--target-ci: expected METRIC=HALF_WIDTH, got {item!r}")
        try:
            out[metric] = float(text)
        except ValueError:
            raise CommandError(
                f"--target-ci {metric}: the half-width must be a number, got {text!r}"
            ) from None
    return out


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for compare/sweep from the shared arguments."""
    if args.no_cache and args.resume:
        raise CommandError("--resume needs the cache; leave out --no-cache")
    if args.no_cache and args.cache_dir:
        raise CommandError("--cache-dir and --no-cache contradict each other")
    if args.scheduler and args.executor != "dask":
        raise CommandError("--scheduler is for --executor dask")
    if args.no_cache:
        cache: Any = None
    else:
        from ..cache import ResultCache

        cache = ResultCache(args.cache_dir)
    options: dict[str, Any] = {
        "executor": args.executor,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "cache": cache,
        "progress": not args.quiet,
    }
    targets = parse_targets(args.target_ci)
    if targets:
        options["target_ci"] = targets
        options["max_replications"] = args.max_replications
    return options


def report_targets(extra: dict[str, Any], quiet: bool) -> None:
    """Say what the cache gave and whether ``--target-ci`` was met (to standard error)."""
    if quiet:
        return
    reused = extra.get("reused_replications")
    if reused:
        print(f"{reused} replication(s) reused from the cache", file=sys.stderr)
    report = extra.get("target_ci")
    if report:
        print(f"--target-ci: {report['message']}", file=sys.stderr)


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value
