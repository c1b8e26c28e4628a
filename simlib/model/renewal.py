"""The renewal desk: churn decisions at each renewal, taking effect at the end of the month.

A monthly-contract account renews at the end of every month; an annual one at the end of months
``a + 11, a + 23, ...`` (``a`` its anniversary, normally its start month). At a renewal the account
churns when a keyed uniform (stream ``churn``, slot = month) falls below its churn probability

    logit(p) = logit(risk) + satisfaction_effect x (fit - satisfaction) + log(m) x champion_lost

where ``risk`` ~ Beta(alpha, beta) was drawn once per account (the shifted-beta-geometric model,
Fader & Hardie 2007) and ``m`` is the champion churn odds multiplier. With the satisfaction
effect at 0 and no champion loss, p = risk exactly, so a cohort's survival after t renewals is
S(t) = B(alpha, beta + t) / B(alpha, beta).

Other actors may register *save handlers* (:meth:`RenewalDesk.add_save_handler`): each gets the
rows about to churn and returns the rows it kept (a downsell, say) before the churn is booked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from ..account import CONTRACT_ANNUAL
from ..engine import Actor, Simulation, register_actor

__all__ = ["RenewalDesk"]

SaveHandler = Callable[[NDArray[np.intp], int], NDArray[np.intp]]


@register_actor
class RenewalDesk(Actor):
    name: ClassVar[str] = "renewal"
    order: ClassVar[int] = 30

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self._save_handlers: list[SaveHandler] = []

    def add_save_handler(self, handler: SaveHandler) -> None:
        """Register ``handler(rows_about_to_churn, month) -> rows_saved``."""
        self._save_handlers.append(handler)

    def due(self, month: int) -> NDArray[np.intp]:
        """Rows whose renewal falls at the end of ``month``."""
        book = self.sim.book
        rows = book.alive_index()
        annual = book.contract[rows] == CONTRACT_ANNUAL
        at_anniversary = (month - book.anniversary[rows]) % 12 == 11
        return rows[~annual | at_anniversary]

    def churn_probability(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """Churn probability at this renewal for each row (see the module docstring)."""
        book = self.sim.book
        cfg = self.sim.scenario
        p = book.risk[rows]
        effect = cfg.churn.satisfaction_effect
        lost = book.champion_lost[rows]
        if effect == 0 and not lost.any():
            return p
        z = logit(np.clip(p, 1e-12, 1 - 1e-12))
        if effect:
            z = z + effect * (book.fit[rows] - book.satisfaction[rows])
        if lost.any():
            z = z + np.log(cfg.champion.churn_odds_multiplier) * lost
        return expit(z)

    def close_month(self, month: int) -> None:
        sim = self.sim
        book = sim.book
        rows = self.due(month)
        if rows.size == 0:
            return
        p = self.churn_probability(rows)
        u = sim.streams.uniform("churn", book.key[rows], month)
        book.champion_lost[rows] = False
        leaving = rows[u < p]
        for handler in self._save_handlers:
            if leaving.size == 0:
                break
            saved = handler(leaving, month)
            leaving = np.setdiff1d(leaving, saved, assume_unique=True)
        lost_mrr = book.churn(leaving, month)
        sim.ledger.add("churned_accounts", month + 1, leaving.size)
        sim.ledger.add("churned_mrr", month + 1, lost_mrr)
