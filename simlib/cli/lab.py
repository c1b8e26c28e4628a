"""``simlib lab``: the hypothesis lab from the command line.

Raises satisfaction by ``--dose`` on the scenario's book, prints the verdict and, with ``--out``,
writes the JSON of :func:`simlib.lab.answer.lab_json` (CONTRACT.md). With ``--uncertain
KEY=LO:HI`` (repeatable) or ``--uncertain-from FIT.json`` (the JSON of ``simlib calibrate``), the
same question is asked at ``--samples`` plausible settings of those keys and the verdict says
where the answer flips. Every input is checked before anything runs (exit code 2 naming the
flag); the JSON is written atomically, after everything ran.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import CommandError
from . import command
from .common import _non_negative_int, _positive_int, scenario_arguments

if TYPE_CHECKING:
    from ..lab.robustness import Uncertain
    from ..scenario import Scenario


def _dose(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _lab_args(p: argparse.ArgumentParser) -> None:
    scenario_arguments(p)
    p.add_argument(
        "--dose",
        type=_dose,
        default=0.1,
        metavar="D",
        help="satisfaction raised by D (0-1 scale, default 0.1)",
    )
    p.add_argument(
        "-r",
        "--replications",
        type=_positive_int,
        default=10,
        metavar="N",
        help="replications of each run (default 10; with uncertain keys, also at each sample)",
    )
    p.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        metavar="S",
        help="seed of every run (default 0)",
    )
    p.add_argument(
        "--uncertain",
        action="append",
        default=[],
        metavar="KEY=LO:HI",
        help="a key whose value is uncertain, sampled over LO:HI (repeatable; KEY[i]: "
        "element i of a list key, e.g. churn.tenure_profile.monthly[0])",
    )
    p.add_argument(
        "--uncertain-from",
        metavar="FIT.json",
        help="uncertain keys from the JSON of simlib calibrate (values and standard errors)",
    )
    p.add_argument(
        "--samples",
        type=_positive_int,
        metavar="N",
        help="plausible settings sampled (Latin hypercube) with uncertain keys (default 12)",
    )
    p.add_argument("--out", metavar="FILE.json", help="write the answer as JSON")


def _uncertain(args: argparse.Namespace) -> tuple[dict[str, Uncertain], list[str], list[str]]:
    """The uncertain keys, the fixed overrides and the notes, from the two flags."""
    from ..lab.robustness import parse_uncertain, uncertain_from_fit

    ranges = parse_uncertain(args.uncertain)
    fitted: dict[str, Uncertain] = {}
    fixed: list[str] = []
    notes: list[str] = []
    if args.uncertain_from:
        fitted, fixed, notes = uncertain_from_fit(args.uncertain_from)
    both = sorted(set(ranges) & set(fitted))
    if both:
        raise CommandError(
            f"--uncertain and --uncertain-from both give {', '.join(both)}; give each key once"
        )
    if args.samples is not None and not (ranges or fitted):
        raise CommandError("--samples needs uncertain keys (--uncertain or --uncertain-from)")
    if args.samples is not None and args.samples < 2:
        raise CommandError(f"--samples: robustness needs at least 2 samples, got {args.samples}")
    return {**ranges, **fitted}, fixed, notes


def _checked(
    args: argparse.Namespace, fixed: list[str], uncertain: dict[str, Uncertain]
) -> tuple[Scenario, list[str]]:
    """The baseline scenario and its overrides (``--set``, the fixed ones, the calibrated keys
    at their fitted values: the company's own links), refusing before anything runs a bad
    scenario or key, a fitted key the scenario cannot take (naming ``--uncertain-from``) and an
    uncertain key it does not know (at both ends of its range)."""
    from ..errors import ScenarioError
    from ..lab.robustness import point_overrides
    from ..scenario import load_scenario
    from ..sweep import integer_keys

    load_scenario(args.scenario, args.overrides)
    try:
        held = [*args.overrides, *fixed]
        fitted = {k: u.value for k, u in uncertain.items() if u.value is not None}
        overrides = [*held, *point_overrides(load_scenario(args.scenario, held), fitted)]
        base = load_scenario(args.scenario, overrides)
    except ScenarioError as exc:
        if not args.uncertain_from:
            raise
        raise ScenarioError(
            f"{exc.source} with the fitted keys of --uncertain-from {args.uncertain_from}",
            exc.problems,
        ) from None
    whole = integer_keys(base, list(uncertain))
    for edge in ("lo", "hi"):
        values = {k: getattr(u, edge) for k, u in uncertain.items()}
        values = {k: round(v) if k in whole else v for k, v in values.items()}
        load_scenario(base, point_overrides(base, values))
    return base, overrides


@command(
    "lab",
    "the hypothesis lab: does raising satisfaction raise ARPU or keep accounts longer? "
    "Prints the verdict; with --uncertain, how sure it is across plausible settings",
    _lab_args,
)
def lab_command(args: argparse.Namespace) -> int:
    from ..lab import intervention_overrides, run_intervention
    from ..lab.answer import full_verdict, lab_json
    from ..lab.robustness import run_robustness
    from ..paths import write_text_atomic

    uncertain, fixed, notes = _uncertain(args)
    base, overrides = _checked(args, fixed, uncertain)
    intervention_overrides(base, args.dose)  # refuses a bad dose before anything runs
    exp = run_intervention(
        args.scenario, args.dose, args.replications, args.seed, overrides, workers=None
    )
    rob = None
    if uncertain:
        rob = run_robustness(
            args.scenario,
            uncertain,
            args.samples or 12,
            args.dose,
            args.replications,
            args.seed,
            [*args.overrides],
            fixed=fixed,
            notes=notes,
        )
    print(full_verdict(exp, rob))
    for note in notes:
        print(f"note: {note}")
    if args.out:
        text = json.dumps(lab_json(exp, rob), indent=2, ensure_ascii=False) + "\n"
        write_text_atomic(args.out, text)
    return 0
