"""Seat-based expansion: accounts priced per seat, whose seats follow their use and headcount.

With ``seats.enabled``, every account of a seat-priced segment (``seats.segments``, unset: all)
has a whole number of seats, book column ``seats`` (reported in the accounts table):

* **At arrival** ``seats = max(1, round(size x reference_seats))``: ``size`` is the account's
  size multiplier of :mod:`simlib.model.population` (MRR = list price x size), so the plan's list
  price is the price of a reference account of ``reference_seats`` seats. The account's price per
  seat is its arrival MRR over its seats, so switching seats on changes no arrival's MRR; from
  then on MRR = price per seat x seats (plan moves, add-ons and price rises change the price per
  seat, which is always MRR / seats).
* **Each month** (after billing, stream ``seats``; slot ``2 m`` for additions and ``2 m + 1`` for
  removals, so the draws are keyed per account and month: common random numbers), a linear
  birth-death process in discrete time (Kendall 1948): with ``s`` seats,

      added   ~ Poisson(s x add_rate x g),      removed ~ Poisson(s x remove_rate / g),
      g = exp(satisfaction_effect x (satisfaction - satisfaction_reference)
              + usage_effect x (usage - usage_reference)),

  ``usage`` being usage / plan limit (:mod:`simlib.model.usage`, read only when usage is on);
  at least one seat is kept (monthly columns ``seats_added`` and ``seats_removed`` count
  them, booked in month ``m + 1``). Satisfied, busy customers add seats and drop few; unhappy ones
  shed them. At the reference levels seats grow by ``add_rate - remove_rate`` a month.
* **Billing.** A change of ``d`` seats decided in month ``m`` is an MRR delta of
  ``d x MRR / s`` (the price per seat of month ``m``) from month ``m + 1``
  (:meth:`Simulation.change_mrr_by`), booked as expansion or contraction MRR, on monthly and
  annual contracts alike (seat true-ups billed monthly).

With ``seats.enabled`` false (the default) the actor does not run: results are unchanged to the
bit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import pdtr, pdtrik

from ..engine import Actor, Simulation, register_actor
from ..scenario import Scenario

__all__ = ["SeatsActor", "initial_seats", "poisson_ppf_array", "seat_rates"]


def poisson_ppf_array(u: NDArray[np.float64], mean: NDArray[np.float64]) -> NDArray[np.int64]:
    """The smallest ``k`` with P(Poisson(mean) <= k) >= u, elementwise (0 where mean is 0).

    The arithmetic of :func:`simlib.model.acquisition.poisson_ppf`, vectorized.
    """
    u = np.asarray(u, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    out = np.zeros(u.shape, dtype=np.int64)
    pos = mean > 0
    if not pos.any():
        return out
    m, v = mean[pos], u[pos]
    k = np.ceil(pdtrik(v, m))
    below = np.maximum(k - 1.0, 0.0)
    out[pos] = np.where(pdtr(below, m) >= v, below, k).astype(np.int64)
    return out


def initial_seats(size: NDArray[np.float64], reference_seats: float) -> NDArray[np.int64]:
    """Seats of new accounts: ``max(1, round(size x reference_seats))``."""
    return np.maximum(1, np.rint(size * reference_seats)).astype(np.int64)


def seat_rates(
    sim: Simulation, rows: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-seat monthly add and remove rates of ``rows`` (see the module docstring)."""
    cfg = sim.scenario.seats
    book = sim.book
    log_g = cfg.satisfaction_effect * (book.satisfaction[rows] - cfg.satisfaction_reference)
    if cfg.usage_effect != 0.0 and "usage" in book.columns:
        usage = book.usage[rows]
        log_g = log_g + cfg.usage_effect * np.where(usage >= 0, usage - cfg.usage_reference, 0.0)
    g = np.exp(log_g)
    return cfg.add_rate * g, cfg.remove_rate / g


@register_actor
class SeatsActor(Actor):
    """Seats per account and their monthly moves (module docstring)."""

    name: ClassVar[str] = "seats"
    order: ClassVar[int] = 67  # after billing, satisfaction (60) and usage (65)

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.seats.enabled

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        sim.book.add_column("seats", np.int64, 0, report=True)
        names = sim.segments
        chosen = sim.scenario.seats.segments
        self._priced = np.array([chosen is None or n in chosen for n in names], dtype=bool)
        sim.ledger.declare("seats_added", integer=True)
        sim.ledger.declare("seats_removed", integer=True)

    def _start_new(self) -> None:
        """Give seats to accounts of seat-priced segments that have none yet (new arrivals)."""
        book = self.sim.book
        rows = np.flatnonzero((book.seats == 0) & book.alive & self._priced[book.segment])
        if rows.size:
            book.seats[rows] = initial_seats(
                book.size[rows], self.sim.scenario.seats.reference_seats
            )

    def open_month(self, month: int) -> None:
        self._start_new()
        sim = self.sim
        if month + 1 >= sim.horizon:
            return  # a change from the month after the last would be dropped anyway
        book = sim.book
        rows = np.flatnonzero(book.alive & (book.seats > 0))
        if rows.size == 0:
            return
        seats = book.seats[rows]
        add, remove = seat_rates(sim, rows)
        keys = book.key[rows]
        added = poisson_ppf_array(sim.streams.uniform("seats", keys, 2 * month), seats * add)
        removed = poisson_ppf_array(
            sim.streams.uniform("seats", keys, 2 * month + 1), seats * remove
        )
        new = np.maximum(seats + added - removed, 1)
        sim.ledger.add("seats_added", month + 1, int(added.sum()))
        sim.ledger.add("seats_removed", month + 1, int((seats + added - new).sum()))
        moved = new != seats
        if not moved.any():
            return
        rows, seats, change = rows[moved], seats[moved], (new - seats)[moved]
        sim.change_mrr_by(rows, change * (book.mrr[rows] / seats), month + 1)
        book.seats[rows] = seats + change
