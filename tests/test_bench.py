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


def test_the_coverage_cost_line_divides_the_two_cases(capsys):
    from simlib.bench import _coverage_cost

    rows = [
        {"case": "core", "accounts": 10, "wall_s": 2.0},
        {"case": "+coverage", "accounts": 10, "wall_s": 3.0},
        {"case": "core", "accounts": 100, "wall_s": 4.0},
        {"case": "+coverage", "accounts": 100, "wall_s": 5.0},
    ]
    _coverage_cost(rows)
    assert "1.50x at 10, 1.25x at 100 accounts" in capsys.readouterr().out


def test_the_every_mechanism_line_gives_the_rate_and_the_ratio_to_core(capsys):
    from simlib.bench import _all_cost

    rows = [
        {"case": "core", "accounts": 10, "wall_s": 2.0, "am_per_s": 9e6},
        {"case": "all", "accounts": 10, "wall_s": 5.0, "am_per_s": 2.6e6},
        {"case": "all", "accounts": 100, "wall_s": 7.0, "am_per_s": 3e6},  # no core: left out
    ]
    _all_cost(rows)
    out = capsys.readouterr().out
    assert "case all 2.60 M/s (2.50x core) at 10 accounts (target" in out  # 100: no core row


def test_the_lab_robustness_case_runs_every_sample(capsys):
    from simlib.bench import _lab_line, run_lab_robustness

    row = run_lab_robustness(3, 2, 1, ("population.initial_accounts=200", "horizon_months=12"))
    assert row["runs"] == 2 * 3 * 2 and row["wall_s"] > 0
    assert abs(sum(row["share"].values()) - 1.0) < 1e-12
    _lab_line(row)
    assert "3 samples x 2 replications (12 runs)" in capsys.readouterr().out
