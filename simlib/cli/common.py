"""Arguments shared by several commands."""

from __future__ import annotations

import argparse


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


def run_arguments(p: argparse.ArgumentParser) -> None:
    """``-r/--replications``, ``--seed``, ``--out``, ``--quiet``."""
    p.add_argument(
        "-r",
        "--replications",
        type=_positive_int,
        default=1,
        metavar="N",
        help="replications (default 1)",
    )
    p.add_argument(
        "--seed", type=_non_negative_int, default=0, metavar="S", help="seed of the run (default 0)"
    )
    p.add_argument("--out", metavar="DIR", help="output folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


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
