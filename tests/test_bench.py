"""The benchmark's measurements (small books, so that this runs in seconds)."""

from __future__ import annotations

import pytest

from simlib.bench import CASES, run_case


@pytest.mark.parametrize("case", [*CASES, "numpy", "naive"])
def test_every_bench_case_runs_and_reports_its_rate(case):
    row = run_case(case, 1000, repeat=1, months=12)
    assert row["case"] == case and row["months"] == 12
    # the opening book is billed in every month it is alive, at least the first one
    assert row["account_months"] >= 1000
    assert row["am_per_s"] > 0 and row["peak_mb"] > 0
    # simpy events grow with weeks and months, not with accounts, deals or alerts
    assert row["events"] < 200
