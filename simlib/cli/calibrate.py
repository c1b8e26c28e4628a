"""``simlib calibrate retention|accounts``: fit the sBG churn model to a company's own data.

Prints one JSON object (``{"fits": [...], ...}``, see CONTRACT.md) to standard output; with
``--out FILE`` also writes it there, with ``--fragment FILE`` writes a scenario fragment (YAML)
using the fitted churn. Every fit carries the model checks of :mod:`simlib.calibration.models`
(observed against fitted hazards, the sBG against the sBG with a tenure profile, a
recommendation); ``--tenure-profile K`` makes the profile model the fit. Files are written
atomically and only after the fit (and the fragment) succeeded: on bad data (exit code 2)
nothing is written.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..errors import CommandError
from . import command
from .common import _positive_int


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"must lie in (0, 10], got {text}")
    return value


def _pieces(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 2 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must lie in 2..60 pieces, got {text}")
    return value


def _score_range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition(":")
    try:
        values = (float(lo), float(hi))
    except ValueError:
        values = None
    if not sep or values is None or not all(map(math.isfinite, values)):
        raise argparse.ArgumentTypeError(f"must be LO:HI (two numbers), got {text!r}")
    if not values[0] < values[1]:
        raise argparse.ArgumentTypeError(f"needs LO < HI, got {text!r}")
    return values


def _bands(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= 20:
        raise argparse.ArgumentTypeError(f"must lie in 1..20 bands, got {text}")
    return value


def _satisfaction_arguments(a: argparse.ArgumentParser) -> None:
    a.add_argument(
        "--satisfaction",
        metavar="COL",
        help=(
            "health-score column: fit the satisfaction link on the churn odds jointly with the "
            "sBG (needs --satisfaction-range)"
        ),
    )
    a.add_argument(
        "--satisfaction-range",
        type=_score_range,
        metavar="LO:HI",
        help="the score's scale, LO the worst and HI the best health (mapped to 0-1)",
    )
    a.add_argument(
        "--satisfaction-noise",
        type=_noise,
        default=0.0,
        metavar="SD",
        help=(
            "standard deviation of the score's measurement noise, on its own scale: the fit "
            "corrects for it by regression calibration (default 0: none)"
        ),
    )
    a.add_argument(
        "--validate",
        metavar="TEST.csv",
        help=(
            "held-out accounts (same columns): predicted survival against their Kaplan-Meier "
            "curve per satisfaction band (needs --satisfaction)"
        ),
    )
    a.add_argument(
        "--bands",
        type=_bands,
        default=3,
        metavar="K",
        help="satisfaction bands of equal counts for --validate (default 3)",
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tenure-profile",
        type=_pieces,
        metavar="K",
        help=(
            "fit the sBG with a tenure profile in K pieces: renewals 1..K-1 each with their own "
            "log-odds shift of churn, renewal K and later none (early-life churn)"
        ),
    )
    p.add_argument("--out", metavar="FILE", help="also write the JSON object to FILE")
    p.add_argument(
        "--fragment",
        metavar="FILE",
        help="write a scenario fragment (YAML) with the fitted churn to FILE",
    )
    p.add_argument(
        "--annual-discount-rate",
        type=_rate,
        default=0.1,
        metavar="R",
        help="yearly discount rate for DEL/DERL (default 0.1 = 10 %% a year)",
    )


def _arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kind", metavar="KIND")
    sub.required = True
    r = sub.add_parser(
        "retention",
        help="fit to a cohort retention table (period, alive [, segment])",
        description=(
            "Fit the shifted-beta-geometric churn model to a cohort retention table: CSV "
            "columns period, alive (period 0 first = the cohort size) and optionally segment."
        ),
    )
    r.add_argument("file", metavar="FILE.csv", help="the retention table")
    r.add_argument(
        "--holdout",
        type=_positive_int,
        metavar="K",
        help="fit on periods 0..K only and report the projection of the later periods",
    )
    r.add_argument(
        "--period-months",
        type=_positive_int,
        default=1,
        metavar="K",
        help="months per period of the table (1 = monthly, the default; 12 = annual)",
    )
    _common(r)
    a = sub.add_parser(
        "accounts",
        help="fit to account-level tenure data (right-censored)",
        description=(
            "Fit the shifted-beta-geometric churn model to one row per account: a duration "
            "(months, or whole renewal periods) and an event (1 = churned, 0 = still active)."
        ),
    )
    a.add_argument("file", metavar="FILE.csv", help="the accounts table")
    a.add_argument("--duration", required=True, metavar="COL", help="tenure column (months)")
    a.add_argument(
        "--event", required=True, metavar="COL", help="churn column: 1 churned, 0 still active"
    )
    a.add_argument("--group", metavar="COL", help="fit one distribution per value of COL")
    a.add_argument(
        "--period-months",
        type=_positive_int,
        default=1,
        metavar="K",
        help="months per renewal period (1 = monthly, the default; 12 = annual)",
    )
    _satisfaction_arguments(a)
    _common(a)
    _panel_arguments(sub)


def _noise(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _panel_arguments(sub: Any) -> None:
    p = sub.add_parser(
        "panel",
        help="fit the satisfaction links from an account-month panel (a CRM export)",
        description=(
            "Fit the base churn distribution, the satisfaction link on churn and, where "
            "offers are recorded (offers_made_K, offers_accepted_K), the link from health to "
            "accepting an offer, from one row per account and month alive (.csv or .parquet; "
            "simlib run --panel writes one). The health score is corrected for its "
            "measurement noise (regression calibration)."
        ),
    )
    p.add_argument("file", metavar="FILE", help="the panel (.csv or .parquet)")
    for flag, default, what in (
        ("--account", "account_id", "account column"),
        ("--month", "month", "month column (whole months)"),
        ("--health", "health", "health-score column"),
        ("--churned", "churned", "churn column: 1 in the month at whose end the account left"),
        ("--mrr", "mrr", "MRR column (checked when present)"),
    ):
        p.add_argument(flag, default=default, metavar="COL", help=f"{what} (default {default})")
    p.add_argument(
        "--health-range",
        type=_score_range,
        default=(0.0, 1.0),
        metavar="LO:HI",
        help="the score's scale, LO the worst health (default 0:1)",
    )
    p.add_argument(
        "--health-noise",
        type=_noise,
        metavar="SD",
        help=(
            "standard deviation of the score's measurement noise, on its own scale (default: "
            "estimated from the panel; 0: no correction)"
        ),
    )
    p.add_argument(
        "--contract",
        metavar="COL",
        help=(
            "contract column (monthly or annual, one per account): annual accounts renew, and "
            "can churn, every 12 months only, with their own Beta (churn.annual); default: "
            "every account monthly"
        ),
    )
    p.add_argument(
        "--group",
        metavar="COL",
        help=(
            "fit one Beta per value of COL (e.g. segment; one value per account), written "
            "under population.segments.<value>; the links are shared"
        ),
    )
    p.add_argument(
        "--tenure-profile",
        type=_pieces,
        metavar="K",
        help=(
            "fit a tenure profile of monthly renewals in K pieces (renewals 1..K-1 each with "
            "their own log-odds shift, K and later none) jointly with the Beta and the link"
        ),
    )
    p.add_argument("--out", metavar="FILE", help="also write the JSON object to FILE")
    p.add_argument(
        "--fragment", metavar="FILE", help="write a scenario fragment (YAML) with the fitted keys"
    )


@command("calibrate", "fit the sBG churn model to retention or account data", _arguments)
def calibrate(args: argparse.Namespace) -> int:
    from ..calibrate import calibration_json, holdout_table, scenario_fragment
    from ..calibration.models import fit_accounts_models, fit_retention_models
    from ..paths import write_text_atomic

    if args.kind == "panel":
        return _calibrate_panel(args)
    if args.fragment and args.period_months not in (1, 12):
        raise CommandError(
            f"--fragment: scenarios renew monthly (--period-months 1) or annually (12), "
            f"got --period-months {args.period_months}"
        )
    holdout = None
    validation: dict[str, Any] | None = None
    pieces = args.tenure_profile
    if args.kind == "retention":
        fits = fit_retention_models(args.file, args.period_months, args.holdout, pieces)
        if args.holdout is not None:
            holdout = holdout_table(args.file, args.holdout, args.period_months, fits=fits)
    elif getattr(args, "satisfaction", None) or getattr(args, "validate", None):
        fits, validation = _satisfaction_fit(args)
    else:
        fits = fit_accounts_models(
            args.file, args.duration, args.event, args.group, args.period_months, pieces
        )
    result = calibration_json(fits, args.kind, args.file, args.annual_discount_rate, holdout)
    if args.kind == "accounts" and validation is not None:
        result |= validation
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    fragment = scenario_fragment(fits, args.file) if args.fragment else None
    if args.out:
        write_text_atomic(args.out, text)
    if fragment is not None:
        write_text_atomic(args.fragment, fragment)
    sys.stdout.write(text)
    for f in fits:  # the model checks' warnings, in words, where a person reads them
        own = f.warnings if f.checks is None else (f.checks or {}).get("warnings", [])
        for warning in own:
            name = "all accounts" if f.group is None else f"group {f.group}"
            sys.stderr.write(f"simlib calibrate: warning: {name}: {warning}\n")
    return 0


def _satisfaction_fit(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any] | None]:
    """``calibrate accounts --satisfaction``: the sBG with the satisfaction covariate
    (:mod:`simlib.calibration.covariate`) and, with ``--validate``, its held-out check."""
    from ..calibration.covariate import (
        calibrate_scores,
        fit_satisfaction_accounts,
        read_satisfaction_accounts,
        validate_accounts,
    )
    from ..calibration.covariate_checks import satisfaction_checks

    if not args.satisfaction:
        raise CommandError("--validate: the bands need a health column; give --satisfaction COL")
    if args.satisfaction_range is None:
        raise CommandError(
            "--satisfaction: give the score's scale with --satisfaction-range LO:HI (e.g. 0:100)"
        )

    def read(path: str) -> Any:
        return read_satisfaction_accounts(
            path,
            args.duration,
            args.event,
            args.satisfaction,
            args.satisfaction_range,
            args.group,
            args.period_months,
        )

    train = read(args.file)
    test = read(args.validate) if args.validate else None
    lo, hi = args.satisfaction_range
    noise = args.satisfaction_noise / (hi - lo)
    lam = 1.0
    if noise > 0:
        train, mu, lam = calibrate_scores(train, noise)
        if test is not None:
            test = calibrate_scores(test, noise, (mu, lam))[0]
    fits = fit_satisfaction_accounts(
        train, args.satisfaction_range, args.period_months, args.tenure_profile
    )
    satisfaction_checks(fits, train, args.period_months, args.tenure_profile)
    for f in fits:
        f.satisfaction_noise_sd, f.satisfaction_reliability = noise, lam
    validation = validate_accounts(fits, test, args.bands) if test is not None else None
    return fits, validation


def _calibrate_panel(args: argparse.Namespace) -> int:
    """``simlib calibrate panel``: the links from an account-month panel
    (:mod:`simlib.calibration.panel`); files written only once the fit succeeded."""
    from ..calibration.panel import fit_panel, panel_fragment, panel_json, read_panel
    from ..paths import write_text_atomic

    data = read_panel(
        args.file, args.account, args.month, args.health, args.churned, args.mrr,
        args.health_range, args.contract, args.group,
    )  # fmt: skip
    result = panel_json(fit_panel(data, args.health_noise, args.tenure_profile), args.file)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    fragment = panel_fragment(result, args.file) if args.fragment else None
    if args.out:
        write_text_atomic(args.out, text)
    if fragment is not None:
        write_text_atomic(args.fragment, fragment)
    sys.stdout.write(text)
    for warning in result["warnings"]:
        sys.stderr.write(f"simlib calibrate: warning: {warning}\n")
    return 0
