"""Offers and the way customers buy: upsell, cross-sell, save offers, term conversion, B2B
approvals and budgets, usage, loyalty and referrals.

Small books (1,500-2,000 accounts x 24 months), fixed seeds. Comparisons between scenarios use
the same seed, so accounts share their luck (common random numbers); where an outcome is
monotone by construction the test asks for exact monotonicity, elsewhere the margins are several
times the replication-to-replication spread seen at this book size.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas.testing as pdt
import pytest
from conftest import waterfall_reconciles as _reconciles

import simlib
from simlib.engine import Simulation
from simlib.errors import ScenarioError, SimulationError
from simlib.metrics import monthly_table
from simlib.rng import REFERRAL_OFFSET

SMALL = ["population.initial_accounts=1500", "horizon_months=24"]
ALL_KINDS = ("upsell", "cross_sell", "downsell", "term_conversion")


def _deals(preset: str, overrides: list[str], seed: int):
    sim = Simulation(simlib.load_scenario(preset, [*SMALL, *overrides]), seed=seed).run()
    return sim, sim.actor("offers").deal_table()


def test_every_offer_off_gives_b2b_saas_exactly():
    off = [f"offers.kinds.{k}.enabled=false" for k in ALL_KINDS]
    base = simlib.simulate("b2b_saas_no_offers", seed=5, overrides=SMALL)
    # approvals, budgets and a catalogue on, but nothing offered: nothing may change
    same = simlib.simulate(
        "b2b_approval_friction", seed=5, overrides=[*SMALL, *off, "name=b2b_saas_no_offers"]
    )
    pdt.assert_frame_equal(base.monthly, same.monthly, check_exact=True)
    pdt.assert_frame_equal(base.accounts, same.accounts, check_exact=True)
    pdt.assert_frame_equal(base.summary, same.summary, check_exact=True)


def test_more_satisfaction_to_intent_never_lowers_accepted_upsells():
    # only accounts at satisfaction >= 0.5 are targeted, so each decision's intent rises with
    # the parameter; coverage and strong-reason terms are off so that a purchase never feeds
    # back into satisfaction or targeting (only reaching the top plan ends an account's offers)
    base = [
        *SMALL,
        "coverage.policy=none",
        "offers.kinds.cross_sell.enabled=false",
        "offers.kinds.upsell.min_satisfaction=0.5",
        "offers.intent.strong_reason_bonus=0",
    ]
    accepted = []
    for value in (0.0, 1.0, 3.0, 6.0, 12.0):
        res = simlib.simulate(
            "b2b_no_friction",
            seed=6,
            overrides=[*base, f"offers.intent.satisfaction_to_intent={value}"],
        )
        accepted.append(int(res.monthly["offers_accepted_upsell"].sum()))
    assert all(b >= a for a, b in itertools.pairwise(accepted)), accepted
    assert accepted[-1] > accepted[0] * 1.2, accepted


def test_approval_rejection_one_means_no_b2b_deal_ever_lands():
    res = simlib.simulate(
        "b2b_approval_friction",
        seed=7,
        overrides=[*SMALL, "approval.rejection=1", "approval.rejection_no_reason=1"],
    )
    m = res.monthly
    assert m["offers_accepted_upsell"].sum() + m["offers_accepted_cross_sell"].sum() > 50
    assert m["approvals_rejected"].sum() > 50
    assert m["approvals_approved"].sum() == 0
    assert m["expansion_mrr"].sum() == 0
    acc = res.accounts
    assert (acc["plan"] == acc["initial_plan"]).all() and (acc["addons"] == 0).all()


def test_b2c_accounts_never_wait_for_approval():
    # smb buys as a consumer would; approvers reject everything and budgets are empty
    sim, deals = _deals(
        "b2b_approval_friction",
        [
            "population.segments.smb.buyer=b2c",
            "approval.rejection=1",
            "approval.rejection_no_reason=1",
            "budget.per_year={smb: 0, mid_market: 0, enterprise: 0}",
        ],
        seed=8,
    )
    smb = sim.segments.index("smb")
    b2c = deals[deals["segment"] == smb]
    b2b = deals[deals["segment"] != smb]
    assert len(b2c) > 50 and len(b2b) > 20
    assert not b2c["gated"].any() and (b2c["approvers"] == 0).all()
    assert (b2c["effective_month"] == b2c["accept_month"] + 1).all()
    assert (b2b["status"] != "landed").all()
    book = sim.book
    moved = (book.plan != book.initial_plan) | (book.addons != 0)
    assert moved[book.segment == smb].any()
    assert not moved[book.segment != smb].any()


@pytest.mark.parametrize("shortfall", ["defer", "lose"])
def test_deals_outside_the_budget_never_land_before_the_next_fiscal_year(shortfall):
    # simulation month 0 is a January and fiscal years start in April: months 3, 15, 27, ...
    sim, deals = _deals(
        "b2b_approval_friction",
        [
            "approval.enabled=false",
            "budget.per_year={smb: 1500, mid_market: 12000, enterprise: 60000}",
            f"budget.on_shortfall={shortfall}",
        ],
        seed=9,
    )
    deferred = deals[deals["deferred"]]
    assert len(deferred) > 10
    landed = deferred[deferred["status"] == "landed"]
    assert len(landed) > 5
    # a deferred deal lands exactly at the next fiscal-year start after the month it would have
    # taken effect, with that year's fresh budget (it is never lost to budget once deferred)
    next_start = ((landed["deferred_month"] + 1 - 3) // 12 + 1) * 12 + 3
    assert (landed["effective_month"] == next_start).all()
    assert (landed["effective_month"] % 12 == 3).all()
    assert set(deferred["status"]) <= {"landed", "lost_churned", "deferred"}
    assert (landed["effective_month"] > landed["deferred_month"]).all()
    assert (landed["effective_month"] > landed["decided"]).all()
    if shortfall == "lose":  # only deals in the drafting window (Dec-Mar) are deferred
        months_into_year = (deferred["deferred_month"] + 1 - 3) % 12
        assert (months_into_year >= 12 - 4).all()
    # no account spends more than its budget in any fiscal year
    book = sim.book
    budgets = sim.actor("offers").budgets
    spent = deals[deals["status"] == "landed"].copy()
    spent["year"] = (spent["effective_month"] - 3) // 12
    spent["cost"] = 12 * spent["delta"].clip(lower=0)
    per_year = spent.groupby(["row", "year"])["cost"].sum()
    for (row, _year), cost in per_year.items():
        assert cost <= budgets.annual(int(row)) + 1e-6
    assert (book.budget_left >= -1e-9).all()


def test_irrelevant_offers_lower_satisfaction_and_usage_relevant_ones_do_not():
    base = simlib.simulate("b2c_subscription", seed=10, overrides=SMALL)
    random_pick = simlib.simulate("irrelevant_cross_sell", seed=10, overrides=SMALL)
    relevant = simlib.simulate("relevant_cross_sell", seed=10, overrides=SMALL)
    sat_base = base.monthly["mean_satisfaction"].to_numpy()
    sat_random = random_pick.monthly["mean_satisfaction"].to_numpy()
    # fatigue builds over the months: mean satisfaction is clearly lower in the second year
    assert sat_random[12:].mean() < sat_base[12:].mean() - 0.005
    assert (sat_random[2:] < sat_base[2:]).all()
    # relevant offers leave satisfaction (and so churn) exactly as it was
    np.testing.assert_array_equal(relevant.monthly["mean_satisfaction"], sat_base)
    assert (
        random_pick.monthly["mean_usage"].iloc[12:].mean()
        < relevant.monthly["mean_usage"].iloc[12:].mean()
    )
    # and they convert far more often
    rate = {
        name: r.monthly["offers_accepted_cross_sell"].sum()
        / r.monthly["offers_made_cross_sell"].sum()
        for name, r in (("random", random_pick), ("relevant", relevant))
    }
    assert rate["relevant"] > 1.5 * rate["random"], rate


def test_waterfall_reconciles_with_expansion_and_contraction():
    res = simlib.simulate(
        "b2b_approval_friction",
        seed=11,
        overrides=[
            *SMALL,
            "offers.kinds.downsell.enabled=true",
            "offers.kinds.term_conversion.enabled=true",
            "offers.kinds.term_conversion.monthly_rate=0.2",
            "loyalty.enabled=true",
            "loyalty.champion_referral=0.5",
        ],
    )
    m = res.monthly
    assert m["expansion_mrr"].sum() > 0 and m["contraction_mrr"].sum() > 0
    assert m["referrals"].sum() > 0
    assert _reconciles(m)
    active = 1500 + m["new_accounts"].cumsum() - m["churned_accounts"].cumsum()
    assert (m["active_accounts"] == active).all()
    assert np.isclose(res.accounts["revenue"].sum(), m["revenue"].sum(), rtol=1e-9)


def test_downsell_saves_lower_churn_and_lower_arpa():
    over = ["population.initial_accounts=2000", "horizon_months=24"]
    base = simlib.simulate("b2b_saas_no_offers", seed=12, overrides=over)
    saves = simlib.simulate("downsell_saves", seed=12, overrides=over)
    b, s = base.summary.iloc[0], saves.summary.iloc[0]
    assert s["logo_churn_monthly"] < 0.85 * b["logo_churn_monthly"]
    assert s["arpa_end"] < b["arpa_end"]
    assert saves.monthly["contraction_mrr"].sum() > 0
    assert base.monthly["contraction_mrr"].sum() == 0
    assert _reconciles(saves.monthly)


def test_downsell_changes_mrr_at_the_billing_after_the_renewal():
    # the save offer is decided while the calendar closes month m - 1 (its month counter at m);
    # Simulation.change_mrr takes the change for month m, booked as contraction MRR there
    snaps: dict[int, tuple] = {}

    def keep(month: int) -> None:
        book = sim.book
        snaps[month] = (book.mrr.copy(), book.plan.copy(), book.alive.copy())

    sim = Simulation(simlib.load_scenario("downsell_saves", SMALL), seed=15, on_month=keep)
    sim.run()
    monthly = monthly_table(sim)
    saved_total = 0
    for m in range(1, sim.horizon):
        mrr0, plan0, alive0 = snaps[m - 1]
        mrr1, plan1, alive1 = snaps[m]
        n = mrr0.size
        down = np.flatnonzero(alive0 & alive1[:n] & (plan1[:n] < plan0))
        row = monthly.iloc[m]
        # every accepted downsell moves its account one plan down at month m, not later
        assert down.size == row["offers_accepted_downsell"], m
        assert (mrr1[down] < mrr0[down]).all()
        # downsells are the only contraction of this scenario
        assert row["contraction_mrr"] == pytest.approx((mrr0[down] - mrr1[down]).sum(), abs=1e-6)
        saved_total += down.size
    assert saved_total > 20
    assert monthly["contraction_mrr"].sum() > 0
    assert _reconciles(monthly)


def test_an_mrr_change_for_the_current_month_only_while_closing_the_previous():
    sim = Simulation(simlib.load_scenario("b2b_saas_no_offers", SMALL), seed=1)
    rows = np.arange(3)
    with pytest.raises(SimulationError, match="later month"):
        sim.change_mrr(rows, np.ones(3), sim.month)
    sim._closing = True  # as while the calendar calls close_month
    sim.change_mrr(rows, np.ones(3), sim.month)
    assert len(sim._pending[sim.month]) == 1
    with pytest.raises(SimulationError):
        sim.change_mrr(rows, np.ones(3), sim.month - 1)


def test_downsell_as_a_discount_books_its_cost():
    res = simlib.simulate(
        "downsell_saves", seed=12, overrides=[*SMALL, "offers.kinds.downsell.mode=discount"]
    )
    m = res.monthly
    assert m["offers_accepted_downsell"].sum() > 0
    assert m["offer_cost"].sum() > 0 and m["contraction_mrr"].sum() == 0
    s = res.summary.iloc[0]
    assert s["offer_cost"] == pytest.approx(m["offer_cost"].sum())


def test_term_conversion_raises_the_annual_share():
    base = simlib.simulate("b2b_saas_no_offers", seed=13, overrides=SMALL)
    conv = simlib.simulate("annual_conversion", seed=13, overrides=SMALL)

    def annual_share(res) -> float:
        alive = res.accounts[~res.accounts["churned"]]
        return float((alive["contract"] == "annual").mean())

    assert annual_share(conv) > annual_share(base) + 0.05
    assert conv.monthly["contraction_mrr"].sum() > 0  # the annual discount
    assert conv.summary["logo_churn_monthly"].iloc[0] < base.summary["logo_churn_monthly"].iloc[0]


def test_usage_timed_upsell_offers_only_near_the_limit():
    sim = Simulation(simlib.load_scenario("usage_timed_upsell", SMALL), seed=14).run()
    m = sim.ledger
    assert m["offers_made_upsell"].sum() > 50
    book = sim.book
    upgraded = book.plan > book.initial_plan
    assert upgraded.any()
    # an upgrade divides usage by the ratio of the plan limits (x2 per step by default)
    assert np.median(book.usage[upgraded]) < np.median(book.usage[~upgraded & book.alive]) * 1.5


def test_referrals_leave_paid_acquisition_untouched():
    plain = simlib.simulate("b2b_saas_no_offers", seed=15, overrides=SMALL)
    loyal = simlib.simulate(
        "b2b_saas_no_offers",
        seed=15,
        overrides=[*SMALL, "loyalty.enabled=true", "loyalty.champion_referral=1"],
    )
    m = loyal.monthly
    assert m["referrals"].sum() > 0 and m["referrals_champion"].sum() > 0
    assert (m["new_accounts"] - m["referrals"] == plain.monthly["new_accounts"]).all()
    acc = loyal.accounts
    index = acc["account_key"].to_numpy().astype(np.uint64) & np.uint64(0xFFFFFFFF)
    referred = index >= REFERRAL_OFFSET
    assert (referred == acc["referred"].to_numpy()).all()
    paid = acc[~referred].set_index("account_key")
    other = plain.accounts.set_index("account_key")
    assert set(paid.index) == set(other.index)
    cols = ["segment", "start_month", "initial_mrr", "contract"]
    pdt.assert_frame_equal(paid.loc[other.index, cols], other[cols])
    stages = acc.loc[~acc["churned"], "loyalty_stage"]
    assert {1, 2}.issubset(set(stages))


@pytest.mark.parametrize(
    ("preset", "override", "words"),
    [
        (
            "b2b_approval_friction",
            "offers.kinds.upsell.target_plans=[platinum]",
            "offers.kinds.upsell.target_plans: plan(s) ['platinum']",
        ),
        (
            "b2b_saas_no_offers",
            "population.segments.smb.fiscal_year_start_month=13",
            "population.segments.smb.fiscal_year_start_month: must be <= 12",
        ),
        (
            "b2b_approval_friction",
            "offers.addons.sso.relevance.smb=1.5",
            "offers.addons.sso.relevance.smb: must be <= 1",
        ),
        (
            "b2b_approval_friction",
            "offers.addons.sso.relevance={smb: 0.5, retail: 0.5}",
            "offers.addons.sso.relevance: segment(s) ['retail']",
        ),
        ("b2b_saas_no_offers", "offers.kinds.upsel.enabled=true", "did you mean 'upsell'"),
        (
            "b2b_saas_no_offers",
            "budget.on_shortfall=wait",
            "budget.on_shortfall: must be 'defer' or 'lose'",
        ),
        (
            "b2b_saas_no_offers",
            "population.segments.smb.plan_limits={gold: 5}",
            "plan_limits names plan(s) ['gold']",
        ),
    ],
)
def test_bad_offer_input_names_the_key(preset, override, words, run_cli):
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario(preset, [override])
    assert words in str(info.value)
    code, _, err = run_cli("validate", preset, "--set", override)
    assert code == 2
    assert words in err


def test_simpy_events_grow_with_months_not_with_deals_or_alerts():
    # approval chains are decided a month at a time and CSM jobs by one dispatcher, so the
    # events are a few per week and month, whatever the number of deals and alerts
    scenario = simlib.load_scenario("b2b_approval_friction", SMALL)
    sim = Simulation(scenario, seed=3).run()
    deals = sim.actor("offers").deal_table()
    monthly = monthly_table(sim)
    assert deals["gated"].sum() > 500 and monthly["alerts_served"].sum() > 200
    weeks = int(sim.horizon * 52 / 12) + 1
    assert sim.env.events_processed < 3 * (sim.horizon + weeks)  # was about 40,000
