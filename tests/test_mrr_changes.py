"""MRR changes as composable deltas applied in a documented order (Simulation.change_mrr_by)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np
import pytest

import simlib
from simlib.engine import ACTORS, Actor, Simulation, register_actor
from simlib.errors import SimulationError

Plan = Callable[[Simulation, int], None]


@pytest.fixture
def scripted() -> Iterator[Callable[[Plan], Simulation]]:
    """Run textbook (no churn effect needed) with a test actor following a script."""

    def run(script: Plan) -> Simulation:
        @register_actor
        class Scripted(Actor):
            name: ClassVar[str] = "test_scripted_mrr"
            order: ClassVar[int] = 90

            def open_month(self, month: int) -> None:
                script(self.sim, month)

        try:
            scenario = simlib.load_scenario("textbook", ["horizon_months=4"])
            return Simulation(scenario, seed=2).run()
        finally:
            ACTORS.remove("test_scripted_mrr")

    yield run


def test_two_mechanisms_changing_one_account_in_one_month_both_count(scripted) -> None:
    seen: dict[str, np.ndarray] = {}
    rows = np.arange(50)

    def script(sim: Simulation, month: int) -> None:
        if month == 0:
            seen["before"] = sim.book.mrr[rows].copy()
            sim.change_mrr_by(rows, np.full(50, 10.0), 2)  # an upsell, say
            sim.change_mrr_by(rows, np.full(50, -4.0), 2)  # a price cut, say
        if month == 2:
            seen["alive"] = sim.book.alive[rows].copy()
            seen["after"] = sim.book.mrr[rows].copy()
            seen["flows"] = np.array(
                [sim.ledger["expansion_mrr"][2], sim.ledger["contraction_mrr"][2]]
            )

    scripted(script)
    alive = seen["alive"]
    assert alive.sum() >= 25  # textbook churns a few percent a month
    np.testing.assert_allclose(seen["after"][alive], seen["before"][alive] + 6.0)
    np.testing.assert_allclose(seen["flows"], [10.0 * alive.sum(), 4.0 * alive.sum()])


def test_mrr_never_falls_below_zero_and_a_set_replaces_earlier_changes(scripted) -> None:
    seen: dict[str, np.ndarray] = {}
    cut, reset = np.arange(0, 40), np.arange(40, 80)

    def script(sim: Simulation, month: int) -> None:
        if month == 0:
            sim.change_mrr_by(cut, np.full(40, -1e9), 1)
            sim.change_mrr_by(reset, np.full(40, 50.0), 1)
            sim.change_mrr(reset, np.full(40, 7.0), 1)
            sim.change_mrr_by(reset, np.full(40, 1.0), 1)
        if month == 1:
            seen["alive"] = sim.book.alive[:80].copy()
            seen["mrr"] = sim.book.mrr[:80].copy()

    scripted(script)
    alive, mrr = seen["alive"], seen["mrr"]
    assert alive[:40].any() and alive[40:].any()
    assert np.all(mrr[:40][alive[:40]] == 0.0)
    assert np.all(mrr[40:][alive[40:]] == 8.0)


def test_a_change_in_the_past_is_refused(scripted) -> None:
    def script(sim: Simulation, month: int) -> None:
        if month == 1:
            sim.change_mrr_by(np.array([0]), np.array([1.0]), 1)

    with pytest.raises(SimulationError, match="later month"):
        scripted(script)


def test_the_waterfall_reconciles_with_composed_changes(scripted) -> None:
    """MRR(m) = MRR(m-1) + expansion(m) - contraction(m) - churned(m) + new(m), every month."""
    rng = np.random.default_rng(5)

    def script(sim: Simulation, month: int) -> None:
        rows = sim.book.alive_index()[:200]
        for _ in range(3):
            sim.change_mrr_by(rows, rng.normal(0, 20, rows.size), month + 1)

    sim = scripted(script)
    led = sim.ledger
    mrr = led["mrr"]
    new = led["new_mrr"]
    for m in range(1, sim.horizon):
        flow = led["expansion_mrr"][m] - led["contraction_mrr"][m] - led["churned_mrr"][m]
        assert mrr[m] == pytest.approx(mrr[m - 1] + flow + new[m], rel=1e-9, abs=1e-6)
