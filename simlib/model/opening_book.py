"""The opening book: the accounts alive at month 0, generated or imported.

At month 0 the population actor either draws ``population.initial_accounts`` accounts
(:func:`simlib.model.population.create_accounts`) or, when ``population.from_csv`` names a customer
book, imports it (:mod:`simlib.model.book_import`; the book was read once before the
replications, :func:`simlib.engine.load_run_inputs`, else it is read here).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine import Actor, register_actor
from .book_import import import_book
from .population import create_accounts

__all__ = ["PopulationActor"]


@register_actor
class PopulationActor(Actor):
    """Creates the opening book at month 0."""

    name: ClassVar[str] = "population"
    order: ClassVar[int] = 10

    def open_month(self, month: int) -> None:
        if month != 0:
            return
        sim = self.sim
        path = sim.scenario.population.from_csv
        if path is not None:
            import_book(sim, sim.inputs.get("book", path))
            return
        create_accounts(
            sim,
            0,
            np.arange(sim.scenario.population.initial_accounts, dtype=np.int64),
            stagger=sim.scenario.contracts.stagger_opening_renewals,
        )
