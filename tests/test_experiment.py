"""Replications and intervals: the intervals table, bootstrap, automatic replication count, the
cache, and the coverage of the t-interval against the closed form of the textbook case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln

import simlib
from simlib.cache import ResultCache, write_entry
from simlib.errors import StorageError
from simlib.experiment import (
    INTERVAL_COLUMNS,
    bootstrap_ci,
    bootstrap_intervals,
    intervals,
    run_replication,
    simulate,
)

SMALL_TEXTBOOK = ["population.initial_accounts=200"]


def textbook_expected_ltv(scenario: simlib.Scenario) -> float:
    """E[LTV] = sum_{t=0}^{H-1} margin x MRR x S(t) x (1 + r)^(-t/12), S(t) = B(a, b+t)/B(a, b)."""
    h = scenario.horizon_months
    a, b = scenario.churn.monthly.alpha, scenario.churn.monthly.beta
    econ = scenario.economics
    t = np.arange(h, dtype=np.float64)
    survival = np.exp(betaln(a, b + t) - betaln(a, b))
    discount = (1.0 + econ.annual_discount_rate) ** (-t / 12.0)
    return float((econ.gross_margin * scenario.population.mrr * survival * discount).sum())


def test_intervals_table_has_the_contract_columns_and_t_half_widths():
    result = simulate("textbook", replications=5, seed=3, overrides=SMALL_TEXTBOOK, workers=1)
    table = simlib.intervals(result)
    assert tuple(table.columns) == INTERVAL_COLUMNS
    assert set(table["scenario"]) == {"textbook"}
    assert "ltv_mean" in set(table["metric"]) and "replication" not in set(table["metric"])
    row = table.set_index("metric").loc["ltv_mean"]
    x = result.summary["ltv_mean"].to_numpy()
    half = stats.t.ppf(0.975, 4) * x.std(ddof=1) / np.sqrt(5)
    assert row["n"] == 5
    assert row["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert row["half_width"] == pytest.approx(half, rel=1e-12)
    assert row["ci_low"] == pytest.approx(x.mean() - half, rel=1e-12)
    assert row["ci_high"] == pytest.approx(x.mean() + half, rel=1e-12)


def test_intervals_leave_out_missing_values():
    # horizons under 13 months have no 12-month retention: NaN, counted out of n
    result = simulate(
        "textbook", replications=3, seed=1, overrides=[*SMALL_TEXTBOOK, "horizon_months=12"]
    )
    row = intervals(result).set_index("metric").loc["nrr_12m"]
    assert row["n"] == 0 and np.isnan(row["mean"])


def test_bootstrap_is_reproducible_and_brackets_the_statistic():
    values = np.random.default_rng(7).lognormal(size=40)
    a = bootstrap_ci(values, np.median, seed=1)
    b = bootstrap_ci(values, np.median, seed=1)
    c = bootstrap_ci(values, np.median, seed=2)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low <= np.median(values) <= a.high
    assert a.half_width == pytest.approx((a.high - a.low) / 2)
    # a statistic without an axis argument is applied row by row
    q = bootstrap_ci(values, lambda x: float(np.quantile(x, 0.9)), n_resamples=300, seed=1)
    assert q.low <= np.quantile(values, 0.9) <= q.high


def test_bootstrap_intervals_table():
    result = simulate("textbook", replications=6, seed=2, overrides=SMALL_TEXTBOOK, workers=1)
    table = bootstrap_intervals(result, np.median, n_resamples=200)
    row = table.set_index("metric").loc["ltv_mean"]
    assert row["statistic"] == "median"
    assert row["estimate"] == pytest.approx(result.summary["ltv_mean"].median())


def test_target_ci_adds_replications_until_the_interval_is_narrow_enough():
    scenario = simlib.load_scenario("textbook", SMALL_TEXTBOOK)
    # the replication sd of ltv_mean is about 100 here: +-40 needs roughly 25 replications
    result = simulate(scenario, replications=3, seed=4, target_ci={"ltv_mean": 40.0}, workers=1)
    report = result.extra["target_ci"]
    row = intervals(result).set_index("metric").loc["ltv_mean"]
    assert report["reached"] is True
    assert report["replications"] == result.replications > 3
    assert row["half_width"] <= 40.0
    assert report["half_widths"]["ltv_mean"] == pytest.approx(row["half_width"])
    assert "target reached" in report["message"]
    # the first replications are those of a plain run: a pure function of (seed, replication)
    plain = simulate(scenario, replications=3, seed=4, workers=1)
    pd.testing.assert_frame_equal(result.summary.iloc[:3], plain.summary)


def test_target_ci_stops_at_the_cap_and_says_so():
    result = simulate(
        "textbook",
        replications=2,
        seed=4,
        overrides=SMALL_TEXTBOOK,
        target_ci={"ltv_mean": 1e-6},
        max_replications=5,
        workers=1,
    )
    report = result.extra["target_ci"]
    assert report["reached"] is False
    assert result.replications == report["replications"] == 5
    assert "cap of 5 replications" in report["message"]


def test_target_ci_rejects_unknown_metrics_and_bad_widths():
    with pytest.raises(simlib.UserInputError, match="did you mean 'ltv_mean'"):
        simulate("textbook", overrides=SMALL_TEXTBOOK, target_ci={"ltv_men": 1.0})
    with pytest.raises(simlib.UserInputError, match="must be > 0"):
        simulate("textbook", overrides=SMALL_TEXTBOOK, target_ci={"ltv_mean": -1.0})


def test_cache_reuses_replications_and_gives_identical_tables(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    first = simulate("textbook", replications=3, seed=9, overrides=SMALL_TEXTBOOK, cache=cache)
    entries = sorted(p.name for p in tmp_path.glob("cache/*/*/seed-9/rep-*"))
    assert entries == ["rep-000000", "rep-000001", "rep-000002"]
    # a stored entry is read back, not recomputed: alter one and see it come back
    path = cache.entry_path(first.scenario, 9, 1)
    summary = pd.read_parquet(path / "summary.parquet")
    summary["ltv_mean"] = -1.0
    summary.to_parquet(path / "summary.parquet", index=False)
    again = simulate("textbook", replications=3, seed=9, overrides=SMALL_TEXTBOOK, cache=cache)
    assert again.summary["ltv_mean"].tolist()[1] == -1.0
    # a different name (free text) shares the entries; its tables carry the new name
    renamed = first.scenario.model_copy(update={"name": "other name"})
    third = simulate(renamed, replications=3, seed=9, cache=cache)
    assert set(third.summary["scenario"]) == {"other name"}
    assert third.summary["ltv_mean"].tolist()[1] == -1.0
    # a different seed or scenario value is a different entry
    assert cache.get(first.scenario, 10, 0) is None
    changed = simlib.load_scenario("textbook", [*SMALL_TEXTBOOK, "economics.gross_margin=0.7"])
    assert cache.get(changed, 9, 0) is None


def test_an_interrupted_cache_write_leaves_no_entry(tmp_path, monkeypatch):
    dest = tmp_path / "seed-0" / "rep-000000"

    def broken(self, path, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(StorageError, match=f"{dest}: cannot write this cache entry"):
        write_entry(dest, {"summary": pd.DataFrame({"x": [1.0]})})
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # the temporary folder is gone too


@pytest.mark.slow
def test_t_interval_covers_the_true_textbook_ltv_95_percent_of_the_time():
    """Coverage of the 95 % t-interval of ltv_mean over independent seeds.

    Each trial: 4 replications of a 200-account textbook book (seed = trial number); the closed
    form E[LTV] is the true mean. The number of trials covering it is Binomial(250, 0.95) when
    the interval is right; we accept the central 99.9 % of that distribution (225 to 247).
    A normal (z) interval instead of t covers about 86 % with 4 replications (~214 of 250) and
    fails; so does an interval that ignores replication-to-replication variation.
    """
    scenario = simlib.load_scenario("textbook", SMALL_TEXTBOOK)
    truth = textbook_expected_ltv(scenario)
    trials, reps = 250, 4
    covered = 0
    for seed in range(trials):
        rows = [run_replication(scenario, seed, r)[2] for r in range(reps)]
        row = intervals(pd.DataFrame(rows)).set_index("metric").loc["ltv_mean"]
        covered += bool(row["ci_low"] <= truth <= row["ci_high"])
    low = stats.binom.ppf(0.0005, trials, 0.95)
    high = stats.binom.ppf(0.9995, trials, 0.95)
    assert low <= covered <= high, f"{covered} of {trials} intervals cover {truth:.2f}"
