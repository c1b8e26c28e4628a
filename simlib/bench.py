"""``simlib bench`` / ``make bench``: the speed benchmark table.

Each case runs in a fresh subprocess (so peak memory is its own), best wall time of ``repeat``
runs after loading the scenario. Columns: wall seconds, account-months per second, simpy events
processed, peak resident memory, and ratios measured in the same run against two baselines kept
in ``benchmarks/``: a bare numpy loop of the same churn-and-billing arithmetic (the practical
limit in Python) and one simpy generator per account (the naive design).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CASES", "main", "run_case"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str
    overrides: tuple[str, ...] = ()


#: Benchmark cases: name -> scenario and overrides (accounts are set per run).
CASES: dict[str, Case] = {
    "core": Case("core", "coverage_none"),
    "+coverage": Case("+coverage", "coverage_tiered"),
    # upsell and cross-sell with B2B approval chains and fiscal-year budgets
    "+offers": Case("+offers", "b2b_approval_friction"),
    # every mechanism at once: coverage, every offer kind, approvals, budgets, loyalty
    "all": Case(
        "all",
        "b2b_approval_friction",
        (
            "offers.kinds.downsell.enabled=true",
            "offers.kinds.term_conversion.enabled=true",
            "loyalty.enabled=true",
            "loyalty.champion_referral=0.3",
        ),
    ),
}


def _book(accounts: int) -> list[str]:
    # the book keeps its shape: acquisition at 2 % of the opening book a month, and the CSM
    # team grows with the book (12 CSMs per 5,000 accounts, as in b2b_saas)
    return [
        f"population.initial_accounts={accounts}",
        f"acquisition.new_accounts_per_month={accounts / 50:g}",
        f"coverage.csm.count={max(1, round(12 * accounts / 5000))}",
        "horizon_months=60",
    ]


def run_case(case: str, accounts: int, repeat: int = 3) -> dict:
    """Run one case in this process; returns its measurements."""
    if case in ("numpy", "naive"):
        sys.path.insert(0, str(ROOT))
        from benchmarks.naive import run_naive, run_numpy

        best = float("inf")
        am = 0
        for _ in range(repeat):
            start = time.perf_counter()
            if case == "numpy":
                am, _ = run_numpy(accounts, 60, 0.8, 20.0, 100.0, accounts / 50)
            else:
                am, _ = run_naive(accounts, 60, 0.8, 20.0, 100.0)
            best = min(best, time.perf_counter() - start)
        events = 0
    else:
        from .engine import Simulation
        from .experiment import _model  # noqa: F401 - registers actors
        from .metrics import account_table, monthly_table, summary_row
        from .scenario import load_scenario

        spec = CASES[case]
        scenario = load_scenario(spec.scenario, [*spec.overrides, *_book(accounts)])
        best = float("inf")
        for r in range(repeat):
            start = time.perf_counter()
            sim = Simulation(scenario, seed=1, replication=r).run()
            monthly = monthly_table(sim)
            accounts_table = account_table(sim)
            summary_row(sim, accounts_table, monthly)
            best = min(best, time.perf_counter() - start)
        am = int(monthly["active_accounts"].sum())
        events = sim.env.events_processed
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "case": case,
        "accounts": accounts,
        "months": 60,
        "wall_s": best,
        "account_months": am,
        "am_per_s": am / best,
        "events": events,
        "peak_mb": peak_mb,
    }


def _in_subprocess(case: str, accounts: int, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "simlib.bench", "--one", case, str(accounts), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: tuple[int, ...] = (10_000, 100_000), quick: bool = False) -> int:
    """Print the benchmark table; returns 0."""
    repeat = 1 if quick else 3
    rows = []
    baselines: dict[int, dict[str, float]] = {}
    for n in sizes:
        numpy_row = _in_subprocess("numpy", n, repeat)
        # the naive design is too slow for big books: its rate at 10,000 accounts stands in
        naive_row = _in_subprocess("naive", min(n, 10_000), 1)
        baselines[n] = {"numpy": numpy_row["am_per_s"], "naive": naive_row["am_per_s"]}
        group = [numpy_row, naive_row, *(_in_subprocess(c, n, repeat) for c in CASES)]
        for row in group:
            row["group"] = n
        rows += group
    header = (
        f"{'case':<10}{'accounts':>10}{'months':>7}{'wall s':>9}{'acct-months/s':>15}"
        f"{'simpy events':>14}{'peak MB':>9}{'vs numpy':>10}{'vs naive':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        base = baselines[row["group"]]
        ratio_np = row["am_per_s"] / base["numpy"]
        ratio_naive = row["am_per_s"] / base["naive"]
        print(
            f"{row['case']:<10}{row['accounts']:>10,}{row['months']:>7}{row['wall_s']:>9.2f}"
            f"{row['am_per_s']:>15,.0f}{row['events']:>14,}{row['peak_mb']:>9,.0f}"
            f"{ratio_np:>10.2f}{ratio_naive:>10.1f}"
        )
    core = {r["accounts"]: r for r in rows if r["case"] == "core"}
    if len(core) >= 2:
        small, large = min(core), max(core)
        per_am = {k: core[k]["wall_s"] / core[k]["account_months"] for k in (small, large)}
        print(
            f"\ntime per account-month, {large:,} vs {small:,} accounts: "
            f"{per_am[large] / per_am[small]:.2f}x (flat = 1.0; target <= 1.5)"
        )
    print(f"machine: {_machine()}")
    return 0


def _machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, " + (
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "--one":
        print(json.dumps(run_case(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        sys.exit(main())
