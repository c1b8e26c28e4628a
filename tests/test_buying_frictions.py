"""Buying frictions: budget displacement (``budget.displace_probability``) and term conversion
that keeps the account's latent risk (``offers.kinds.term_conversion.keep_risk``)."""

from __future__ import annotations

import numpy as np
from conftest import waterfall_reconciles

import simlib
from simlib.account import CONTRACT_ANNUAL
from simlib.distributions import beta_ppf
from simlib.engine import Simulation
from simlib.model.population import SLOT_RISK
from simlib.rng import keyed_uniform

Z = 4.0
SMALL = ["population.initial_accounts=2000", "horizon_months=36"]


def _deals(overrides: list[str], seed: int = 2):  # type: ignore[no-untyped-def]
    sim = Simulation(simlib.load_scenario("b2b_approval_friction", [*SMALL, *overrides]), seed=seed)
    sim.run()
    return sim, sim.actor("offers").deal_table()  # type: ignore[union-attr]


def test_every_deal_short_of_budget_displaces_with_probability_one():
    """Nothing waits for a fiscal year or is lost to the budget; the displaced deals are the
    ones that were short (deferred or lost with the parameter at 0, same seed)."""
    base, base_deals = _deals([])
    short = int(base_deals["deferred"].sum() + (base_deals["status"] == "lost_budget").sum())
    assert short > 100
    sim, deals = _deals(["budget.displace_probability=1"])
    assert not deals["deferred"].any()
    assert not (deals["status"] == "lost_budget").any()
    displaced = int(sim.ledger["deals_displaced"].sum())
    assert displaced > 100
    # the first month a deal falls short, both runs have the same deals and the same luck
    first = int(np.flatnonzero(base.ledger["deals_deferred"] + base.ledger["deals_lost"])[0])
    assert sim.ledger["deals_displaced"][first] >= base.ledger["deals_deferred"][first]


def test_displaced_deals_are_a_binomial_share_of_those_short():
    """Each deal short of budget displaces with probability 0.3 (a keyed draw), else defers or
    is lost: displaced ~ Binomial(short, 0.3) within 4 SE, short = displaced + deferred + lost
    to the budget."""
    p = 0.3
    sim, deals = _deals([f"budget.displace_probability={p}"])
    displaced = int(sim.ledger["deals_displaced"].sum())
    short = displaced + int(deals["deferred"].sum()) + int((deals["status"] == "lost_budget").sum())
    assert short > 200
    assert abs(displaced - p * short) <= Z * np.sqrt(short * p * (1 - p)), (displaced, short)
    monthly = simlib.simulate(
        "b2b_approval_friction", seed=2, overrides=[*SMALL, f"budget.displace_probability={p}"]
    ).monthly
    assert waterfall_reconciles(monthly)


def _converted(keep_risk: bool) -> tuple[Simulation, np.ndarray, np.ndarray]:
    over = [*SMALL, f"offers.kinds.term_conversion.keep_risk={str(keep_risk).lower()}"]
    sim = Simulation(simlib.load_scenario("annual_conversion", over), seed=4)
    sim.run()
    book = sim.book
    u = keyed_uniform(sim.streams.key("population"), book.key, SLOT_RISK)
    monthly = np.empty(book.n)
    for s, cfg in enumerate(sim.scenario.segment_table().values()):
        sel = book.segment == s
        monthly[sel] = beta_ppf(u[sel], cfg.churn.monthly.alpha, cfg.churn.monthly.beta)
    deals = sim.actor("offers").deal_table()  # type: ignore[union-attr]
    bought = deals.loc[deals["kind"] == "term_conversion", "row"].to_numpy(np.int64)
    converted = bought[book.contract[bought] == CONTRACT_ANNUAL]  # alive when it took effect
    return sim, converted, monthly[converted]


def test_term_conversion_keeps_the_latent_monthly_risk_when_asked():
    """keep_risk: a converted account's risk per annual renewal is 1 - (1 - r)^12 of its own
    monthly risk r (downsell saves are off in this preset); by default it is its quantile of
    the annual distribution instead."""
    sim, rows, r = _converted(True)
    assert rows.size > 100
    # rtol 1e-9: the naive 1 - (1 - r)^12 loses digits for r near 1e-4 (the model uses expm1)
    np.testing.assert_allclose(sim.book.risk[rows], 1 - (1 - r) ** 12, rtol=1e-9)
    sim, rows, r = _converted(False)
    assert not np.allclose(sim.book.risk[rows], 1 - (1 - r) ** 12)
