"""``simlib run`` writes exactly the contract's tables; runs are reproducible bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import simlib
from simlib.ledger import MONTHLY_COLUMNS
from simlib.metrics import ACCOUNT_COLUMNS, SUMMARY_COLUMNS

SMALL = [
    "population.initial_accounts=400",
    "horizon_months=18",
    "acquisition.new_accounts_per_month=10",
]


@pytest.fixture(scope="module")
def run_folder(run_cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "result"
    args = ["run", "b2b_saas_no_offers", "-r", "3", "--seed", "5", "--out", str(out), "-q"]
    for item in SMALL:
        args += ["--set", item]
    code, _stdout, stderr = run_cli(*args)
    assert code == 0, stderr
    return out


def test_run_writes_the_contract_files(run_folder):
    names = {p.name for p in run_folder.iterdir()}
    assert names == {
        "monthly.parquet",
        "accounts.parquet",
        "summary.parquet",
        "summary.csv",
        "resolved.yaml",
        "manifest.json",
    }
    monthly = pd.read_parquet(run_folder / "monthly.parquet")
    assert list(monthly.columns[:3]) == ["scenario", "replication", "month"]
    assert list(monthly.columns[3 : 3 + len(MONTHLY_COLUMNS)]) == list(MONTHLY_COLUMNS)
    assert len(monthly) == 3 * 18
    accounts = pd.read_parquet(run_folder / "accounts.parquet")
    assert list(accounts.columns[: len(ACCOUNT_COLUMNS)]) == list(ACCOUNT_COLUMNS)
    assert accounts.groupby(["replication", "account_id"]).size().max() == 1
    summary = pd.read_csv(run_folder / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary["replication"]) == [0, 1, 2]
    assert (summary["seed"] == 5).all()


def test_manifest_and_resolved_yaml_reproduce_the_run(run_folder):
    manifest = json.loads((run_folder / "manifest.json").read_text())
    for key in ("scenario_hash", "seed", "wall_seconds", "account_months", "versions"):
        assert key in manifest
    monthly = pd.read_parquet(run_folder / "monthly.parquet")
    assert manifest["account_months"] == monthly["active_accounts"].sum()
    again = simlib.simulate(run_folder / "resolved.yaml", replications=3, seed=5)
    pdt.assert_frame_equal(
        again.summary, pd.read_parquet(run_folder / "summary.parquet"), check_exact=True
    )


def test_end_month_is_null_exactly_for_accounts_alive_at_the_horizon(run_folder):
    accounts = pd.read_parquet(run_folder / "accounts.parquet")
    assert accounts["end_month"].isna().eq(~accounts["churned"]).all()
    churned = accounts[accounts["churned"]]
    life = churned["end_month"].astype(int) - churned["start_month"] + 1
    assert (life == churned["lifetime_months"]).all()


def test_same_seed_gives_identical_tables_and_another_seed_does_not():
    a = simlib.simulate("b2b_saas_no_offers", replications=2, seed=1, overrides=SMALL)
    b = simlib.simulate("b2b_saas_no_offers", replications=2, seed=1, overrides=SMALL)
    c = simlib.simulate("b2b_saas_no_offers", replications=2, seed=2, overrides=SMALL)
    for name in ("monthly", "accounts", "summary"):
        pdt.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert not a.accounts["lifetime_months"].equals(c.accounts["lifetime_months"])
    assert a.summary["revenue"].iloc[0] != c.summary["revenue"].iloc[0]


def test_replication_r_does_not_depend_on_how_many_run():
    one = simlib.simulate("b2b_saas_no_offers", replications=3, seed=9, overrides=SMALL)
    alone = simlib.run_replication(one.scenario, 9, 2)[2]
    row = one.summary[one.summary["replication"] == 2].iloc[0]
    assert row["revenue"] == alone["revenue"] and row["ltv_mean"] == alone["ltv_mean"]


def test_common_random_numbers_same_accounts_same_luck():
    """A price change alone changes no account's fate; acquisition changes keep the others'."""
    base = ["population.initial_accounts=2000", "horizon_months=24"]
    cheap = simlib.simulate("textbook", seed=3, overrides=base)
    dear = simlib.simulate("textbook", seed=3, overrides=[*base, "population.mrr=250"])
    assert (cheap.accounts["lifetime_months"] == dear.accounts["lifetime_months"]).all()
    np.testing.assert_allclose(dear.accounts["ltv"], 2.5 * cheap.accounts["ltv"], rtol=1e-12)

    grow = [*base, "acquisition.process=fixed"]
    small = simlib.simulate(
        "textbook", seed=3, overrides=[*grow, "acquisition.new_accounts_per_month=20"]
    )
    large = simlib.simulate(
        "textbook", seed=3, overrides=[*grow, "acquisition.new_accounts_per_month=30"]
    )
    merged = small.accounts.merge(large.accounts, on="account_key", suffixes=("_s", "_l"))
    assert len(merged) == len(small.accounts)  # every account of the small run exists in the large
    assert (merged["lifetime_months_s"] == merged["lifetime_months_l"]).all()


def test_summary_figures_are_consistent_with_the_tables():
    res = simlib.simulate("b2b_saas_no_offers", seed=4, overrides=SMALL)
    s = res.summary.iloc[0]
    m = res.monthly
    assert s["revenue"] == pytest.approx(m["revenue"].sum())
    assert s["accounts"] == len(res.accounts)
    assert s["arpa_start"] == pytest.approx(m["mrr"].iloc[0] / m["active_accounts"].iloc[0])
    assert s["net_value"] == pytest.approx(0.78 * s["revenue"] - s["cs_cost"] - s["offer_cost"])
    assert 0 < s["grr_12m"] <= 1 and s["nrr_12m"] == pytest.approx(s["grr_12m"])  # no expansion
    churn = m["churned_accounts"].iloc[1:].sum() / m["active_accounts"].iloc[:-1].sum()
    assert s["logo_churn_monthly"] == pytest.approx(churn)


def test_run_adds_replications_until_the_target_interval(run_cli, tmp_path):
    out = tmp_path / "target"
    code, _, stderr = run_cli(
        "run",
        "textbook",
        "-r",
        "3",
        "--target-ci",
        "ltv_mean=6",
        "--max-replications",
        "60",
        "--set",
        "population.initial_accounts=2000",
        "--out",
        str(out),
        "-q",
    )
    assert code == 0, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    report = manifest["target_ci"]
    assert report["reached"] and report["half_widths"]["ltv_mean"] <= 6
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == manifest["replications"] > 3
    assert simlib.mean_ci(summary["ltv_mean"]).half_width == pytest.approx(
        report["half_widths"]["ltv_mean"]
    )
