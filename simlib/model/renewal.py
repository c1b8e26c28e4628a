"""The renewal desk: churn decisions at each renewal, taking effect at the end of the month.

A monthly-contract account renews at the end of every month; an annual one at the end of months
``a + 11, a + 23, ...`` (``a`` its anniversary, normally its start month). At a renewal the account
churns when a keyed uniform (stream ``churn``, slot = month) falls below its churn probability,
the sum of the registered churn-odds terms (:mod:`simlib.churn_odds`)::

    logit(p) = logit(risk) + satisfaction_effect x (fit - satisfaction) + log(m) x champion_lost
               + (any term a mechanism registers)

where ``risk`` ~ Beta(alpha, beta) was drawn once per account (the shifted-beta-geometric model,
Fader & Hardie 2007; the ``base_risk`` term, registered here) and ``m`` is the champion churn
odds multiplier. With the satisfaction effect at 0 and no champion loss, p = risk exactly, so a
cohort's survival after t renewals is S(t) = B(alpha, beta + t) / B(alpha, beta).

Other actors may register *save handlers* (:meth:`RenewalDesk.add_save_handler`): each gets the
rows about to churn and returns the rows it kept (a downsell, say) before the churn is booked;
and *renewal handlers* (:meth:`RenewalDesk.add_renewal_handler`): each gets the rows that renewed
or not this month, once the draws are made (the champion mechanism clears its flag there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL
from ..churn_odds import active_terms, churn_probability, register_base_term
from ..engine import Actor, Simulation, register_actor
from ..rng import compiled

__all__ = ["RenewalDesk", "due_numpy"]


def due_numpy(
    contract: NDArray[np.int8], anniversary: NDArray[np.int32], rows: NDArray[np.intp], month: int
) -> NDArray[np.intp]:
    """The rows of ``rows`` renewing at the end of ``month``: monthly contracts, and annual ones
    in the last month of their contract year; the reference of the compiled loop."""
    annual = contract[rows] == CONTRACT_ANNUAL
    at_anniversary = (month - anniversary[rows]) % 12 == 11
    return rows[~annual | at_anniversary]


def _build_due_loop() -> Callable[..., Any]:
    import numba

    @numba.njit(cache=True, nogil=True)
    def due_loop(contract, anniversary, rows, month):
        out = np.empty(rows.size, dtype=rows.dtype)
        k = 0
        for i in range(rows.size):  # no branch: every row is written, due ones advance k
            r = rows[i]
            out[k] = r
            k += (contract[r] != CONTRACT_ANNUAL) | ((month - anniversary[r]) % 12 == 11)
        return out[:k].copy()

    return cast("Callable[..., Any]", due_loop)


SaveHandler = Callable[[NDArray[np.intp], int], NDArray[np.intp]]
RenewalHandler = Callable[[NDArray[np.intp], int], None]


def _base_risk(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """The account's own churn probability per renewal, drawn once from Beta(alpha, beta)."""
    return sim.book.risk[rows]


register_base_term("base_risk", _base_risk)


@register_actor
class RenewalDesk(Actor):
    name: ClassVar[str] = "renewal"
    order: ClassVar[int] = 30

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self._save_handlers: list[SaveHandler] = []
        self._renewal_handlers: list[RenewalHandler] = []
        self.terms = active_terms(sim.scenario)

    def add_save_handler(self, handler: SaveHandler) -> None:
        """Register ``handler(rows_about_to_churn, month) -> rows_saved``."""
        self._save_handlers.append(handler)

    def add_renewal_handler(self, handler: RenewalHandler) -> None:
        """Register ``handler(rows_due, month)``, called once the churn draws are made."""
        self._renewal_handlers.append(handler)

    def due(self, month: int) -> NDArray[np.intp]:
        """Rows whose renewal falls at the end of ``month``."""
        book = self.sim.book
        rows = book.alive_index()
        loop = compiled(_build_due_loop)
        if loop is None:
            return due_numpy(book.contract, book.anniversary, rows, month)
        return cast("NDArray[np.intp]", loop(book.contract, book.anniversary, rows, int(month)))

    def churn_probability(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """Churn probability at this renewal for each row: expit of the sum of the terms."""
        return churn_probability(self.sim, rows, self.terms)

    def close_month(self, month: int) -> None:
        sim = self.sim
        book = sim.book
        rows = self.due(month)
        if rows.size == 0:
            return
        p = self.churn_probability(rows)
        u = sim.streams.uniform("churn", book.key[rows], month)
        for on_renewal in self._renewal_handlers:
            on_renewal(rows, month)
        leaving = rows[u < p]
        for handler in self._save_handlers:
            if leaving.size == 0:
                break
            saved = handler(leaving, month)
            leaving = np.setdiff1d(leaving, saved, assume_unique=True)
        lost_mrr = book.churn(leaving, month)
        sim.ledger.add("churned_accounts", month + 1, leaving.size)
        sim.ledger.add("churned_mrr", month + 1, lost_mrr)
