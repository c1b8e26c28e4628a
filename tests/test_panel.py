"""The account-month panel (simlib/model/panel.py, ``simlib run --panel``).

Invariants: one row per account and month alive (the monthly active counts), churn flags and
offers that add up to the ledger's, month by month; the panel changes no other table (and the
measurement noise changes nothing but ``health``); the noise has the documented standard
deviation (checked within 4 standard errors of its estimate).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlib
from simlib.cli import main

SMALL = {"population.initial_accounts": 400, "horizon_months": 14}


def run(scenario: str, panel: bool = True, **more: object) -> simlib.SimulationResult:
    return simlib.simulate(scenario, replications=2, seed=3, overrides=SMALL | more, panel=panel)


@pytest.mark.parametrize("scenario", ["downsell_saves", "relevant_cross_sell", "b2b_saas"])
def test_panel_adds_up_to_the_ledger(scenario: str) -> None:
    result = run(scenario)
    panel, monthly = result.panel, result.monthly
    assert panel is not None
    counts = panel.groupby(["replication", "month"]).size()
    alive = monthly.set_index(["replication", "month"])["active_accounts"]
    pd.testing.assert_series_equal(counts, alive, check_names=False, check_dtype=False)
    assert not panel.duplicated(["replication", "account_id", "month"]).any()
    assert panel["churned"].sum() == result.accounts["churned"].sum()
    # churned at the end of month m = the ledger's churned_accounts of month m + 1
    churn = panel.groupby(["replication", "month"])["churned"].sum()
    ledger = monthly.set_index(["replication", "month"])["churned_accounts"]
    shifted = ledger.groupby(level=0).shift(-1).dropna()
    assert (churn.loc[shifted.index].to_numpy() == shifted.to_numpy()).all()
    kinds = [c[len("offers_made_") :] for c in panel.columns if c.startswith("offers_made_")]
    if scenario != "b2b_saas":
        assert kinds
    for kind in kinds:
        for col in (f"offers_made_{kind}", f"offers_accepted_{kind}"):
            assert panel[col].sum() == monthly[col].sum()


def test_panel_and_noise_change_nothing_else() -> None:
    plain = run("relevant_cross_sell", panel=False)
    with_panel = run("relevant_cross_sell")
    noisy = run("relevant_cross_sell", **{"satisfaction.observation_noise": 0.1})
    assert plain.panel is None
    for name in ("monthly", "accounts", "summary"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(with_panel, name))
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(noisy, name))
    a, b = with_panel.panel, noisy.panel
    assert a is not None and b is not None
    pd.testing.assert_frame_equal(a.drop(columns="health"), b.drop(columns="health"))
    # without noise the last month's health is the accounts' final satisfaction
    last = a[a["month"] == a["month"].max()].merge(plain.accounts, on=["replication", "account_id"])
    np.testing.assert_array_equal(last["health"], last["final_satisfaction"])
    # the noise: sd 0.1, seen where the true level is 0.35..0.65, 3.5 sd from the clipping at
    # 0 and 1 (which then trims under 0.05 % of the draws)
    inside = (a["health"] > 0.35) & (a["health"] < 0.65)
    diff = (b["health"] - a["health"])[inside].to_numpy()
    n = diff.size
    assert n > 5000
    se_sd = 0.1 / np.sqrt(2 * (n - 1))
    assert abs(diff.std(ddof=1) - 0.1) < 4 * se_sd
    assert abs(diff.mean()) < 4 * 0.1 / np.sqrt(n)


def test_cli_writes_the_panel(tmp_path: Path, capsys) -> None:
    args = ["run", "textbook", "--set", "population.initial_accounts=200", "--set"]
    args += ["horizon_months=6", "--panel", "--out", str(tmp_path / "run"), "-q"]
    assert main(args) == 0
    panel = pd.read_parquet(tmp_path / "run" / "panel.parquet")
    assert list(panel.columns)[:8] == [
        "replication",
        "account_id",
        "month",
        "segment",
        "plan",
        "mrr",
        "health",
        "churned",
    ]
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["replications"] == 1
    assert simlib.SimulationResult.read(tmp_path / "run").panel is not None
    code = main([*args[:-3], "--out", str(tmp_path / "b"), "--cache-dir", str(tmp_path / "c")])
    assert code == 2
    assert "--panel" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_contract_column_is_the_contract_in_force() -> None:
    """Each account's last panel row has the contract the accounts table ends with; a term
    conversion moves an account from monthly to annual once, never back, and in the default
    book (conversions on) some accounts do."""
    result = run("b2b_saas", **{"population.initial_accounts": 1500, "horizon_months": 24})
    panel = result.panel
    assert panel is not None
    last = panel.sort_values("month").groupby(["replication", "account_id"]).tail(1)
    acc = result.accounts.set_index(["replication", "account_id"])["contract"].astype(str)
    got = last.set_index(["replication", "account_id"])["contract"].astype(str)
    assert (got == acc.loc[got.index]).all()
    annual = (panel["contract"] == "annual").astype(int)
    steps = annual.groupby([panel["replication"], panel["account_id"]]).diff().dropna()
    assert steps.min() == 0 and steps.max() == 1  # monthly -> annual only, and it happens
