"""How much narrower common random numbers make a comparison: unpaired / paired half-width.

Two scenarios that differ only in a policy are run with the same seed (every account faces the
same luck in both); the paired interval of the per-replication differences is compared with
Welch's interval of the two means as if they had been run independently. The ratio says how many
times narrower pairing makes the answer; its square, how many times more replications an
independent design would need for the same precision. Target: at least 3x for
``coverage_tiered`` against ``coverage_uniform`` (two presets differing only in CS coverage);
``make bench`` prints that pair.

    python benchmarks/crn.py [--replications N] [--accounts N] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: Pairs measured by default: name -> (base scenario, the alternative: a preset name, or
#: overrides of the base).
PAIRS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "coverage": ("coverage_uniform", "coverage_tiered"),
    "satisfaction_link": ("b2b_saas", ("churn.satisfaction_effect=4",)),
    "champion_turnover": ("b2b_saas", ("champion.monthly_turnover=0.03",)),
}

METRICS = ("ltv_mean", "arpa_end", "logo_churn_monthly", "nrr_12m", "net_value", "cs_cost")


def crn_measure(
    scenario: str = "b2b_saas",
    alternative: str | tuple[str, ...] = ("churn.satisfaction_effect=4",),
    metrics: tuple[str, ...] = METRICS,
    replications: int = 20,
    seed: int = 0,
    overrides: tuple[str, ...] = (),
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """One row per metric: paired and unpaired half-widths and their ratio (unpaired / paired).

    ``alternative``: another preset (a name), or overrides that turn the base scenario into the
    alternative; ``overrides`` apply to both (a smaller book, say).
    """
    import simlib

    base = simlib.load_scenario(scenario, list(overrides))
    if isinstance(alternative, str):
        alt = simlib.load_scenario(alternative, list(overrides))
    else:
        alt = simlib.load_scenario(scenario, [*overrides, *alternative])
        alt = alt.model_copy(update={"name": f"{base.name} + {', '.join(alternative)}"})
    result = simlib.compare(
        [base, alt], replications=replications, seed=seed, workers=workers, metrics=list(metrics)
    )
    rows = []
    for _, row in result.table.iterrows():
        paired, unpaired = row["paired_half_width"], row["unpaired_half_width"]
        rows.append(
            {
                "metric": row["metric"],
                "difference": row["difference"],
                "paired_half_width": paired,
                "unpaired_half_width": unpaired,
                "ratio": unpaired / paired if paired > 0 else float("inf"),
                "replications": replications,
            }
        )
    return rows


def crn_ratio(
    scenario: str = "b2b_saas",
    alternative: str | tuple[str, ...] = ("churn.satisfaction_effect=4",),
    metric: str = "ltv_mean",
    replications: int = 20,
    seed: int = 0,
    overrides: tuple[str, ...] = (),
    workers: int | None = None,
) -> float:
    """Unpaired / paired 95 % half-width of ``metric`` for the pair (>= 3 is the target)."""
    rows = crn_measure(scenario, alternative, (metric,), replications, seed, overrides, workers)
    return float(rows[0]["ratio"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--replications", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--accounts", type=int, default=None, help="opening book size (default: the preset's)"
    )
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    overrides = (f"population.initial_accounts={args.accounts}",) if args.accounts else ()
    print(f"{'pair':<20}{'metric':<22}{'paired +-':>14}{'unpaired +-':>14}{'ratio':>8}")
    for name, (scenario, alternative) in PAIRS.items():
        for row in crn_measure(
            scenario,
            alternative,
            METRICS,
            args.replications,
            args.seed,
            overrides,
            args.workers,
        ):
            print(
                f"{name:<20}{row['metric']:<22}{row['paired_half_width']:>14.4g}"
                f"{row['unpaired_half_width']:>14.4g}{row['ratio']:>8.1f}"
            )
    print(f"({args.replications} replications, seed {args.seed}; target ratio >= 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
