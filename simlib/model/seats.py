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
* **Annual contracts.** Seats are added (and billed) in any month, but with
  ``annual_removals: at_renewal`` (the default) removed only at the renewal: in the month whose
  end is the renewal, removals ~ Poisson(s x 12 x remove_rate / g), taking effect with the new
  term, and none in the other months (a committed contract is not cut mid-term);
  ``annual_removals: monthly`` treats annual contracts like monthly ones.
* **Billing.** A change of ``d`` seats decided in month ``m`` is an MRR delta of
  ``d x MRR / s`` (the price per seat of month ``m``) from month ``m + 1``
  (:meth:`Simulation.change_mrr_by`), booked as expansion or contraction MRR.

With ``seats.enabled`` false (the default) the actor does not run: results are unchanged to the
bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import NDArray
from scipy.special import pdtr, pdtrik

from ..account import CONTRACT_ANNUAL, AccountBook
from ..engine import Actor, Simulation, register_actor
from ..rng import compiled
from ..scenario import Scenario

__all__ = [
    "SeatsActor",
    "annual_removal_factor",
    "initial_seats",
    "poisson_ppf_array",
    "seat_multiplier",
    "seat_rates",
]


#: Means up to this are inverted by summing the probability mass function (fast for the small
#: means of monthly seat moves); larger ones through the incomplete gamma function.
_DIRECT_MEAN = 30.0
#: Steps of summing after which a row goes to the incomplete gamma function instead.
_DIRECT_LIMIT = _DIRECT_MEAN + 10.0 * np.sqrt(_DIRECT_MEAN) + 30


