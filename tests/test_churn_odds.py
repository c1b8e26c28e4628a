"""The churn odds as a sum of registered terms (simlib.churn_odds)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.special import expit, logit

import simlib
from simlib.churn_odds import CHURN_ODDS_TERMS, active_terms, register_churn_odds_term
from simlib.engine import Simulation


def _desk(overrides: list[str] | None = None) -> tuple[Simulation, np.ndarray]:
    scenario = simlib.load_scenario("textbook", ["horizon_months=3", *(overrides or [])])
    sim = Simulation(scenario, seed=7).run()
    return sim, sim.book.alive_index()


@pytest.fixture
def shift_term() -> Iterator[float]:
    """A test mechanism adding a constant 0.7 to the log-odds of every renewal."""
    shift = 0.7
    register_churn_odds_term("test_shift", order=50)(lambda sim, rows: np.full(rows.size, shift))
    yield shift
    CHURN_ODDS_TERMS.remove("test_shift")


def test_built_in_terms_in_their_documented_order() -> None:
    scenario = simlib.load_scenario("textbook")
    names = [t.name for t in active_terms(scenario)]
    assert names[:3] == ["base_risk", "satisfaction", "champion"]


def test_base_term_alone_gives_the_drawn_risk_to_the_bit() -> None:
    sim, rows = _desk(["churn.satisfaction_effect=0"])
    p = sim.actor("renewal").churn_probability(rows)  # type: ignore[union-attr]
    assert np.array_equal(p, sim.book.risk[rows])


def test_satisfaction_term_is_the_documented_log_odds() -> None:
    sim, rows = _desk(["churn.satisfaction_effect=2.5"])
    book = sim.book
    book.champion_lost[rows] = False
    p = sim.actor("renewal").churn_probability(rows)  # type: ignore[union-attr]
    z = logit(np.clip(book.risk[rows], 1e-12, 1 - 1e-12)) + 2.5 * (
        book.fit[rows] - book.satisfaction[rows]
    )
    np.testing.assert_allclose(p, expit(z), rtol=1e-12)


def test_champion_term_multiplies_the_odds() -> None:
    sim, rows = _desk(["churn.satisfaction_effect=0", "champion.churn_odds_multiplier=3"])
    book = sim.book
    book.champion_lost[rows] = True
    p = sim.actor("renewal").churn_probability(rows)  # type: ignore[union-attr]
    risk = book.risk[rows]
    odds = p / (1 - p)
    np.testing.assert_allclose(odds, 3 * risk / (1 - risk), rtol=1e-9)


def test_a_registered_term_adds_its_log_odds_without_editing_the_desk(shift_term: float) -> None:
    sim, rows = _desk(["churn.satisfaction_effect=0"])
    sim.book.champion_lost[rows] = False
    p = sim.actor("renewal").churn_probability(rows)  # type: ignore[union-attr]
    expected = expit(logit(np.clip(sim.book.risk[rows], 1e-12, 1 - 1e-12)) + shift_term)
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_a_term_raising_the_odds_never_keeps_an_account_longer(shift_term: float) -> None:
    """Common random numbers: the same keyed draws decide churn, so with higher odds every
    account churns no later than without them."""
    scenario = simlib.load_scenario("textbook", ["horizon_months=24"])
    with_term = Simulation(scenario, seed=3).run().book
    CHURN_ODDS_TERMS.remove("test_shift")
    without = Simulation(scenario, seed=3).run().book
    register_churn_odds_term("test_shift", order=50)(lambda sim, rows: np.full(rows.size, 0.7))
    n = min(with_term.n, without.n)
    end_with = np.where(with_term.alive[:n], 10**6, with_term.end_month[:n])
    end_without = np.where(without.alive[:n], 10**6, without.end_month[:n])
    assert np.all(end_with <= end_without)
    assert np.count_nonzero(~with_term.alive[:n]) > np.count_nonzero(~without.alive[:n])
