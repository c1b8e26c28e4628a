"""Acquisition economics (simlib/metrics/unit_economics.py): the LTV with its tail beyond the
horizon against closed forms (constant risk: geometric series; Beta risk: Fader & Hardie's
discounted expected lifetime), and CAC, payback and LTV:CAC by hand on a tiny book.

The tail is analytic but the LTV within the horizon is simulated, so the opening book's mean of
LTV + tail must match the whole-life expectation within 4 standard errors of the per-account
values (computed in the test).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import simlib
from simlib.calibration.sbg import discounted_expected_lifetime
from simlib.engine import Simulation
from simlib.metrics import account_table, monthly_table, summary_row
from simlib.metrics.unit_economics import ltv_with_tail, tail

Z = 4.0
GM, MRR = 0.8, 100.0  # the textbook preset's margin and price


def _sim(overrides: list[str], seed: int = 1) -> Simulation:
    return Simulation(simlib.load_scenario("textbook", overrides), seed=seed).run()


def _opening_total(sim: Simulation) -> np.ndarray:
    totals = ltv_with_tail(sim, account_table(sim))
    return totals[sim.book.start_month == 0]


def _within(values: np.ndarray, expected: float) -> None:
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - expected) < Z * se, (values.mean(), expected, se)


def test_tail_of_a_constant_risk_monthly_book_completes_the_geometric_series() -> None:
    """Risk 5 % a renewal for everyone (Beta with a tiny spread): E[LTV + tail] of an opening
    account is gm x MRR / (1 - q d), with q = 1 - its risk."""
    sim = _sim(["churn.monthly={alpha: 50000.0, beta: 950000.0}"])
    d = sim.monthly_discount
    q = 1.0 - sim.book.risk[sim.book.start_month == 0]
    _within(_opening_total(sim), float((GM * MRR / (1.0 - q * d)).mean()))
    assert (tail(sim)[~sim.book.alive] == 0).all()
    assert (tail(sim)[sim.book.alive] > 0).all()


def test_tail_of_a_constant_risk_annual_book_counts_the_contract_months() -> None:
    """Annual contracts, risk 20 % a renewal, horizon 30 (months 30..35 are under contract):
    E[LTV + tail] = gm x MRR x (1 - d^12) / (1 - d) / (1 - q d^12)."""
    sim = _sim(
        [
            "contracts.annual_share=1.0",
            "churn.annual={alpha: 200000.0, beta: 800000.0}",
            "horizon_months=30",
        ]
    )
    d = sim.monthly_discount
    q = 1.0 - sim.book.risk[sim.book.start_month == 0]
    expected = GM * MRR * (1 - d**12) / (1 - d) / (1 - q * d**12)
    _within(_opening_total(sim), float(expected.mean()))


def test_tail_of_a_beta_risk_book_matches_the_discounted_expected_lifetime() -> None:
    """The textbook book (risk ~ Beta(1, 20)): E[LTV + tail] = gm x MRR x DEL(alpha, beta, r),
    r the monthly discount rate (Fader & Hardie 2010)."""
    sim = _sim([])
    rate = (1.0 + sim.scenario.economics.annual_discount_rate) ** (1.0 / 12.0) - 1.0
    churn = sim.scenario.churn.monthly
    expected = GM * MRR * discounted_expected_lifetime(churn.alpha, churn.beta, rate)
    totals = _opening_total(sim)
    _within(totals, expected)
    within = account_table(sim)["ltv"].to_numpy()[sim.book.start_month == 0]
    assert totals.mean() > within.mean() * 1.05  # the tail is not negligible here


def test_cac_payback_and_ltv_cac_by_hand_on_a_tiny_book() -> None:
    """Two accounts a month (months 1..3) at 100 a month, CAC 240 each, margin 0.8:
    cac_total = 6 x 240; payback = 1440 / (0.8 x 600) = 3 months; LTV:CAC = the acquired
    accounts' LTV + tail over 1440, each by the geometric series with its own risk."""
    overrides = [
        "population.initial_accounts=3",
        "acquisition.new_accounts_per_month=2",
        "acquisition.process=fixed",
        "horizon_months=4",
        "churn.monthly={alpha: 0.001, beta: 1000.0}",  # practically no churn
        "economics.cac={all: 240.0}",
    ]
    sim = _sim(overrides)
    accounts, monthly = account_table(sim), monthly_table(sim)
    row = summary_row(sim, accounts, monthly)
    assert row["cac_total"] == 1440.0
    assert row["payback_months"] == pytest.approx(3.0, rel=1e-12)
    book, d, h = sim.book, sim.monthly_discount, sim.horizon
    acquired = book.start_month >= 1
    assert acquired.sum() == 6 and book.alive.all()
    total = 0.0
    for s, risk in zip(book.start_month[acquired], book.risk[acquired], strict=True):
        q = 1.0 - risk
        within = sum(d ** (m - s) for m in range(s, h))
        total += GM * MRR * (within + d ** (h - s) * q / (1 - q * d))
    assert row["ltv_cac"] == pytest.approx(total / 1440.0, rel=1e-12)
    assert row["ltv_with_tail_mean"] > row["ltv_mean"]


def test_no_cac_or_no_margin_gives_nan() -> None:
    base = ["population.initial_accounts=50", "acquisition.new_accounts_per_month=5"]
    for extra in ([], ["economics.cac={all: 100.0}", "population.mrr=0.0"]):
        sim = _sim(base + extra)
        row = summary_row(sim, account_table(sim), monthly_table(sim))
        assert math.isnan(row["payback_months"])
        if not extra:
            assert row["cac_total"] == 0.0 and math.isnan(row["ltv_cac"])


def test_without_discounting_the_tail_is_the_expected_count_of_months() -> None:
    """annual_discount_rate 0: an account with risk p has q / p more months expected (monthly);
    an annual one the months left in its term plus 12 q / p."""
    sim = _sim(["economics.annual_discount_rate=0.0", "horizon_months=30"])
    alive = sim.book.alive
    p = sim.book.risk[alive]
    np.testing.assert_allclose(tail(sim)[alive], GM * MRR * (1 - p) / p, rtol=1e-12)
    annual = _sim(
        ["economics.annual_discount_rate=0.0", "horizon_months=30", "contracts.annual_share=1.0"]
    )
    alive = annual.book.alive
    p = annual.book.risk[alive]
    expected = GM * MRR * (6 + 12 * (1 - p) / p)  # months 30..35 under contract (anniversary 0)
    np.testing.assert_allclose(tail(annual)[alive], expected, rtol=1e-12)
