"""The satisfaction churn link measured against an observable reference level
(``churn.satisfaction_reference``, simlib/model/satisfaction.py)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

import simlib
from simlib.engine import Simulation


def _desk(overrides: list[str]) -> tuple[Simulation, np.ndarray]:
    scenario = simlib.load_scenario(
        "textbook", ["horizon_months=3", "satisfaction.enabled=true", *overrides]
    )
    sim = Simulation(scenario, seed=11).run()
    rows = sim.book.alive_index()
    sim.book.champion_lost[rows] = False
    return sim, rows


def test_reference_term_is_the_documented_log_odds() -> None:
    """logit p = logit(risk) + effect x (reference - satisfaction), the fit not entering."""
    sim, rows = _desk(["churn.satisfaction_effect=2.5", "churn.satisfaction_reference=0.62"])
    book = sim.book
    p = sim.actor("renewal").churn_probability(rows)  # type: ignore[union-attr]
    z = logit(np.clip(book.risk[rows], 1e-12, 1 - 1e-12)) + 2.5 * (0.62 - book.satisfaction[rows])
    np.testing.assert_allclose(p, expit(z), rtol=1e-12)
    # and it differs from the fit-based link the default keeps (fit varies by account)
    assert np.ptp(book.fit[rows]) > 0.3


def test_with_a_reference_two_accounts_at_one_health_level_share_the_link() -> None:
    """Moving every account's (latent) fit leaves the churn probability at a given health
    level untouched with a reference level, and moves it with the fit-based default."""
    over = ["churn.satisfaction_effect=3"]
    for reference, moves in (("0.5", False), ("null", True)):
        sim, rows = _desk([*over, f"churn.satisfaction_reference={reference}"])
        desk = sim.actor("renewal")
        before = desk.churn_probability(rows)  # type: ignore[union-attr]
        sim.book.fit[rows] = np.clip(sim.book.fit[rows] + 0.2, 0.01, 0.99)
        after = desk.churn_probability(rows)  # type: ignore[union-attr]
        assert (not np.array_equal(before, after)) == moves


def test_the_default_is_the_fit_based_link() -> None:
    scenario = simlib.load_scenario("b2b_saas_no_offers")  # the default book sets a reference
    assert scenario.churn.satisfaction_reference is None
