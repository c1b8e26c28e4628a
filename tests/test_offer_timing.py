"""Timing, fatigue, engagement and add-on cancellation (simlib/model/engagement.py and the offer
engine): each new term is exactly absent when off, the documented formulas hold on a book set by
hand, and the behaviour claims hold with common random numbers per seed.

Tolerances are 4 standard errors computed in the test: for two acceptance rates, of a
difference of binomial proportions; for two churn counts, sqrt(c1 + c2) (Poisson); for two mean
satisfactions, of a difference of means over the accounts alive at the horizon.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import waterfall_reconciles as _reconciles
from scipy.special import expit, logit

import simlib
from simlib.account import CONTRACT_ANNUAL, CONTRACT_MONTHLY
from simlib.churn_odds import active_terms
from simlib.engine import Simulation
from simlib.model.engagement import (
    _lost_usage,
    after_offers,
    engagement_month,
    moment_log_odds,
)

Z = 4.0
SMALL = ["population.initial_accounts=2000", "horizon_months=36"]
#: the moments and fatigue of a book where timing matters (the story's settings, not defaults)
TIMING = [
    "offers.moments.near_limit=1.0",
    "offers.moments.renewal=0.5",
    "offers.moments.off_moment=-1.0",
    "offers.fatigue.declined_satisfaction_drop=0.02",
    "offers.fatigue.off_moment_satisfaction_drop=0.03",
    "offers.fatigue.engagement_drop=0.1",
    "offers.fatigue.frequency_effect=0.5",
    "usage.engagement_effect=0.5",
    "usage.churn_effect=2.0",
]
SPAM = ["offers.kinds.upsell.timing=random", "offers.kinds.upsell.require_usage_near_limit=false"]
IRRELEVANT_ONLY = [
    f"offers.addons.{a}.relevance={{light: 0.05, heavy: 0.05}}"
    for a in ("extra_storage", "family_sharing", "offline_pack")
]


def _sim(preset: str, overrides: list[str], seed: int = 1) -> Simulation:
    return Simulation(simlib.load_scenario(preset, overrides), seed=seed).run()


def _mean_gap_se(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))


# -- off means absent ------------------------------------------------------------------------


def test_every_new_term_is_absent_when_off():
    """With the defaults the moments add nothing, engagement never moves, the lost_usage
    churn-odds term is neither active nor contributing, and no new column is reported."""
    sim = _sim("irrelevant_cross_sell", ["population.initial_accounts=500", "horizon_months=12"])
    rows = sim.book.alive_index()
    assert moment_log_odds(sim, rows, 5, 1) == (None, None)
    assert engagement_month(sim, rows) is None
    assert "lost_usage" not in [t.name for t in active_terms(sim.scenario)]
    assert sim.book.usage_lost[rows].max() > 0  # irrelevant offers did take usage away
    assert _lost_usage(sim, rows) is None  # but the churn link is off
    assert (sim.book.engagement == 1.0).all()
    res = simlib.simulate("irrelevant_cross_sell", overrides=["population.initial_accounts=300"])
    new = {"addons_cancelled", "deals_displaced", "mean_engagement"}
    assert not new & set(res.monthly.columns)
    assert not {"engagement", "usage_lost", "offer_pressure"} & set(res.accounts.columns)


def test_lost_usage_term_is_effect_times_the_log_usage_lost():
    """Every offer of an irrelevant-only catalogue cuts usage by the share 0.05, so an account's
    usage_lost is -log(0.95) x its offers received, and its churn log-odds gain 3 x that."""
    sim = _sim(
        "irrelevant_cross_sell",
        [
            "population.initial_accounts=800",
            "horizon_months=12",
            "churn.satisfaction_effect=0",
            "usage.churn_effect=3",
            *IRRELEVANT_ONLY,
        ],
    )
    book = sim.book
    rows = book.alive_index()
    np.testing.assert_allclose(
        book.usage_lost[rows], -np.log(0.95) * book.offers_received[rows], rtol=1e-12
    )
    assert book.offers_received[rows].max() >= 2
    p = sim.actor("renewal").churn_probability(rows)  # type: ignore[union-attr]
    z = logit(np.clip(book.risk[rows], 1e-12, 1 - 1e-12)) + 3.0 * book.usage_lost[rows]
    np.testing.assert_allclose(p, expit(z), rtol=1e-12)


# -- the formulas on a book set by hand -----------------------------------------------------


def _hand_book(overrides: list[str]) -> tuple[Simulation, np.ndarray]:
    sim = _sim(
        "usage_timed_upsell", ["population.initial_accounts=8", "horizon_months=2", *overrides]
    )
    rows = sim.book.alive_index()[:6]
    book = sim.book
    book.contract[rows] = [CONTRACT_ANNUAL, CONTRACT_ANNUAL, CONTRACT_MONTHLY, *[0] * 3]
    book.anniversary[rows] = [0, 3, 0, 0, 0, 0]  # month 10: into 10 (window), 7, -, ...
    book.usage[rows] = [0.5, 0.9, 0.5, 0.5, 0.5, 0.9]
    book.start_month[rows] = [-20, -20, -20, 7, -20, -20]  # row 3: onboarding done in 10
    return sim, rows


def test_moments_add_their_log_odds_and_the_rest_get_off_moment():
    sim, rows = _hand_book(
        [
            "offers.moments.renewal=0.5",
            "offers.moments.near_limit=1.25",
            "offers.moments.onboarding=2",
            "offers.moments.off_moment=-1.5",
        ]
    )
    z, off = moment_log_odds(sim, rows, month=10, min_tenure=3)
    np.testing.assert_array_equal(z, [0.5, 1.25, -1.5, 2.0, -1.5, 1.25])
    np.testing.assert_array_equal(off, [False, False, True, False, True, False])


def test_fatigue_drops_grow_with_the_recent_offers_received():
    """Drops x (1 + frequency_effect x pressure), pressure counted before the offer."""
    sim, rows = _hand_book(
        [
            "offers.fatigue.satisfaction_drop=0.1",
            "offers.fatigue.usage_drop=0.2",
            "offers.fatigue.declined_satisfaction_drop=0.01",
            "offers.fatigue.off_moment_satisfaction_drop=0.02",
            "offers.fatigue.engagement_drop=0.1",
            "offers.fatigue.frequency_effect=0.5",
        ]
    )
    book = sim.book
    book.satisfaction[rows] = 0.6
    book.offer_pressure[rows] = [0, 2, 0, 0, 1, 0]
    before_usage = book.usage[rows].copy()
    irrelevant = np.array([True, True, False, False, False, False])
    declined = np.array([False, True, True, True, False, False])
    off = np.array([False, False, True, False, False, False])
    after_offers(sim, rows, irrelevant, declined, off)
    f = np.array([1, 2, 1, 1, 1.5, 1])
    drop = f * (0.1 * irrelevant + 0.01 * declined + 0.02 * (declined & off))
    np.testing.assert_allclose(book.satisfaction[rows], 0.6 - drop, rtol=1e-12)
    np.testing.assert_allclose(book.usage[rows], before_usage * (1 - 0.2 * f * irrelevant))
    np.testing.assert_allclose(book.engagement[rows], 1 - 0.1 * f * (irrelevant | declined))
    np.testing.assert_array_equal(book.offer_pressure[rows], [1, 3, 1, 1, 2, 1])


def test_engagement_recovers_and_drags_usage_by_the_documented_amounts():
    sim, rows = _hand_book(
        [
            "offers.fatigue.engagement_drop=0.1",
            "offers.fatigue.engagement_recovery=0.25",
            "usage.engagement_effect=0.4",
        ]
    )
    book = sim.book
    book.engagement[rows] = [1.0, 0.8, 0.5, 0.2, 0.9, 1.0]
    book.usage_lost[rows] = 0.0
    gap = 1 - book.engagement[rows].copy()
    drag = engagement_month(sim, rows)
    assert drag is not None
    np.testing.assert_allclose(drag, 0.4 * gap, rtol=1e-12)
    np.testing.assert_allclose(book.usage_lost[rows], 0.4 * gap, rtol=1e-12)
    np.testing.assert_allclose(book.engagement[rows], 1 - 0.75 * gap, rtol=1e-12)


# -- behaviour with common random numbers --------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_spammed_offers_convert_less_and_cost_satisfaction_and_logos(seed):
    """Upsells to anyone in any month against upsells in the month usage nears the limit,
    same book and luck: the spammed ones are accepted less often, and the book ends less
    satisfied with more accounts lost."""
    timed = simlib.simulate("usage_timed_upsell", seed=seed, overrides=[*SMALL, *TIMING])
    spam = simlib.simulate("usage_timed_upsell", seed=seed, overrides=[*SMALL, *TIMING, *SPAM])
    rates = []
    for res in (timed, spam):
        made = res.monthly["offers_made_upsell"].sum()
        rates.append((res.monthly["offers_accepted_upsell"].sum() / made, made))
    (p1, n1), (p2, n2) = rates
    assert p1 - p2 > Z * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2), rates
    alive = [
        r.accounts.loc[r.accounts["end_month"].isna(), "final_satisfaction"] for r in (timed, spam)
    ]
    s1, s2 = (a.to_numpy() for a in alive)
    assert s1.mean() - s2.mean() > Z * _mean_gap_se(s1, s2)
    c1, c2 = (r.monthly["churned_accounts"].sum() for r in (timed, spam))
    assert c2 - c1 > Z * np.sqrt(c1 + c2), (c1, c2)


@pytest.mark.parametrize("seed", [1, 2])
def test_an_irrelevant_only_catalogue_lowers_satisfaction_and_raises_churn(seed):
    """Cross-sell from a catalogue where every add-on is irrelevant (0.05), with add-ons
    cancelled and lost usage feeding churn, against the same book offered nothing."""
    over = [
        "population.initial_accounts=3000",
        "horizon_months=24",
        *IRRELEVANT_ONLY,
        "offers.addon_cancellation.monthly_rate=0.03",
        "usage.churn_effect=2.0",
    ]
    offered = simlib.simulate("irrelevant_cross_sell", seed=seed, overrides=over)
    none = simlib.simulate(
        "irrelevant_cross_sell",
        seed=seed,
        overrides=[*over, "offers.kinds.cross_sell.enabled=false"],
    )
    alive = [
        r.accounts.loc[r.accounts["end_month"].isna(), "final_satisfaction"]
        for r in (none, offered)
    ]
    s0, s1 = (a.to_numpy() for a in alive)
    assert s0.mean() - s1.mean() > Z * _mean_gap_se(s0, s1)
    c0, c1 = (r.monthly["churned_accounts"].sum() for r in (none, offered))
    assert c1 - c0 > Z * np.sqrt(c0 + c1), (c0, c1)
    assert offered.monthly["addons_cancelled"].sum() > 50
    assert _reconciles(offered.monthly)


def test_addon_cancellations_follow_the_documented_probability_and_reconcile():
    """Owned add-on-months and cancellations counted from the book month by month (add-ons
    picked at random, so every relevance level is owned): per segment and add-on, the
    cancellations lie within 4 SE of n x P, P = logistic(logit(0.04) +
    3 x (0.5 - relevance)); each removes price x size from the next month's MRR, and the MRR
    waterfall reconciles."""
    over = [
        "population.initial_accounts=3000",
        "horizon_months=24",
        "offers.addon_cancellation.monthly_rate=0.04",
        "offers.addon_cancellation.relevance_effect=3",
        "contracts.annual_share=0",
        "population.segments.light.annual_share=0",
        "population.segments.heavy.annual_share=0",
    ]
    scenario = simlib.load_scenario("irrelevant_cross_sell", over)
    snaps: list[tuple[np.ndarray, np.ndarray]] = []
    sim = Simulation(
        scenario,
        seed=3,
        on_month=lambda m: snaps.append((sim.book.addons.copy(), sim.book.alive.copy())),
    )
    sim.run()
    engine = sim.actor("offers")
    rel = engine.relevance  # type: ignore[union-attr]
    seg = sim.book.segment
    exposed, gone = np.zeros(rel.shape), np.zeros(rel.shape)
    for m in range(1, sim.horizon - 1):
        before, _ = snaps[m - 1]
        after, alive = snaps[m]
        n = after.size
        for j in range(rel.shape[1]):
            had = ((before[:n] >> j) & 1 == 1) & alive[: before.size][:n]
            lost = had & ((after[: before.size] >> j) & 1 == 0)
            np.add.at(exposed[:, j], seg[: before.size][had], 1)
            np.add.at(gone[:, j], seg[: before.size][lost], 1)
    p = expit(logit(0.04) + 3 * (0.5 - rel))
    assert gone.sum() > 200
    for cell in zip(*np.nonzero(exposed > 40), strict=True):  # each segment x add-on
        n, k, q = exposed[cell], gone[cell], p[cell]
        assert abs(k - n * q) <= Z * np.sqrt(n * q * (1 - q)), (cell, k, n * q)
    assert (exposed > 40).sum() == exposed.size  # every cell is owned often enough
    # irrelevant add-ons go faster
    assert (
        gone[rel < 0.1].sum() / exposed[rel < 0.1].sum()
        > 2 * gone[rel > 0.5].sum() / exposed[rel > 0.5].sum()
    )
    assert gone.sum() == sim.ledger["addons_cancelled"].sum()
    res = simlib.simulate("irrelevant_cross_sell", seed=3, overrides=over)
    assert _reconciles(res.monthly)