def poisson_ppf_array(u: NDArray[np.float64], mean: NDArray[np.float64]) -> NDArray[np.int64]:
    """The smallest ``k`` with P(Poisson(mean) <= k) >= u, elementwise (0 where mean is 0).

    Small means: the cumulative mass ``F(k) = sum_{j<=k} e^-m m^j / j!`` is summed until it
    reaches ``u`` (rows that need no more steps drop out, so a month of small moves costs a few
    passes over the rows that move); means above 30, and the rare row still short after
    30 + 10 sqrt(30) + 30 steps (rounding when ``u`` is within 1e-16 of 1), by the incomplete
    gamma function, as :func:`simlib.model.acquisition.poisson_ppf`.
    """
    u = np.asarray(u, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    loop = compiled(_build_poisson_loop)
    if loop is None or u.ndim != 1 or u.shape != mean.shape:
        return poisson_ppf_numpy(u, mean)
    out = np.empty(u.shape, dtype=np.int64)
    loop(u, mean, np.exp(-mean), _DIRECT_MEAN, _DIRECT_LIMIT, out)
    hard = np.flatnonzero(out < 0)  # large means and rows still short after the limit
    if hard.size:
        out[hard] = _poisson_ppf_gamma(u[hard], mean[hard])
    return out


def poisson_ppf_numpy(u: NDArray[np.float64], mean: NDArray[np.float64]) -> NDArray[np.int64]:
    """:func:`poisson_ppf_array` in numpy operations (the reference of its compiled loop)."""
    out = np.zeros(u.shape, dtype=np.int64)
    large = mean > _DIRECT_MEAN
    rest = [np.flatnonzero(large)] if large.any() else []
    p0 = np.exp(-mean)  # P(k = 0); 1 where the mean is 0, so those rows stop at 0
    beyond = u > p0
    if rest:
        beyond &= ~large
    rows = np.flatnonzero(beyond)  # most rows stop at k = 0
    m, v, pmf = mean[rows], u[rows], p0[rows]
    cdf = pmf.copy()
    k = 0
    while rows.size:
        k += 1
        if k > _DIRECT_LIMIT:
            rest.append(rows)
            break
        pmf *= m / k
        cdf += pmf
        out[rows] = k
        more = v > cdf
        rows, m, v, pmf, cdf = rows[more], m[more], v[more], pmf[more], cdf[more]
    if rest:
        hard = np.concatenate(rest)
        out[hard] = _poisson_ppf_gamma(u[hard], mean[hard])
    return out


def _poisson_ppf_gamma(v: NDArray[np.float64], m: NDArray[np.float64]) -> NDArray[np.int64]:
    """The Poisson quantile through the incomplete gamma function (large means)."""
    k_hi = np.ceil(pdtrik(v, m))
    below = np.maximum(k_hi - 1.0, 0.0)
    return np.where(pdtr(below, m) >= v, below, k_hi).astype(np.int64)


def _build_poisson_loop() -> Callable[..., Any]:
    import numba

    @numba.njit(cache=True, nogil=True)
    def poisson_loop(u, mean, p0, direct, limit, out):
        # per row, the operations of poisson_ppf_numpy's summing loop; -1: the gamma route
        for i in range(u.size):
            m, v = mean[i], u[i]
            pmf = p0[i]
            if m > direct:
                out[i] = -1
                continue
            if not v > pmf:
                out[i] = 0
                continue
            cdf = pmf
            k = 0
            while True:
                k += 1
                if k > limit:
                    out[i] = -1
                    break
                pmf *= m / k
                cdf += pmf
                if not v > cdf:
                    out[i] = k
                    break

    return cast("Callable[..., Any]", poisson_loop)


def initial_seats(size: NDArray[np.float64], reference_seats: float) -> NDArray[np.int64]:
    """Seats of new accounts: ``max(1, round(size x reference_seats))``."""
    return np.maximum(1, np.rint(size * reference_seats)).astype(np.int64)


def seat_multiplier(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """Seats now over seats at arrival (1 with seats off, or outside seat-priced segments): a
    mechanism pricing a plan move or an add-on at list price x size multiplies by it to charge
    for the seats the account has now."""
    book = sim.book
    if "seats" not in book.columns:
        return np.ones(rows.size)
    seats = book.seats[rows].astype(np.float64)
    start = initial_seats(book.size[rows], sim.scenario.seats.reference_seats)
    return np.where(seats > 0, seats / start, 1.0)


def annual_removal_factor(
    book: AccountBook, rows: NDArray[np.intp], month: int
) -> NDArray[np.float64]:
    """Multiplier of the remove rate with ``annual_removals: at_renewal``: 12 in the month of an
    annual contract's renewal (the year's removals at once, from the new term), 0 in its other
    months, 1 on monthly contracts."""
    loop = compiled(_build_removal_loop)
    if loop is None:
        return annual_removal_numpy(book, rows, month)
    out = np.empty(rows.size)
    loop(book.contract, book.anniversary, rows, int(month), out)
    return out


def annual_removal_numpy(
    book: AccountBook, rows: NDArray[np.intp], month: int
) -> NDArray[np.float64]:
    """:func:`annual_removal_factor` in numpy operations (the reference of its compiled loop)."""
    annual = book.contract[rows] == CONTRACT_ANNUAL
    renewing = (month - book.anniversary[rows]) % 12 == 11
    return np.where(annual, np.where(renewing, 12.0, 0.0), 1.0)


def _build_removal_loop() -> Callable[..., Any]:
    import numba

    @numba.njit(cache=True, nogil=True)
    def removal_loop(contract, anniversary, rows, month, out):
        for i in range(rows.size):
            r = rows[i]
            if contract[r] != CONTRACT_ANNUAL:
                out[i] = 1.0
            elif (month - anniversary[r]) % 12 == 11:
                out[i] = 12.0
            else:
                out[i] = 0.0

    return cast("Callable[..., Any]", removal_loop)


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
        self._seated = 0  # rows below this have been given their seats

    def _start_new(self) -> None:
        """Give seats to the rows added since the last call (new arrivals: rows are appended and
        never removed) in seat-priced segments."""
        book = self.sim.book
        start, self._seated = self._seated, book.n
        if start == book.n:
            return
        rows = start + np.flatnonzero(book.alive[start:] & self._priced[book.segment[start:]])
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
        if sim.scenario.seats.annual_removals == "at_renewal":
            remove = remove * annual_removal_factor(book, rows, month)
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
