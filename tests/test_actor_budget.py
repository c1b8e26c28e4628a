"""Unit tests of the B2B fiscal calendar and budgets (``simlib/model/budget.py``).

The module's documented rules: with ``c0 = calendar_start_month - 1`` and ``f =
fiscal_year_start_month - 1``, month ``m`` is ``(m + c0 - f) mod 12`` months into its fiscal
year, whose index is ``floor((m + c0 - f) / 12)``; each account has ``per_year[segment]`` (x its
size with ``scale_with_size``) a fiscal year; a deal costs 12 x its MRR increase and fits when
that is at most what is left of the year in which it would take effect; otherwise it is deferred
to the next fiscal-year start or lost (``on_shortfall``), always deferred within the last
``draft_window_months``, and lost at once when bigger than a whole year's budget.

Here the calendar is re-derived by counting calendar months, not by the module's formulas.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import simlib
from simlib.engine import Simulation
from simlib.metrics import monthly_table
from simlib.model.budget import FiscalCalendar

SMALL = ["population.initial_accounts=1500", "horizon_months=24", "coverage.policy=none"]
#: every account gets at most one offer in the whole run (cool-down longer than the horizon),
#: so its budget meets at most one deal and no deal changes what is offered later
ONE_OFFER = [
    *SMALL,
    "offers.kinds.upsell.cooldown_months=24",
    "offers.kinds.cross_sell.cooldown_months=24",
]
PER_YEAR = {"smb": 1500.0, "mid_market": 20000.0, "enterprise": 150000.0}  # the preset's


def _run(overrides: list[str], seed: int) -> tuple[Simulation, pd.DataFrame]:
    sim = Simulation(simlib.load_scenario("b2b_approval_friction", overrides), seed=seed).run()
    return sim, sim.actor("offers").deal_table()


def _per_year(scale: float) -> str:
    return "budget.per_year={" + ", ".join(f"{k}: {v * scale}" for k, v in PER_YEAR.items()) + "}"


def _calendar_month(m: int, c0: int) -> int:
    """Calendar month (1-12) of simulation month m when month 0 is calendar month c0 + 1."""
    return (c0 + m) % 12 + 1


def _starts(fy_start: int, c0: int, lo: int, hi: int) -> list[int]:
    """Simulation months in [lo, hi) in which a fiscal year starting in ``fy_start`` opens."""
    return [m for m in range(lo, hi) if _calendar_month(m, c0) == fy_start]


@pytest.mark.parametrize("calendar_start", [1, 4, 7, 12])
def test_fiscal_calendar_agrees_with_counting_calendar_months(calendar_start):
    """For segments with fiscal years from January, April and December: months into the year
    are months since the last start, the next start is the first start strictly after, a year
    index grows by one exactly at each start, and names the calendar year (counted from month
    0's) in which that fiscal year started."""
    scenario = simlib.load_scenario(
        "b2b_approval_friction",
        [
            f"budget.calendar_start_month={calendar_start}",
            "population.segments.smb.fiscal_year_start_month=4",
            "population.segments.mid_market.fiscal_year_start_month=1",
            "population.segments.enterprise.fiscal_year_start_month=12",
        ],
    )
    cal = FiscalCalendar(SimpleNamespace(scenario=scenario))
    c0 = calendar_start - 1
    months = np.arange(60)
    for seg, fy_start in enumerate((4, 1, 12)):
        starts = _starts(fy_start, c0, -12, 84)
        last = np.array([max(s for s in starts if s <= m) for m in months])
        nxt = np.array([min(s for s in starts if s > m) for m in months])
        np.testing.assert_array_equal(cal.months_into_year(months, seg), months - last)
        np.testing.assert_array_equal(cal.next_start(months, seg), nxt)
        np.testing.assert_array_equal(cal.is_start(months, seg), months == last)
        # the fiscal year named by the calendar year of its first month (year 0 holds month 0)
        np.testing.assert_array_equal(cal.fiscal_year(months, seg), (last + c0) // 12)
        year = cal.fiscal_year(months, seg)
        np.testing.assert_array_equal(np.diff(year), np.isin(months[1:], starts).astype(int))
    # arrays of segments work row by row
    seg = np.array([0, 1, 2, 0])
    m = np.array([0, 5, 11, 30])
    expected = [cal.next_start(int(mm), int(s)) for mm, s in zip(m, seg, strict=True)]
    np.testing.assert_array_equal(cal.next_start(m, seg), expected)


def test_budget_left_resets_each_fiscal_year_and_spending_is_exact():
    """A year's budget is per_year[segment] x size; spending takes exactly the cost; a cost
    equal to what is left fits, anything more does not and spends nothing; the budget is whole
    again from the next fiscal-year start. Without ``scale_with_size`` it is per_year alone."""
    sims = {}
    for scale in (True, False):
        scenario = simlib.load_scenario(
            "b2b_approval_friction",
            ["population.initial_accounts=300", f"budget.scale_with_size={str(scale).lower()}"],
        )
        sims[scale] = sim = Simulation(scenario, seed=1)
        sim.actor("population").open_month(0)
    sim = sims[True]
    book, budgets = sim.book, sim.actor("offers").budgets
    rows = np.array([int(np.flatnonzero(book.segment == s)[0]) for s in range(3)])
    per_year = np.array([PER_YEAR[name] for name in sim.segments])
    annual = per_year[book.segment[rows]] * book.size[rows]
    assert not np.allclose(book.size[rows], 1.0)  # sizes differ from 1: the product matters
    np.testing.assert_allclose(budgets.annual(rows), annual, rtol=1e-15)
    plain = sims[False]
    np.testing.assert_array_equal(
        plain.actor("offers").budgets.annual(rows), per_year[plain.book.segment[rows]]
    )

    np.testing.assert_array_equal(budgets.left(rows, 0), annual)
    assert budgets.try_spend(rows, 0, 0.25 * annual).all()
    np.testing.assert_allclose(budgets.left(rows, 0), 0.75 * annual, rtol=1e-12)
    left = budgets.left(rows, 0).copy()
    assert budgets.try_spend(rows, 0, left).all()  # exactly what is left fits
    np.testing.assert_allclose(budgets.left(rows, 0), 0.0, atol=1e-9)
    assert not budgets.try_spend(rows, 0, np.full(3, 0.01)).any()
    np.testing.assert_allclose(budgets.left(rows, 0), 0.0, atol=1e-9)
    # month 0 is January and fiscal years start in April: month 2 is still the same year,
    # month 3 opens a fresh one
    np.testing.assert_allclose(budgets.left(rows, 2), 0.0, atol=1e-9)
    np.testing.assert_array_equal(budgets.left(rows, 3), annual)
    mixed = budgets.try_spend(rows, 3, np.array([annual[0] + 1.0, annual[1], 0.0]))
    assert mixed.tolist() == [False, True, True]
    np.testing.assert_allclose(budgets.left(rows, 14), [annual[0], 0.0, annual[2]], atol=1e-9)


def test_a_single_deal_lands_at_once_if_it_fits_a_year_and_is_lost_otherwise():
    """One deal per account and no approvers: it is decided at acceptance against a whole
    year's budget, so it lands at the next billing month when 12 x delta <= per_year x size and
    is lost to budget at once when not; it is never deferred."""
    sim, deals = _run([*ONE_OFFER, "approval.enabled=false"], seed=2)
    assert deals["gated"].all() and deals["row"].is_unique and len(deals) > 200
    budgets = sim.actor("offers").budgets
    annual = budgets.annual(deals["row"].to_numpy())
    fits = 12 * deals["delta"].to_numpy() <= annual + 1e-9
    status = deals["status"]
    assert set(status) == {"landed", "lost_budget"}
    np.testing.assert_array_equal(status == "landed", fits)
    assert 20 < (~fits).sum() < len(deals) - 20
    assert (deals["decided"] == deals["accept_month"]).all()
    assert not deals["deferred"].any()
    landed = deals[fits]
    assert (landed["effective_month"] == landed["accept_month"] + 1).all()
    assert (deals.loc[~fits, "effective_month"] == -1).all()
    assert sim.ledger["deals_lost"].sum() == (~fits).sum()


def test_a_larger_budget_never_lands_fewer_deals():
    """Common random numbers, one offer per account: the same deals are accepted and go
    through the same chains whatever the budget, so per deal a larger budget lands everything a
    smaller one lands, never later, and also some that a smaller one loses or defers."""
    runs = {
        scale: _run([*ONE_OFFER, _per_year(scale)], seed=3)[1].set_index("row").sort_index()
        for scale in (0.25, 1.0, 4.0)
    }
    same = ["kind", "accept_month", "delta", "approvers"]
    for scale in (1.0, 4.0):
        pdt.assert_frame_equal(runs[scale][same], runs[0.25][same])
    landed = {s: r["status"].isin(["landed", "beyond_horizon"]) for s, r in runs.items()}
    for small, big in ((0.25, 1.0), (1.0, 4.0)):
        assert not (landed[small] & ~landed[big]).any()
        both = landed[small] & landed[big]
        assert (
            runs[big].loc[both, "effective_month"] <= runs[small].loc[both, "effective_month"]
        ).all()
    assert landed[0.25].sum() < landed[1.0].sum() < landed[4.0].sum()
    # rejected chains do not depend on the budget at all
    rejected = {s: r["status"] == "rejected" for s, r in runs.items()}
    assert (rejected[0.25] == rejected[4.0]).all() and rejected[1.0].sum() > 20


def test_budget_left_is_the_year_budget_minus_what_landed_deals_spent():
    """Accounting per account, with three fiscal calendars in one book (month 0 is an
    October; years start in July, January and April): what is left equals the year's budget
    minus 12 x delta of every landed deal taking effect in that year; no year is overspent;
    a deferred deal lands exactly at its segment's first fiscal-year start after the month it
    would have taken effect."""
    fy = {"smb": 7, "mid_market": 1, "enterprise": 4}
    sim, deals = _run(
        [
            *SMALL,
            "budget.calendar_start_month=10",
            *(f"population.segments.{k}.fiscal_year_start_month={v}" for k, v in fy.items()),
            "budget.per_year={smb: 1500, mid_market: 12000, enterprise: 60000}",
        ],
        seed=9,
    )
    book, budgets = sim.book, sim.actor("offers").budgets
    cal = budgets.calendar
    spent = deals[deals["status"].isin(["landed", "beyond_horizon"])].copy()
    spent["cost"] = 12 * spent["delta"].clip(lower=0)
    spent["year"] = cal.fiscal_year(spent["effective_month"].to_numpy(), spent["segment"])
    by_year = spent.groupby(["row", "year"])["cost"].sum()
    rows = np.flatnonzero(book.budget_year != np.iinfo(np.int64).min)
    assert rows.size > 300 and np.unique(book.segment[rows]).size == 3
    for row in rows:
        used = by_year.get((row, int(book.budget_year[row])), 0.0)
        expected = budgets.annual(np.array([row]))[0] - used
        assert book.budget_left[row] == pytest.approx(expected, abs=1e-6), row
    annual = budgets.annual(by_year.index.get_level_values("row").to_numpy())
    assert (by_year.to_numpy() <= annual + 1e-6).all()

    deferred = deals[deals["deferred"]]
    assert len(deferred) > 20
    assert set(deferred["status"]) <= {"landed", "deferred", "lost_churned", "beyond_horizon"}
    landed = deferred[deferred["status"] == "landed"]
    assert len(landed) > 10
    c0 = 10 - 1
    for _, deal in landed.iterrows():
        start = fy[sim.segments[deal["segment"]]]
        would = deal["deferred_month"] + 1
        first = min(_starts(start, c0, would + 1, would + 13))
        assert deal["effective_month"] == first, deal


def test_the_draft_window_decides_between_deferring_and_losing():
    """With ``on_shortfall: lose`` a shortfall is deferred only within the last
    ``draft_window_months`` of a fiscal year: a window of 12 months defers every one (the run
    equals ``defer`` exactly, same seed), a window of 0 defers none (each one is lost)."""
    budget = [*SMALL, "budget.per_year={smb: 1500, mid_market: 12000, enterprise: 60000}"]
    defer, d_defer = _run([*budget, "budget.on_shortfall=defer"], seed=5)
    whole, d_whole = _run(
        [*budget, "budget.on_shortfall=lose", "budget.draft_window_months=12"], seed=5
    )
    assert d_defer["deferred"].sum() > 20
    pdt.assert_frame_equal(d_defer, d_whole, check_exact=True)
    pdt.assert_frame_equal(monthly_table(defer), monthly_table(whole), check_exact=True)

    none, d_none = _run(
        [*budget, "budget.on_shortfall=lose", "budget.draft_window_months=0"], seed=5
    )
    assert not d_none["deferred"].any()
    assert none.ledger["deals_deferred"].sum() == 0
    # the deals that the defer run deferred first (before any deferral could change later
    # offers) are lost instead
    first = int(d_defer.loc[d_defer["deferred"], "deferred_month"].min())
    key = ["row", "accept_month", "kind"]
    early = d_defer[d_defer["deferred"] & (d_defer["deferred_month"] == first)][key]
    match = early.merge(d_none, on=key, how="left")
    assert len(match) == len(early) and (match["status"] == "lost_budget").all()
