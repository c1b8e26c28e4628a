"""Paired comparisons with common random numbers: the table, its intervals, the command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import simlib
from simlib.compare import COMPARISON_COLUMNS, paired_interval, welch_interval

SMALL = ["population.initial_accounts=300", "horizon_months=24"]


@pytest.fixture(scope="module")
def satisfaction_pair():
    """b2b_saas against the same book with a stronger satisfaction link (2 -> 4), 8 reps."""
    base = simlib.load_scenario("b2b_saas", SMALL)
    strong = simlib.load_scenario("b2b_saas", [*SMALL, "churn.satisfaction_effect=4"])
    strong = strong.model_copy(update={"name": "strong_link"})
    return simlib.compare([base, strong], replications=8, seed=5, workers=1)


def test_comparison_table_columns_and_rows(satisfaction_pair):
    table = satisfaction_pair.table
    assert tuple(table.columns) == COMPARISON_COLUMNS
    assert set(table["scenario"]) == {"strong_link"}  # the baseline is not compared to itself
    for metric in (
        "ltv_mean",
        "arpa_end",
        "logo_churn_monthly",
        "nrr_12m",
        "net_value",
        "cs_cost",
        "ltv_opening_book",
    ):
        assert metric in set(table["metric"])
    assert set(satisfaction_pair.results) == {"b2b_saas", "strong_link"}
    assert satisfaction_pair.replications == 8


def test_paired_and_unpaired_intervals_are_computed_as_documented(satisfaction_pair):
    res = satisfaction_pair.results
    a = res["b2b_saas"].summary.sort_values("replication")["net_value"].to_numpy()
    b = res["strong_link"].summary.sort_values("replication")["net_value"].to_numpy()
    row = satisfaction_pair.table.set_index("metric").loc["net_value"]
    d = b - a
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    assert row["baseline_mean"] == pytest.approx(a.mean(), rel=1e-12)
    assert row["mean"] == pytest.approx(b.mean(), rel=1e-12)
    assert row["difference"] == pytest.approx(d.mean(), rel=1e-9)
    assert row["paired_half_width"] == pytest.approx(half, rel=1e-9)
    assert row["paired_ci_low"] == pytest.approx(d.mean() - half, rel=1e-9)
    assert row["relative_change"] == pytest.approx(d.mean() / a.mean(), rel=1e-9)
    # Welch's interval, against scipy's own computation
    welch = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert row["unpaired_half_width"] == pytest.approx((welch.high - welch.low) / 2, rel=1e-9)


def test_common_random_numbers_make_the_paired_interval_narrower(satisfaction_pair):
    """The two scenarios differ only in the satisfaction link, so with common random numbers the
    per-replication differences cancel the shared noise (book size, arrivals, each account's
    luck). Measured unpaired / paired ratios are about 20-50x here; were the scenarios drawn
    independently the ratio would scatter around 1 (sqrt(2) x sd over sqrt(2) x sd) and stay
    below 3 with overwhelming probability at 8 replications.
    """
    table = satisfaction_pair.table.set_index("metric")
    for metric in ("ltv_mean", "net_value"):
        row = table.loc[metric]
        assert row["paired_half_width"] > 0
        assert row["unpaired_half_width"] > 3 * row["paired_half_width"], metric
    # churn itself is what the policy moves, so less of its noise is shared: narrower still
    row = table.loc["logo_churn_monthly"]
    assert row["paired_half_width"] < row["unpaired_half_width"]
    ratio = satisfaction_pair.crn_ratio("ltv_mean")
    assert float(ratio.iloc[0]) > 3


def test_independent_seeds_give_no_such_gain():
    # the same pair with different seeds: pairing replications by number gains nothing
    a = simlib.simulate("b2b_saas", replications=8, seed=1, overrides=SMALL, workers=1)
    b = simlib.simulate("b2b_saas", 8, 2, [*SMALL, "churn.satisfaction_effect=4"], workers=1)
    x, y = a.summary["ltv_mean"].to_numpy(), b.summary["ltv_mean"].to_numpy()
    assert paired_interval(x, y).half_width > 0.3 * welch_interval(x, y).half_width


def test_welch_interval_edge_cases():
    assert welch_interval([1.0, 1.0], [2.0, 2.0]).half_width == 0.0
    assert np.isnan(welch_interval([1.0], [2.0, 3.0]).half_width)
    with pytest.raises(ValueError):
        paired_interval([1.0, 2.0], [1.0])


def test_compare_needs_two_scenarios_and_known_metrics():
    with pytest.raises(simlib.UserInputError, match="at least two"):
        simlib.compare(["textbook"], replications=2)
    with pytest.raises(simlib.UserInputError, match="unknown metric"):
        simlib.compare(["textbook", "textbook"], replications=2, metrics=["ltv"])


def test_compare_names_clashing_scenarios_apart():
    result = simlib.compare(
        ["textbook", "textbook"],
        replications=2,
        overrides=["population.initial_accounts=100"],
        workers=1,
        metrics=["ltv_mean"],
    )
    assert list(result.results) == ["textbook", "textbook-2"]
    row = result.table.iloc[0]
    assert row["difference"] == 0.0 and row["paired_half_width"] == 0.0


def test_compare_target_ci_on_the_paired_half_width():
    base = simlib.load_scenario("b2b_saas", SMALL)
    result = simlib.compare(
        [base, simlib.load_scenario("b2b_saas", [*SMALL, "champion.monthly_turnover=0.03"])],
        replications=2,
        seed=1,
        workers=1,
        metrics=["ltv_mean"],
        target_ci={"logo_churn_monthly": 1e-9},
        max_replications=4,
    )
    assert result.extra["target_ci"]["reached"] is False
    assert result.replications == 4


def test_compare_command_writes_the_table_atomically(run_cli, tmp_path):
    alt = tmp_path / "alt.yaml"
    alt.write_text("extends: b2b_saas\nname: strong_link\nchurn:\n  satisfaction_effect: 4\n")
    out = tmp_path / "cmp"
    args = ["compare", "b2b_saas", str(alt), *[a for s in SMALL for a in ("--set", s)]]
    args += ["-r", "3", "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    code, stdout, stderr = run_cli(*args, "--metric", "ltv_mean", "--metric", "net_value")
    assert code == 0, stderr
    assert "strong_link" in stdout and "paired_ci_low" in stdout
    csv = pd.read_csv(out / "comparison.csv")
    assert tuple(csv.columns) == COMPARISON_COLUMNS
    assert list(csv["metric"]) == ["ltv_mean", "net_value"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "comparison.parquet"), csv)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == 3 and manifest["baseline"] == "b2b_saas"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cmp")]  # no temporaries
    # a second run reuses every replication from the cache and gives the same table
    code, stdout, stderr = run_cli(*args, "--metric", "ltv_mean", "--metric", "net_value")
    assert code == 0 and "6 replication(s) reused" in stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "comparison.csv"), csv)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "at least two"),
        (["textbook", "--target-ci", "ltv_mean"], "METRIC=HALF_WIDTH"),
        (["textbook", "--target-ci", "ltv_mena=3"], "did you mean 'ltv_mean'"),
        (["textbook", "--set", "churn.monthly.alpah=1"], "did you mean 'alpha'"),
        (["textbook", "--no-cache", "--resume"], "--resume needs the cache"),
        (["textbook", "--scheduler", "tcp://127.0.0.1:1"], "--executor dask"),
    ],
)
def test_compare_command_bad_input_exits_2(run_cli, extra, message):
    code, _, stderr = run_cli(
        "compare", "textbook", *extra, "--no-cache" if "--resume" not in extra else "-q"
    )
    assert code == 2
    assert message in stderr


def test_comparison_table_of_finished_results_matches_compare(satisfaction_pair):
    from simlib.compare import comparison_table

    again = comparison_table(satisfaction_pair.results)
    pd.testing.assert_frame_equal(again, satisfaction_pair.table)


def test_coverage_policies_compared_with_common_random_numbers():
    """``coverage_tiered`` against ``coverage_uniform`` (presets that differ only in CS
    coverage): every account meets the same luck in both, so the paired interval of the LTV and
    net value differences is at least 3x narrower than the unpaired one (measured about 20x;
    independent draws would give a ratio near 1). CS cost, mostly salaries, has little noise
    to share, so its ratio is not held to 3x (``make bench`` prints it)."""
    result = simlib.compare(
        ["coverage_uniform", "coverage_tiered"],
        replications=8,
        seed=0,
        overrides=["population.initial_accounts=1000", "horizon_months=24"],
        workers=1,
        metrics=["ltv_mean", "net_value"],
    )
    table = result.table.set_index("metric")
    for metric in ("ltv_mean", "net_value"):
        row = table.loc[metric]
        assert 0 < 3 * row["paired_half_width"] < row["unpaired_half_width"], metric
