"""Sweeps: grids and Latin hypercubes, bad input, failed points, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import simlib
from simlib.engine import ACTORS, Actor, register_actor
from simlib.metrics import SUMMARY_COLUMNS
from simlib.sweep import grid_points, lhs_points, parse_grid, parse_ranges, point_scenarios, sweep

SMALL = ["population.initial_accounts=300", "horizon_months=24"]
SET_SMALL = [a for s in SMALL for a in ("--set", s)]
ROOT = Path(__file__).resolve().parent.parent


def test_grid_sweep_table_is_tidy_and_shares_luck_across_points():
    result = sweep(
        "b2b_saas_no_offers",
        {"churn.satisfaction_effect": [0, 4], "champion.monthly_turnover": [0.01, 0.03]},
        replications=2,
        seed=3,
        overrides=SMALL,
        workers=1,
    )
    table = result.table
    assert len(table) == 4 * 2
    keys = ["churn.satisfaction_effect", "champion.monthly_turnover"]
    assert list(table.columns) == ["point", *keys, *SUMMARY_COLUMNS, "error"]
    assert table["error"].isna().all()
    assert sorted(map(tuple, table[keys].drop_duplicates().to_numpy())) == [
        (0, 0.01),
        (0, 0.03),
        (4, 0.01),
        (4, 0.03),
    ]
    assert set(table["scenario"]) == {"b2b_saas_no_offers"}
    # common random numbers: arrivals do not depend on these keys, so each replication has the
    # same number of accounts at every point, while the outcomes differ
    per_rep = table.groupby("replication")
    assert (per_rep["accounts"].nunique() == 1).all()
    assert (per_rep["ltv_mean"].nunique() == 4).all()
    means = result.point_means(["ltv_mean"])
    assert len(means) == 4 and means["replications"].eq(2).all()


def test_lhs_points_are_stratified_reproducible_and_rounded():
    ranges = {"a": (0.0, 10.0), "b": (100.0, 200.0)}
    pts = lhs_points(ranges, 8, seed=1)
    assert pts == lhs_points(ranges, 8, seed=1)
    assert pts != lhs_points(ranges, 8, seed=2)
    for key, (lo, hi) in ranges.items():
        strata = sorted(int((p[key] - lo) / (hi - lo) * 8) for p in pts)
        assert strata == list(range(8)), key  # one point in each of the 8 strata
    ints = lhs_points(ranges, 8, seed=1, integer_keys=["b"])
    assert all(isinstance(p["b"], int) for p in ints)
    assert [p["b"] for p in ints] == [round(p["b"]) for p in pts]


def test_lhs_sweep_rounds_whole_number_keys():
    result = sweep(
        "textbook",
        lhs=4,
        ranges={"population.initial_accounts": (50, 150), "churn.monthly.beta": (10, 30)},
        overrides=["horizon_months=12"],
        workers=1,
    )
    assert len(result.points) == 4
    accounts = result.table["population.initial_accounts"]
    assert (accounts == accounts.round()).all()
    assert (result.table["accounts"] == accounts).all()  # no acquisition in the textbook book
    assert result.table["churn.monthly.beta"].nunique() == 4


def test_grid_points_full_factorial():
    assert grid_points({"a": [1, 2], "b": ["x", "y", "z"]})[:2] == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
    ]
    assert len(grid_points({"a": [1, 2], "b": ["x", "y", "z"]})) == 6


def test_parsing_grid_and_ranges():
    assert parse_grid(["churn.satisfaction_effect=0,2.5", "contracts.annual_share=[0.1, 0.2]"]) == {
        "churn.satisfaction_effect": [0, 2.5],
        "contracts.annual_share": [0.1, 0.2],
    }
    assert parse_ranges(["x=1:2", "y=-1:-1"]) == {"x": (1.0, 2.0), "y": (-1.0, -1.0)}
    for bad, message in [
        (["x=1,,2"], "empty value"),
        (["x="], "no values"),
        (["x"], "expected KEY=V1,V2"),
        (["x=1", "x=2"], "given twice"),
    ]:
        with pytest.raises(simlib.CommandError, match=message):
            parse_grid(bad)
    for bad, message in [
        (["x=2:1"], "LO must be <= HI"),
        (["x=1"], "expected KEY=LO:HI"),
        (["x=a:1"], "must be numbers"),
        (["x=1:inf"], "finite"),
    ]:
        with pytest.raises(simlib.CommandError, match=message):
            parse_ranges(bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "churn.satisfaction_efect=1,2"], "did you mean 'satisfaction_effect'"),
        (["--grid", "churn.satisfaction_effect="], "no values"),
        (["--grid", "churn.satisfaction_effect=1,-2"], "sweep point 1"),
        (["--lhs", "3", "--range", "churn.satisfaction_effect=3:1"], "LO must be <= HI"),
        (["--lhs", "3"], "at least one --range"),
        (["--range", "churn.satisfaction_effect=1:3"], "needs --lhs"),
        (["--grid", "horizon_months=12", "--lhs", "2"], "not both"),
        ([], "nothing to sweep"),
    ],
)
def test_sweep_command_bad_input_exits_2(run_cli, args, message, tmp_path):
    code, _, stderr = run_cli("sweep", "b2b_saas_no_offers", *args, "--out", str(tmp_path / "o"), "-q")
    assert code == 2, stderr
    assert message in stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture
def failing_actor():
    """A test-only mechanism that raises in month 5 for scenarios with turnover 0.0123."""

    @register_actor
    class Saboteur(Actor):
        name: ClassVar[str] = "test_saboteur"
        order: ClassVar[int] = 90

        @classmethod
        def enabled(cls, scenario: simlib.Scenario) -> bool:
            return scenario.champion.monthly_turnover == 0.0123

        def open_month(self, month: int) -> None:
            if month == 5:
                raise RuntimeError("sabotaged for the test")

    yield Saboteur
    ACTORS.pop("test_saboteur", None)


def test_a_failing_point_is_recorded_and_the_others_complete(failing_actor, tmp_path, run_cli):
    cache = tmp_path / "cache"
    result = sweep(
        "b2b_saas_no_offers",
        {"champion.monthly_turnover": [0.01, 0.0123, 0.02]},
        replications=2,
        overrides=SMALL,
        workers=1,
        cache=cache,
    )
    table = result.table
    failed = table[table["error"].notna()]
    assert list(failed["point"]) == [1, 1]
    assert failed["error"].str.contains("sabotaged for the test").all()
    assert failed["ltv_mean"].isna().all()
    ok = table[table["error"].isna()]
    assert sorted(ok["point"]) == [0, 0, 2, 2] and ok["ltv_mean"].notna().all()
    # the failure is stored with its error, and the command reports it with exit code 1
    assert len(list(cache.rglob("error.json"))) == 2
    out = tmp_path / "out"
    code, _, stderr = run_cli(
        "sweep",
        "b2b_saas_no_offers",
        *SET_SMALL,
        "--grid",
        "champion.monthly_turnover=0.01,0.0123,0.02",
        "-r",
        "2",
        "--workers",
        "1",
        "--cache-dir",
        str(cache),
        "--out",
        str(out),
    )
    assert code == 1
    assert "point 1 (champion.monthly_turnover=0.0123) failed in 2 replication(s)" in stderr
    assert "sabotaged for the test" in stderr
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures["point"]) == [1, 1]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), table)


def _entries(cache: Path) -> list[Path]:
    return [p for p in cache.glob("*/*/seed-*/rep-*") if p.is_dir()]


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_table(tmp_path):
    cache, out, fresh = tmp_path / "cache", tmp_path / "out", tmp_path / "fresh"
    cmd = [
        sys.executable,
        "-m",
        "simlib",
        "sweep",
        "b2b_saas_no_offers",
        *SET_SMALL,
        "--grid",
        "churn.satisfaction_effect=0,1,2,3",
        "-r",
        "8",
        "--seed",
        "4",
    ]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.Popen(
        [*cmd, "--workers", "1", "--cache-dir", str(cache), "--out", str(out), "-q"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while len(_entries(cache)) < 5:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # no table from a killed run
    stored = _entries(cache)
    assert 5 <= len(stored) < 32
    for entry in stored:  # every visible entry is complete
        assert {"summary.parquet", "monthly.parquet", "meta.json"} <= {
            p.name for p in entry.iterdir()
        }
    resumed = subprocess.run(
        [*cmd, "--workers", "2", "--cache-dir", str(cache), "--out", str(out), "--resume"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(stored)} replication(s) reused from the cache" in resumed.stderr
    assert len(_entries(cache)) == 32
    uninterrupted = subprocess.run(
        [*cmd, "--workers", "1", "--no-cache", "--out", str(fresh), "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    a = pd.read_parquet(out / "sweep.parquet")
    b = pd.read_parquet(fresh / "sweep.parquet")
    assert len(a) == 32
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reused_replications"] == len(stored)
    assert np.isfinite(a["ltv_mean"]).all()


# ---------------------------------------------------------------------------------------------
# Sensitivity (built on sweeps)

TEXTBOOK_SMALL = ["population.initial_accounts=200", "horizon_months=24"]


def test_tornado_effects_are_paired_and_sorted():
    from simlib.sensitivity import tornado

    result = tornado(
        "textbook",
        {"churn.monthly.beta": (10.0, 30.0), "economics.gross_margin": (0.6, 0.9)},
        replications=4,
        seed=2,
        overrides=TEXTBOOK_SMALL,
        workers=1,
    )
    table = result.table.set_index("parameter")
    assert list(result.table["parameter"]) == sorted(
        table.index, key=lambda k: -abs(table.loc[k, "swing"])
    )
    # LTV is proportional to the gross margin: with common random numbers, exactly
    margin = table.loc["economics.gross_margin"]
    assert margin["high_mean"] == pytest.approx(result.base_mean * 0.9 / 0.8, rel=1e-9)
    assert margin["low_effect"] == pytest.approx(result.base_mean * (0.6 / 0.8 - 1), rel=1e-9)
    base = result.runs[result.runs["point"] == 0]["ltv_mean"]
    base_half = simlib.mean_ci(base).half_width
    assert margin["swing_half_width"] == pytest.approx(base_half * 0.3 / 0.8, rel=1e-9)
    # fewer churners (a larger beta) raise LTV, clearly beyond the paired interval
    beta = table.loc["churn.monthly.beta"]
    assert beta["swing"] > 3 * beta["swing_half_width"] > 0
    assert result.noise_sd > 0


def test_morris_indices_with_the_noise_beside_them():
    from simlib.sensitivity import global_sensitivity

    result = global_sensitivity(
        "textbook",
        {"economics.gross_margin": (0.6, 0.9), "satisfaction.volatility": (0.1, 1.0)},
        n=4,
        replications=1,
        noise_replications=4,
        overrides=TEXTBOOK_SMALL,
        workers=1,
    )
    idx = result.indices.set_index("parameter")
    assert list(idx.columns) == ["mu", "mu_star", "sigma", "mu_star_conf", "noise_sd", "noise_se"]
    # satisfaction does not reach churn in the textbook case: no effect at all under shared luck
    assert idx.loc["satisfaction.volatility", "mu_star"] == 0.0
    assert idx.loc["economics.gross_margin", "mu_star"] > 0
    assert result.noise_sd > 0 and (idx["noise_sd"] == result.noise_sd).all()
    assert len(result.samples) == 4 * 3
    # the noise on mu_star's scale: noise_se over SALib's step 4 / (2 x 3) at 4 levels
    assert result.noise_floor == pytest.approx(result.noise_se * 1.5, rel=1e-12)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simlib import plots

    ax = plots.sensitivity_indices(result).axes[0]
    assert "mu*" in ax.get_xlabel() and "USD" in ax.get_xlabel()
    assert "simulation noise" in ax.get_legend_handles_labels()[1]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "economics.gross_margin"
    plt.close("all")


def test_sobol_indices_and_bad_input():
    from simlib.sensitivity import global_sensitivity

    result = global_sensitivity(
        "textbook",
        {"economics.gross_margin": (0.6, 0.9), "churn.monthly.beta": (10.0, 30.0)},
        method="sobol",
        n=8,
        replications=1,
        noise_replications=3,
        overrides=["population.initial_accounts=100", "horizon_months=12"],
        workers=1,
    )
    assert {"S1", "S1_conf", "ST", "ST_conf", "noise_sd"} <= set(result.indices.columns)
    var = result.samples["ltv_mean"].var(ddof=1)
    assert result.noise_floor == pytest.approx(result.noise_se**2 / var, rel=1e-9)
    with pytest.raises(simlib.UserInputError, match="power of two"):
        global_sensitivity(
            "textbook", {"economics.gross_margin": (0.6, 0.9)}, "ltv_mean", "sobol", n=6
        )
    with pytest.raises(simlib.UserInputError, match="did you mean 'ltv_mean'"):
        global_sensitivity("textbook", {"economics.gross_margin": (0.6, 0.9)}, outcome="ltv_men")
    with pytest.raises(simlib.UserInputError, match="LO < HI"):
        global_sensitivity("textbook", {"economics.gross_margin": (0.9, 0.6)})


def test_a_key_that_cannot_reach_the_simulation_is_refused_but_base_values_are_fine():
    from simlib.sensitivity import tornado

    # a loaded Scenario remembers the document it came from, so inherited keys still reach the
    # segments; one changed after loading has its segments' churn filled in for good: the
    # top-level key no longer reaches them, and silently sweeping nothing would mislead
    loaded = simlib.load_scenario("textbook", TEXTBOOK_SMALL)
    points = point_scenarios(loaded, [{"churn.monthly.beta": 10}, {"churn.monthly.beta": 30}])
    assert [p.segment_table()["all"].churn.monthly.beta for p in points] == [10, 30]
    changed = loaded.model_copy(update={"description": "edited"})
    with pytest.raises(simlib.UserInputError, match="does not reach them"):
        sweep(changed, {"churn.monthly.beta": [10, 30]}, workers=1)
    # by name it reaches; and a low value equal to the base value is an ordinary point
    result = tornado(
        "textbook",
        {"churn.monthly.beta": (20.0, 30.0)},
        replications=2,
        overrides=TEXTBOOK_SMALL,
        workers=1,
    )
    row = result.table.iloc[0]
    assert row["low_effect"] == 0.0 and row["high_effect"] > 0
