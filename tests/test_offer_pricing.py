"""Offers priced with seats and list-price rises (``offers.scaled_prices``; simlib/model/offers.py
with simlib/model/seats.py and simlib/model/pricing.py).

Known answers on a book set by hand (an add-on for twice the seats costs twice as much; on the
risen list, the risen price), and an invariant of whole runs: every alive account's MRR is its
list MRR, (plan price + the prices of the add-ons it owns) x size x contract factor x seats now
over seats at arrival x the list level it pays, after months of seat moves, price rises, plan
steps, add-on purchases and cancellations. That holds to rounding (relative 1e-9) because every
change the offers make is priced on that list and every seat move and price rise scales the
whole MRR. The MRR waterfall ``mrr(m) = mrr(m-1) + new + expansion - contraction - churned``
holds in every month (relative 1e-12: sums of floats).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import waterfall_reconciles as _waterfall_holds

import simlib
from simlib.account import CONTRACT_MONTHLY
from simlib.engine import Simulation
from simlib.metrics.tables import monthly_table
from simlib.model.offers import OfferEngine, term_conversion
from simlib.model.pricing import list_level, price_multiplier, price_multiplier_from
from simlib.model.seats import initial_seats, seat_multiplier

SEATS = ["seats.enabled=true", "offers.scaled_prices=true"]
RISES = ["pricing.enabled=true", "pricing.pct=0.05", "pricing.first_month=6"]
#: a busy catalogue: add-ons bought and cancelled often, plan steps up and down
BUSY = [
    "population.initial_accounts=1500",
    "horizon_months=30",
    "offers.kinds.cross_sell.monthly_rate=0.5",
    "offers.kinds.cross_sell.base_intent=0",
    "offers.kinds.cross_sell.max_per_year=6",
    "offers.kinds.upsell.base_intent=0",
    "offers.addon_cancellation.monthly_rate=0.05",
    "offers.kinds.term_conversion.enabled=false",  # a contract change, checked apart
]


NOT_SCALED = "offers.scaled_prices=false"  # the default book prices offers by seats


def _sim(overrides: list[str], preset: str = "b2b_saas", seed: int = 1) -> Simulation:
    return Simulation(simlib.load_scenario(preset, overrides), seed=seed).run()


def _engine(sim: Simulation) -> OfferEngine:
    engine = sim.actor("offers")
    assert isinstance(engine, OfferEngine)
    return engine


def _list_mrr(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """(alive rows, their list MRR): (plan + owned add-ons) x size x contract factor x seat
    multiplier x list level."""
    engine, book = _engine(sim), sim.book
    rows = book.alive_index()
    n = engine.addon_price.size
    owned = (book.addons[rows, None] >> np.arange(n, dtype=np.int64)) & 1
    price = engine.prices[book.segment[rows], book.plan[rows]] + owned @ engine.addon_price
    base = price * book.size[rows] * engine.contract_factor(rows)
    return rows, base * seat_multiplier(sim, rows) * price_multiplier(sim, rows)


def test_an_add_on_costs_more_for_more_seats_and_on_the_risen_list():
    sim = _sim(["population.initial_accounts=40", "horizon_months=2", *SEATS, *RISES])
    engine, book = _engine(sim), sim.book
    rows = book.alive_index()[:4]
    book.contract[rows] = CONTRACT_MONTHLY
    start = initial_seats(book.size[rows], sim.scenario.seats.reference_seats)
    book.seats[rows] = start * np.array([1, 2, 1, 2])
    book.price_level[rows] = [1.0, 1.0, 1.05, 1.05]
    base = engine.addon_price[0] * book.size[rows]
    np.testing.assert_allclose(
        engine.addon_mrr(0, rows, month=1), base * [1, 2, 1.05, 2.1], rtol=1e-15
    )
    # a plan step up: the price difference at the same seats and level
    target = np.ones(4, dtype=np.int16)
    book.plan[rows] = 0
    seg = book.segment[rows]
    diff = (engine.prices[seg, 1] - engine.prices[seg, 0]) * book.size[rows]
    np.testing.assert_allclose(
        engine.price_change(rows, target, month=1), diff * [1, 2, 1.05, 2.1], rtol=1e-15
    )
    # billed from the price date: a monthly account renewing just before it pays the new level
    book.price_level[rows] = 1.0
    level = price_multiplier_from(sim, rows, month=5)
    np.testing.assert_array_equal(level, np.full(4, list_level(sim.scenario, 6)))
    np.testing.assert_array_equal(price_multiplier_from(sim, rows, month=3), np.ones(4))
    # a term conversion takes the discount off the whole MRR, seats and level included
    prop = term_conversion(engine, rows, 1, sim.scenario.offers.kinds["term_conversion"])
    discount = sim.scenario.contracts.annual_discount
    np.testing.assert_array_equal(prop.delta, -book.mrr[rows] * discount)


def test_without_scaled_prices_an_add_on_costs_list_price_x_size_whatever_the_seats():
    sim = _sim(
        ["population.initial_accounts=40", "horizon_months=2", "seats.enabled=true", NOT_SCALED]
    )
    engine, book = _engine(sim), sim.book
    rows = book.alive_index()[:3]
    book.seats[rows] *= 3
    expected = engine.addon_price[1] * book.size[rows] * engine.contract_factor(rows)
    np.testing.assert_array_equal(engine.addon_mrr(1, rows, month=1), expected)
    assert engine.list_scale(rows, 1) is None


@pytest.mark.parametrize(
    ("name", "sets", "preset"),
    [
        ("seats", SEATS, "b2b_saas"),
        ("price rises", ["seats.enabled=false", "offers.scaled_prices=true", *RISES], "b2b_saas"),
        (
            "seats, approvals and budgets",
            [*SEATS, "offers.addon_cancellation.monthly_rate=0.05"],
            "b2b_approval_friction",
        ),
    ],
)
def test_every_account_pays_its_list_mrr_after_purchases_and_cancellations(name, sets, preset):
    """The invariant of the module docstring, after 30 months of seat moves or price rises,
    plan steps, add-on purchases (at once, or through approval chains and budgets) and
    cancellations; the waterfall holds too."""
    res = _sim([*BUSY, *sets], preset=preset)
    rows, expected = _list_mrr(res)
    np.testing.assert_allclose(res.book.mrr[rows], expected, rtol=1e-9)
    monthly = monthly_table(res)
    assert _waterfall_holds(monthly), name
    assert (res.book.addons[rows] != 0).sum() > 100, name
    assert monthly["addons_cancelled"].sum() > 50, name
    assert monthly["offers_accepted_upsell"].sum() > 20, name
    moved = seat_multiplier(res, rows) != 1.0
    risen = price_multiplier(res, rows) > 1.0
    assert (moved | risen).sum() > 100, name


def test_the_old_pricing_leaves_a_seat_grown_add_on_partly_billed():
    """Without scaled_prices a cancelled add-on removes list price x size while seat moves have
    scaled its part of the MRR: the invariant fails (what scaled_prices repairs)."""
    res = _sim([*BUSY, "seats.enabled=true", NOT_SCALED])
    rows, expected = _list_mrr(res)
    assert not np.allclose(res.book.mrr[rows], expected, rtol=1e-6)


def test_the_waterfall_reconciles_with_seats_price_rises_purchases_and_cancellations():
    """Everything on at once (term conversions too): the MRR waterfall holds in every month,
    and add-ons were bought and cancelled, seats moved and prices rose."""
    res = simlib.simulate(
        "b2b_saas",
        seed=2,
        overrides=[
            *[s for s in BUSY if "term_conversion" not in s],
            *SEATS,
            *RISES,
        ],
    )
    monthly = res.monthly
    assert _waterfall_holds(monthly)
    assert monthly["addons_cancelled"].sum() > 100
    assert monthly["offers_accepted_cross_sell"].sum() > 100
    assert monthly["offers_accepted_term_conversion"].sum() > 10
    assert monthly["seats_added"].sum() > 100 and monthly["seats_removed"].sum() > 10
    assert (res.accounts["price_level"] > 1.0).sum() > 100
