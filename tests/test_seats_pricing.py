"""Seat-based expansion (simlib/model/seats.py) and list-price rises at renewal
(simlib/model/pricing.py): absent when off, the documented formulas on books set by hand, the
waterfall with both on, and behaviour claims with common random numbers per seed.

Tolerances are 4 standard errors computed in the test: for a Poisson count, sqrt(expected); for
a sum of Bernoulli draws, sqrt(sum p (1 - p)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

import simlib
from simlib.churn_odds import active_terms
from simlib.engine import Simulation
from simlib.metrics import monthly_table
from simlib.model.pricing import list_level, price_multiplier
from simlib.model.seats import initial_seats, seat_multiplier

Z = 4.0
SMALL = ["population.initial_accounts=2000", "horizon_months=36"]
PRICE_RISE = ["pricing.enabled=true", "pricing.pct=0.1"]


def _sim(preset: str, overrides: list[str], seed: int = 1) -> Simulation:
    return Simulation(simlib.load_scenario(preset, overrides), seed=seed).run()


def _waterfall_gap(monthly: pd.DataFrame) -> float:
    """Largest |mrr(m) - mrr(m-1) - flows(m)| over months 1.., relative to the MRR."""
    mrr = monthly["mrr"].to_numpy()
    flows = (
        monthly["new_mrr"]
        + monthly["expansion_mrr"]
        - monthly["contraction_mrr"]
        - monthly["churned_mrr"]
    ).to_numpy()
    return float(np.max(np.abs(mrr[1:] - mrr[:-1] - flows[1:]) / np.maximum(mrr[1:], 1.0)))


# -- off means absent ------------------------------------------------------------------------


def test_off_is_absent_and_gives_the_same_tables_to_the_bit() -> None:
    base = _sim("b2b_saas_no_offers", SMALL)
    # a rise configured but not switched on, and a rise of 0 switched on: nothing runs
    for extra in (["pricing.pct=0.1"], ["pricing.enabled=true"], ["seats.reference_seats=3"]):
        other = _sim("b2b_saas_no_offers", SMALL + extra)
        assert not {a.name for a in other.actors} & {"seats", "pricing"}
        assert "price_rise" not in {t.name for t in active_terms(other.scenario)}
        pd.testing.assert_frame_equal(monthly_table(base), monthly_table(other))
    on = _sim("b2b_saas_no_offers", SMALL + PRICE_RISE + ["seats.enabled=true"])
    assert {"seats", "pricing"} <= {a.name for a in on.actors}
    assert "price_rise" in {t.name for t in active_terms(on.scenario)}


# -- the waterfall -----------------------------------------------------------------------------


def test_the_waterfall_reconciles_every_month_with_seats_price_rises_and_offers() -> None:
    overrides = (
        SMALL
        + PRICE_RISE
        + [
            "seats.enabled=true",
            "seats.add_rate=0.03",
            "seats.remove_rate=0.02",
            "pricing.grandfather_share=0.3",
            "pricing.grandfather_months=6",
            "acquisition.new_accounts_per_month=60",
        ]
    )
    for preset in ("b2b_saas_no_offers", "b2b_no_friction"):
        sim = _sim(preset, overrides)
        monthly = monthly_table(sim)
        assert monthly["expansion_mrr"].sum() > 0 and monthly["contraction_mrr"].sum() > 0
        assert _waterfall_gap(monthly) < 1e-12
        assert np.isclose(monthly["mrr"].iloc[-1], sim.book.mrr.sum(), rtol=1e-12)


# -- seats -------------------------------------------------------------------------------------


def test_seats_start_from_size_and_move_mrr_by_the_price_per_seat() -> None:
    """Alone (no offers, no price rise), every account's MRR stays price per seat x seats:
    final MRR = arrival MRR x seats / arrival seats, and arrival MRR is unchanged by seats."""
    overrides = [*SMALL, "seats.enabled=true", "seats.add_rate=0.05", "seats.remove_rate=0.03"]
    on = _sim("b2b_saas_no_offers", overrides)
    off = _sim("b2b_saas_no_offers", SMALL)
    book = on.book
    np.testing.assert_array_equal(book.initial_mrr, off.book.initial_mrr[: book.n])
    start = initial_seats(book.size, on.scenario.seats.reference_seats)
    assert (start >= 1).all() and (book.seats >= 1).all()
    alive = book.alive
    expected = book.initial_mrr[alive] * book.seats[alive] / start[alive]
    np.testing.assert_allclose(book.mrr[alive], expected, rtol=1e-9)
    assert (book.seats[alive] != start[alive]).mean() > 0.5  # seats did move
    every = np.arange(book.n)
    np.testing.assert_allclose(seat_multiplier(on, every), book.seats / start, rtol=1e-15)
    assert (seat_multiplier(off, every) == 1.0).all()


def test_first_month_of_seat_moves_matches_the_poisson_rates() -> None:
    """Satisfaction off (satisfaction = fit, fixed): the seats added (removed) in the first
    month are Poisson with mean sum of s x add_rate x g (s x remove_rate / g)."""
    effect, ref, add, remove = 1.5, 0.4, 0.02, 0.01
    overrides = [
        "seats.enabled=true",
        f"seats.satisfaction_effect={effect}",
        f"seats.satisfaction_reference={ref}",
        f"seats.add_rate={add}",
        f"seats.remove_rate={remove}",
        "population.segments={all: {plans: {standard: 100}, size_sigma: 0.6}}",
    ]
    sim = _sim("textbook", overrides)
    book = sim.book
    opening = book.start_month == 0
    s = initial_seats(book.size[opening], 10.0)
    g = np.exp(effect * (book.satisfaction[opening] - ref))
    for column, mean in (
        ("seats_added", (s * add * g).sum()),
        ("seats_removed", (s * remove / g).sum()),
    ):
        observed = sim.ledger[column][1]
        assert abs(observed - mean) < Z * np.sqrt(mean), (column, observed, mean)


def test_more_seat_growth_never_gives_fewer_seats_per_account() -> None:
    """Common random numbers: with no removals, a higher add rate gives every account at least
    as many seats (the Poisson inversion is monotone in its mean), and seats move no churn."""
    base = ["seats.enabled=true", "seats.remove_rate=0.0", "seats.satisfaction_effect=0.0"]
    for seed in (1, 2):
        low = _sim("b2b_saas_no_offers", SMALL + base + ["seats.add_rate=0.01"], seed)
        high = _sim("b2b_saas_no_offers", SMALL + base + ["seats.add_rate=0.03"], seed)
        np.testing.assert_array_equal(low.book.alive, high.book.alive)
        assert (high.book.seats >= low.book.seats).all()
        assert high.book.seats.sum() > low.book.seats.sum()
        assert high.book.mrr.sum() > low.book.mrr.sum()


# -- price rises -------------------------------------------------------------------------------


def test_non_grandfathered_accounts_move_to_the_list_level_at_renewal() -> None:
    """Textbook book (every account at 100 a month, monthly contracts): at the horizon every
    account alive pays 100 x 1.1^2 (price dates 12 and 24), except grandfathered ones, which
    keep 100 until 30 months after a price date; arrivals come in at the list level."""
    overrides = [
        *PRICE_RISE,
        "pricing.grandfather_share=0.4",
        "pricing.grandfather_months=30",
        "acquisition.new_accounts_per_month=50",
        "acquisition.process=fixed",
    ]
    sim = _sim("textbook", overrides)
    book = sim.book
    u = sim.streams.uniform("pricing", book.key, 0)
    opening_kept = (book.start_month < 12) & (u < 0.4)  # alive at the first price date
    alive = book.alive
    np.testing.assert_allclose(book.mrr[alive & opening_kept], 100.0, rtol=1e-12)
    moved = alive & (book.start_month < 12) & ~opening_kept
    np.testing.assert_allclose(book.mrr[moved], 121.0, rtol=1e-12)
    np.testing.assert_allclose(price_multiplier(sim, np.flatnonzero(moved)), 1.21, rtol=1e-12)
    assert (price_multiplier(_sim("textbook", []), np.arange(10)) == 1.0).all()
    assert moved.sum() > 100 and (alive & opening_kept).sum() > 100
    for start in (5, 15, 30):
        at = book.start_month == start
        level = list_level(sim.scenario, start)
        np.testing.assert_allclose(book.initial_mrr[at], 100.0 * level, rtol=1e-12)


def test_a_price_rise_never_lowers_mrr_and_raises_churn_per_seed() -> None:
    """Common random numbers: every account that churns without the rise churns no later with
    it; churn rises in every seed; no account alive in both pays less with the rise."""
    for seed in (1, 2, 3):
        off = _sim("textbook", [], seed)
        on = _sim("textbook", PRICE_RISE, seed)
        churned_off = ~off.book.alive
        assert (~on.book.alive[churned_off]).all()
        assert (on.book.end_month[churned_off] <= off.book.end_month[churned_off]).all()
        assert (~on.book.alive).sum() > churned_off.sum()
        both = on.book.alive & off.book.alive
        assert (on.book.mrr[both] >= off.book.mrr[both]).all()


def test_churn_at_the_first_price_date_follows_the_elasticity() -> None:
    """At the renewal at the end of month 11 every monthly account faces the 10 % rise: its churn
    probability is expit(logit(risk) + elasticity x log 1.1)."""
    elasticity = 2.5
    sim = _sim("textbook", [*PRICE_RISE, f"pricing.churn_elasticity={elasticity}"])
    book = sim.book
    due = (book.start_month <= 11) & ((book.end_month >= 11) | book.alive)
    p = expit(logit(book.risk[due]) + elasticity * np.log(1.1))
    expected, se = p.sum(), np.sqrt((p * (1 - p)).sum())
    observed = sim.ledger["churned_accounts"][12]
    assert abs(observed - expected) < Z * se, (observed, expected, se)
    base = book.risk[due].sum()  # without the term: a clear gap the test can see
    assert observed - base > Z * se


def test_the_fast_poisson_inversion_is_scipys() -> None:
    """poisson_ppf_array equals scipy.stats.poisson.ppf for small, large and zero means (the
    summed mass and the incomplete-gamma path); at u next to 1 it ends, far in the tail."""
    from scipy.stats import poisson

    from simlib.model.seats import poisson_ppf_array

    rng = np.random.default_rng(7)
    u = rng.random(30_000)
    for scale in (0.05, 2.0, 29.0, 400.0):
        mean = rng.random(u.size) * scale
        mean[::9] = 0.0
        want = np.where(mean > 0, poisson.ppf(u, np.where(mean > 0, mean, 1.0)), 0.0)
        np.testing.assert_array_equal(poisson_ppf_array(u, mean), want.astype(np.int64))
    top = np.nextafter(np.ones(3), 0)
    far = poisson_ppf_array(top, np.array([2.0, 20.0, 200.0]))
    assert (far > np.array([2.0, 20.0, 200.0]) + 5 * np.sqrt([2.0, 20.0, 200.0])).all()


def _seat_history(overrides: list[str]) -> tuple[Simulation, list[np.ndarray]]:
    scenario = simlib.load_scenario("b2b_saas_no_offers", overrides)
    history: list[np.ndarray] = []
    sim = Simulation(scenario, seed=1)
    sim._on_month = lambda month: history.append(sim.book.seats.copy())
    return sim.run(), history


def test_annual_contracts_shed_seats_only_at_their_renewal() -> None:
    """With annual_removals at_renewal an annual account's seats fall only in the month whose end
    is its renewal; with monthly they fall in other months too (the control)."""
    base = [*SMALL, "seats.enabled=true", "seats.remove_rate=0.05"]
    for mode, outside_allowed in (("at_renewal", False), ("monthly", True)):
        sim, history = _seat_history([*base, f"seats.annual_removals={mode}"])
        annual = sim.book.contract == 1
        falls_outside = falls_at = 0
        for month in range(1, len(history)):
            before, now = history[month - 1], history[month][: history[month - 1].size]
            fell = (now < before) & annual[: before.size]
            renewing = (month - sim.book.anniversary[: before.size]) % 12 == 11
            falls_outside += int((fell & ~renewing).sum())
            falls_at += int((fell & renewing).sum())
        assert falls_at > 0
        assert (falls_outside > 0) == outside_allowed, (mode, falls_outside)


def test_seat_rates_follow_satisfaction_and_usage_as_documented() -> None:
    """add = add_rate x g, remove = remove_rate / g, g = exp(e_s (sat - ref_s) + e_u (usage -
    ref_u)); usage is read where the usage mechanism runs (offers on)."""
    from simlib.model.seats import seat_rates

    overrides = [
        "population.initial_accounts=500",
        "horizon_months=6",
        "seats.enabled=true",
        "seats.satisfaction_effect=1.5",
        "seats.satisfaction_reference=0.6",
        "seats.usage_effect=2.0",
        "seats.usage_reference=0.4",
    ]
    sim = _sim("b2b_no_friction", overrides)
    rows = sim.book.alive_index()
    usage = sim.book.usage[rows]
    assert (usage >= 0).all() and usage.std() > 0
    g = np.exp(1.5 * (sim.book.satisfaction[rows] - 0.6) + 2.0 * (usage - 0.4))
    add, remove = seat_rates(sim, rows)
    np.testing.assert_allclose(add, 0.008 * g, rtol=1e-13)
    np.testing.assert_allclose(remove, 0.003 / g, rtol=1e-13)
