"""``simlib bench`` / ``make bench``: the speed benchmark tables.

Each measurement runs in a fresh subprocess (so that peak memory is its own), best wall time of
``repeat`` runs after loading the scenario and one untimed run (imports, compiled loops loaded
from numba's cache, memory first touched; skipped when ``repeat`` is 1); a run includes building
the monthly and account tables and the summary row. Printed:

1. **Cases** (``core``, ``+coverage``, ``+offers``, ``all``) by book size over 60 months: wall
   seconds, account-months per second, simpy events processed, peak resident memory, and ratios
   measured in the same run against two baselines kept in ``benchmarks/naive.py``: a bare numpy
   loop of the same churn-and-billing arithmetic (the practical limit in Python) and one simpy
   generator per account (the naive design; measured at up to 100,000 accounts, its rate there
   stands in for bigger books).
2. **Growth**: time per account-month and peak memory against the book size (60 months) and
   against the horizon (100,000 accounts), for the ``all`` case, relative to the smallest.
3. **Sweep**: a scaled-down sweep of 10,000-account x 60-month replications with every mechanism
   on, through the local executor (2 workers), extrapolated linearly to 100 points x 20
   replications.
4. **Lab robustness**: ``simlib lab``'s robustness run, 12 Latin hypercube samples of the churn
   link x 2 replications of the paired intervention on a 1,500-account, 36-month ``b2b_saas``
   book (48 runs in one batch through the local executor, 2 workers), without the cache
   (target: under two minutes on two cores).
5. **Report** (``--report``): the time papermill takes to render one scenario report (the
   batch's notebook task, simulation excluded), median over three small scenarios.

``--full`` adds 1,000,000-account books (every case) to the first two tables.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CASES", "main", "run_case", "run_lab_robustness", "run_report", "run_sweep"]

ROOT = Path(__file__).resolve().parent.parent
MONTHS = 60


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str
    overrides: tuple[str, ...] = ()


#: The default book (seats, every offer kind, add-on cancellation, loyalty, capacity-driven
#: coverage with growth and a digital pool) with the mechanisms it leaves off switched on too.
_EVERYTHING = (
    "approval.enabled=true",
    "budget.enabled=true",
    "pricing.enabled=true",
    "pricing.pct=0.05",
    "loyalty.champion_referral=0.3",
)

#: Benchmark cases: name -> scenario and overrides (accounts are set per run).
CASES: dict[str, Case] = {
    "core": Case("core", "coverage_none"),
    "+coverage": Case("+coverage", "coverage_tiered"),
    # upsell and cross-sell with B2B approval chains and fiscal-year budgets
    "+offers": Case("+offers", "b2b_approval_friction"),
    # every mechanism at once: the default book plus approvals, budgets and price rises
    "all": Case("all", "b2b_saas", _EVERYTHING),
}

#: The sweep measured: what is swept (5 values a point) and the full size extrapolated to.
SWEEP_KEY = "offers.intent.satisfaction_to_intent"
SWEEP_FULL = (100, 20)


def _book(accounts: int, months: int = MONTHS) -> list[str]:
    # the book keeps its shape: acquisition at 2 % of the opening book a month, and the CSM
    # team grows with the book (12 CSMs per 5,000 accounts, as in b2b_saas)
    return [
        f"population.initial_accounts={accounts}",
        f"acquisition.new_accounts_per_month={accounts / 50:g}",
        f"coverage.csm.count={max(1, round(12 * accounts / 5000))}",
        f"horizon_months={months}",
    ]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, accounts: int, repeat: int = 3, months: int = MONTHS) -> dict:
    """Run one case in this process; returns its measurements."""
    if case in ("numpy", "naive"):
        sys.path.insert(0, str(ROOT))
        from benchmarks.naive import run_naive, run_numpy

        best = float("inf")
        am = 0
        for _ in range(repeat):
            start = time.perf_counter()
            if case == "numpy":
                am, _ = run_numpy(accounts, months, 0.8, 20.0, 100.0, accounts / 50)
            else:
                am, _ = run_naive(accounts, months, 0.8, 20.0, 100.0)
            best = min(best, time.perf_counter() - start)
        events = 0
    else:
        from .engine import Simulation
        from .metrics import account_table, monthly_table, summary_row
        from .model import opening_book  # noqa: F401 - importing the model registers its actors
        from .scenario import load_scenario

        spec = CASES[case]
        scenario = load_scenario(spec.scenario, [*spec.overrides, *_book(accounts, months)])
        if repeat > 1:  # a first, untimed run: imports, compiled code loaded, memory touched
            Simulation(scenario, seed=1, replication=repeat).run()
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
            del sim, monthly, accounts_table  # one replication in memory at a time
    return {
        "case": case,
        "accounts": accounts,
        "months": months,
        "wall_s": best,
        "account_months": am,
        "am_per_s": am / best,
        "events": events,
        "peak_mb": _peak_mb(),
    }


def run_sweep(points: int = 4, replications: int = 10, workers: int = 2) -> dict:
    """A scaled-down sweep (``points`` x ``replications`` of the ``all`` case at 10,000
    accounts x 60 months) through the local executor, without the cache."""
    from .sweep import sweep

    spec = CASES["all"]
    values = [round(1.0 + 0.5 * i, 2) for i in range(points)]
    start = time.perf_counter()
    res = sweep(
        spec.scenario,
        {SWEEP_KEY: values},
        replications=replications,
        seed=1,
        overrides=[*spec.overrides, *_book(10_000)],
        executor="local",
        workers=workers,
        cache=False,
    )
    wall = time.perf_counter() - start
    n = points * replications
    full = SWEEP_FULL[0] * SWEEP_FULL[1]
    return {
        "points": points,
        "replications": replications,
        "workers": workers,
        "wall_s": wall,
        "per_replication_s": wall / n,
        "failures": len(res.failures),
        "extrapolated_s": wall / n * full,
    }


#: The robustness run measured: scenario, uncertain key and range, book.
LAB_ROBUSTNESS = (
    "b2b_saas",
    "churn.satisfaction_effect",
    (0.5, 3.0),
    ("population.initial_accounts=1500", "horizon_months=36"),
)


def run_lab_robustness(
    samples: int = 12, replications: int = 2, workers: int = 2, book: tuple[str, ...] = ()
) -> dict:
    """The lab's robustness run (:data:`LAB_ROBUSTNESS`): ``samples`` settings x
    ``replications`` of the paired intervention, local executor, no cache; wall seconds.
    ``book``: overrides instead of the measured book (for a quick check)."""
    from .lab import Uncertain, run_robustness

    scenario, key, (lo, hi), measured = LAB_ROBUSTNESS
    book = book or measured
    start = time.perf_counter()
    rob = run_robustness(
        scenario,
        {key: Uncertain(key, lo, hi)},
        samples,
        replications=replications,
        seed=1,
        overrides=list(book),
        workers=workers,
        cache=False,
    )
    return {
        "samples": samples,
        "replications": replications,
        "workers": workers,
        "runs": 2 * samples * replications,
        "wall_s": time.perf_counter() - start,
        "share": rob.share,
        "flips": len(rob.flips),
    }


_REPORT_BATCH = """\
name: report_bench
replications: 2
seed: 1
set:
  population.initial_accounts: 1500
  horizon_months: 24
