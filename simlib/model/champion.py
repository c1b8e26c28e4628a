"""Champion turnover: the customer's internal champion leaves their job.

Each month an alive account loses its champion with probability ``monthly_turnover`` (a keyed
uniform of stream ``champion``). Satisfaction falls by ``satisfaction_drop`` at once, and the odds
of churn at the account's next renewal are multiplied by ``churn_odds_multiplier`` (the renewal
desk reads and clears the flag).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine import Actor, register_actor
from ..scenario import Scenario

__all__ = ["ChampionActor"]


@register_actor
class ChampionActor(Actor):
    name: ClassVar[str] = "champion"
    order: ClassVar[int] = 70

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.champion.enabled

    def __init__(self, sim) -> None:  # type: ignore[no-untyped-def]
        super().__init__(sim)
        sim.ledger.declare("champions_lost", integer=True)

    def open_month(self, month: int) -> None:
        cfg = self.sim.scenario.champion
        book = self.sim.book
        rows = book.alive_index()
        if rows.size == 0 or cfg.monthly_turnover == 0:
            return
        u = self.sim.streams.uniform("champion", book.key[rows], month)
        left = rows[u < cfg.monthly_turnover]
        book.champion_lost[left] = True
        book.satisfaction[left] = np.maximum(book.satisfaction[left] - cfg.satisfaction_drop, 1e-6)
        self.sim.ledger.add("champions_lost", month, left.size)