scenarios:
  - scenario: b2b_saas
  - scenario: downsell_saves
  - scenario: b2b_approval_friction
notebooks:
  scenario: [scenario_report]
  batch: []
"""


def run_report() -> dict:
    """Render one scenario report per scenario of a small batch through papermill; the
    notebook tasks' times (simulations excluded) from the batch's run log."""
    from .batch import run_batch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report_bench.yaml"
        path.write_text(_REPORT_BATCH, encoding="utf-8")
        start = time.perf_counter()
        outcome = run_batch(path, Path(tmp) / "out", workers=1, progress=False)
        wall = time.perf_counter() - start
        log = [
            json.loads(line)
            for line in (Path(tmp) / "out" / "run_log.jsonl").read_text().splitlines()
        ]
    sims = [e["seconds"] for e in log if e["task"].startswith("simulate:")]
    reports = [e["seconds"] for e in log if e["task"].startswith("notebook:") and e["ok"]]
    return {
        "wall_s": wall,
        "simulation_s": sum(sims),
        "reports": len(reports),
        "report_median_s": statistics.median(reports) if reports else float("nan"),
        "report_max_s": max(reports) if reports else float("nan"),
        "failures": len(outcome.failures),
    }


def _in_subprocess(*args: object) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "simlib.bench", "--one", *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cases_table(rows: list[dict], baselines: dict[int, dict[str, float]]) -> None:
    header = (
        f"{'case':<10}{'accounts':>11}{'months':>7}{'wall s':>9}{'acct-months/s':>15}"
        f"{'simpy events':>14}{'peak MB':>9}{'vs numpy':>10}{'vs naive':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        base = baselines[row["accounts"]]
        print(
            f"{row['case']:<10}{row['accounts']:>11,}{row['months']:>7}{row['wall_s']:>9.2f}"
            f"{row['am_per_s']:>15,.0f}{row['events']:>14,}{row['peak_mb']:>9,.0f}"
            f"{row['am_per_s'] / base['numpy']:>10.3f}{row['am_per_s'] / base['naive']:>10.1f}"
        )


def _against_core(rows: list[dict], case: str, part: Callable[[dict, dict], str]) -> list[str]:
    """``part(case row, core row)`` at each book size where both cases ran, smallest first."""
    by = {(r["case"], r["accounts"]): r for r in rows}
    return [
        f"{part(by[case, n], by['core', n])} at {n:,}"
        for n in sorted({r["accounts"] for r in rows})
        if (case, n) in by and ("core", n) in by
    ]


def _coverage_cost(rows: list[dict]) -> None:
    """The time CS coverage adds: +coverage over core wall time at each book size."""
    parts = _against_core(rows, "+coverage", lambda c, k: f"{c['wall_s'] / k['wall_s']:.2f}x")
    if parts:
        print(
            "CS coverage: +coverage time over core time "
            + ", ".join(parts)
            + " accounts (target <= 1.5x)"
        )


def _all_cost(rows: list[dict]) -> None:
    """Case ``all`` (the default book and every mechanism it leaves off) in account-months a
    second at each book size, its wall time over the core case's, against the target of
    2.5 million account-months a second at 100,000 accounts."""
    parts = _against_core(
        rows,
        "all",
        lambda c, k: f"{c['am_per_s'] / 1e6:.2f} M/s ({c['wall_s'] / k['wall_s']:.2f}x core)",
    )
    if parts:
        print(
            "Every mechanism: case all "
            + ", ".join(parts)
            + " accounts (target >= 2.5 M account-months/s at 100,000)"
        )


def _growth_table(title: str, rows: list[dict], key: str) -> None:
    print(f"\n{title}")
    header = (
        f"{key:>10}{'acct-months':>14}{'wall s':>9}{'us/acct-month':>15}{'relative':>10}"
        f"{'peak MB':>9}"
    )
    print(header)
    print("-" * len(header))
    first = rows[0]["wall_s"] / rows[0]["account_months"]
    for row in rows:
        per = row["wall_s"] / row["account_months"]
        print(
            f"{row[key]:>10,}{row['account_months']:>14,}{row['wall_s']:>9.2f}"
            f"{per * 1e6:>15.3f}{per / first:>10.2f}{row['peak_mb']:>9,.0f}"
        )


def main(
    sizes: tuple[int, ...] = (10_000, 100_000),
    quick: bool = False,
    full: bool = False,
    sweep: bool = True,
    report: bool = False,
    horizons: tuple[int, ...] = (12, 30, 60, 120),
) -> int:
    """Print the benchmark tables; returns 0."""
    repeat = 1 if quick else 5
    if full and 1_000_000 not in sizes:
        sizes = (*sizes, 1_000_000)
    started = time.perf_counter()
    rows: list[dict] = []
    baselines: dict[int, dict[str, float]] = {}
    naive: dict[int, float] = {}
    for n in sizes:
        big = n >= 1_000_000
        numpy_row = _in_subprocess("numpy", n, repeat)
        # the naive design is slow: measured once, at up to 100,000 accounts
        naive_n = min(n, 100_000)
        if naive_n not in naive:
            naive[naive_n] = _in_subprocess("naive", naive_n, 1)["am_per_s"]
        baselines[n] = {"numpy": numpy_row["am_per_s"], "naive": naive[naive_n]}
        for case in CASES:
            rows.append(_in_subprocess(case, n, 1 if big else repeat))
    big_note = " (1 at 1,000,000 accounts)" if any(n >= 1_000_000 for n in sizes) else ""
    print(f"Cases: {MONTHS} months, best of {repeat}{big_note}\n")
    _cases_table(rows, baselines)
    print(
        "vs numpy / vs naive: account-months per second over that of the bare numpy loop / "
        "the one-generator-per-account simpy design (benchmarks/naive.py) at the same book "
        f"size (naive measured at up to 100,000 accounts: {_rates(naive)})"
    )
    _coverage_cost(rows)
    _all_cost(rows)
    by_size = [r for r in rows if r["case"] == "all"]
    _growth_table("Growth with the book (case all, 60 months)", by_size, "accounts")
    core = [r for r in rows if r["case"] == "core"]
    if len(core) >= 2:
        first = core[0]["wall_s"] / core[0]["account_months"]
        last = core[-1]["wall_s"] / core[-1]["account_months"]
        print(
            f"(core: {last / first:.2f}x from {core[0]['accounts']:,} to {core[-1]['accounts']:,})"
        )
    by_horizon = [_in_subprocess("all", 100_000, 1, h) for h in horizons]
    _growth_table(
        "Growth with the horizon (case all, 100,000 accounts, one run each)", by_horizon, "months"
    )
    if sweep:
        s = _in_subprocess("sweep", 4, 10, 2)
        print(
            f"\nSweep (case all, 10,000 accounts x 60 months, local executor, "
            f"{s['workers']} workers): {s['points']} points x {s['replications']} replications "
            f"in {s['wall_s']:.1f} s = {s['per_replication_s']:.2f} s a replication; "
            f"{SWEEP_FULL[0]} x {SWEEP_FULL[1]} extrapolated: {s['extrapolated_s'] / 60:.1f} min"
            " (target < 15 min)"
        )
    _lab_line(_in_subprocess("lab", 12, 2, 2))
    if report:
        r = _in_subprocess("report")
        print(
            f"\nScenario report through papermill: median {r['report_median_s']:.1f} s, max "
            f"{r['report_max_s']:.1f} s over {r['reports']} reports (simulations excluded; "
            "target < 5 s)"
        )
    _crn_table()
    print(f"\nmachine: {_machine()}; bench took {time.perf_counter() - started:.0f} s")
    return 0


#: The common-random-numbers pair measured: two presets differing only in CS coverage.
CRN_PAIR = ("coverage_uniform", "coverage_tiered")
CRN_BOOK = ("population.initial_accounts=2000", "horizon_months=36")


def _crn_table(replications: int = 20) -> None:
    """Unpaired / paired 95 % half-widths of ``coverage_tiered`` minus ``coverage_uniform``."""
    if str(ROOT) not in sys.path:  # benchmarks/ lives beside the package, not in it
        sys.path.insert(0, str(ROOT))
    from benchmarks.crn import crn_measure

    rows = crn_measure(
        CRN_PAIR[0], CRN_PAIR[1], replications=replications, seed=0, overrides=CRN_BOOK
    )
    print(
        f"\nCommon random numbers: {CRN_PAIR[1]} - {CRN_PAIR[0]}, {replications} replications "
        "of 2,000 accounts x 36 months (target: unpaired / paired >= 3)"
    )
    print(f"{'metric':<22}{'difference':>14}{'paired +-':>14}{'unpaired +-':>14}{'ratio':>8}")
    for row in rows:
        print(
            f"{row['metric']:<22}{row['difference']:>14.4g}{row['paired_half_width']:>14.4g}"
            f"{row['unpaired_half_width']:>14.4g}{row['ratio']:>8.1f}"
        )


def _lab_line(r: dict) -> None:
    scenario, key, (lo, hi), _ = LAB_ROBUSTNESS
    print(
        f"\nLab robustness ({scenario}, 1,500 accounts x 36 months, {key} {lo:g} to {hi:g}, "
        f"local executor, {r['workers']} workers): {r['samples']} samples x "
        f"{r['replications']} replications ({r['runs']} runs) in {r['wall_s']:.1f} s "
        "(target < 120 s)"
    )


def _rates(naive: dict[int, float]) -> str:
    return ", ".join(f"{v:,.0f}/s at {k:,}" for k, v in naive.items())


def _machine() -> str:
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _one(argv: list[str]) -> dict:
    what = argv[0]
    if what == "sweep":
        return run_sweep(*map(int, argv[1:]))
    if what == "report":
        return run_report()
    if what == "lab":
        samples, replications, workers = map(int, argv[1:4])
        return run_lab_robustness(samples, replications, workers)
    return run_case(what, *map(int, argv[1:]))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--one":
        print(json.dumps(_one(sys.argv[2:])))
    else:
        sys.exit(main())
