"""A list-price rise at renewal, with grandfathering, and the churn it adds.

With ``pricing.enabled`` and ``pricing.pct`` > 0, list prices rise at each price date
``D_k = first_month + 12 k`` (k = 0, 1, ...): the list level of month ``m`` is

    L(m) = (1 + pct) ^ (number of price dates <= m).

Each account pays at a level of its own (book column ``price_level``): the level of its arrival
month (an arrival after a price date comes in at the new list price: its MRR at arrival, and the
month's new MRR, are scaled by ``L(m)``; the opening book starts at level 1).

**Repricing at renewal.** At a renewal at the end of month ``m`` (the renewal desk's renewal
handler; the new term starts in month ``m + 1``) an account with ``price_level < L(m + 1)`` that is
not grandfathered moves to ``L(m + 1)``: an MRR delta of ``MRR x (L(m + 1) / price_level - 1)``
from month ``m + 1`` (:meth:`Simulation.change_mrr_by`, booked as expansion MRR; dropped when the
account churns at that renewal). A monthly contract renews every month, so it moves at the end
of the month before the first price date it has not paid; an annual one at its anniversary.

**Grandfathering.** An account is grandfathered when a keyed uniform (stream ``pricing``, one
draw per account) is below ``grandfather_share``, or when it started before
``grandfather_signed_before``. At each price date ``D_k`` every grandfathered account alive in
month ``D_k - 1`` (settled then, before the first renewals that would move it) keeps its price
until ``D_k + grandfather_months`` (book column ``grandfathered_until``) and moves at its first
renewal whose new term starts at or after that month.

**Churn.** The ``price_rise`` churn-odds term (order 30, :mod:`simlib.churn_odds`) adds

    churn_elasticity x log(L(m + 1) / price_level)

to the log-odds of churn at the renewal that moves the price, and nothing otherwise (a one-off
shock at the renewal, not a lasting rise of the hazard). The default elasticity 2.5 comes from
practitioner guides to SaaS price rises, which report about 2-3 percentage points of added
yearly churn for an 8-15 % rise on a book churning about 10 % a year: logit(0.125) -
logit(0.10) = 0.25 per log(1.10) = 0.095, so about 2.6 (see the README; a weak source, to be
replaced by a fit to the book's own price-rise history).

With ``pricing`` off (the default), or ``pct`` 0, the actor and the term do not run: results are
unchanged to the bit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL
from ..churn_odds import register_churn_odds_term
from ..engine import Actor, Simulation, register_actor
from ..scenario import Scenario

__all__ = [
    "PricingActor",
    "list_level",
    "price_dates",
    "price_multiplier",
    "price_multiplier_from",
    "price_rises_on",
]

#: Slot of the grandfathering draw in stream ``pricing`` (one draw per account).
SLOT_GRANDFATHER = 0
#: ``grandfathered_until`` of an account that is not (or no longer) grandfathered.
NOT_GRANDFATHERED = -(2**31)


def price_rises_on(scenario: Scenario) -> bool:
    """Whether list prices rise in this scenario (``pricing.enabled`` and ``pct`` > 0)."""
    return scenario.pricing.enabled and scenario.pricing.pct > 0


def price_dates(scenario: Scenario) -> list[int]:
    """The price dates inside the horizon: ``first_month + 12 k`` (months)."""
    cfg = scenario.pricing
    return list(range(cfg.first_month, scenario.horizon_months, 12))


def list_level(scenario: Scenario, month: int) -> float:
    """``L(month) = (1 + pct) ^ (price dates <= month)``: the list-price multiplier."""
    cfg = scenario.pricing
    if month < cfg.first_month:
        return 1.0
    return float((1.0 + cfg.pct) ** ((month - cfg.first_month) // 12 + 1))


def price_multiplier(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """The list level each row pays (1 with pricing off): a mechanism pricing a plan move or
    an add-on at list price x size multiplies by it to charge the row's current level."""
    if "price_level" not in sim.book.columns:
        return np.ones(rows.size)
    level = sim.book.price_level[rows]
    return np.where(level > 0, level, 1.0)


def price_multiplier_from(
    sim: Simulation, rows: NDArray[np.intp], month: int
) -> NDArray[np.float64]:
    """The list level each row pays from month ``month + 1`` (1 with pricing off): its level
    now, or ``L(month + 1)`` when its renewal at the end of ``month`` moves its price. A change
    decided in ``month`` that takes effect from ``month + 1`` (an add-on, a plan step) is priced
    at this level: the repricing at that renewal scales the MRR the account has then, without
    changes still pending, so a change priced at the old level would keep it."""
    level = price_multiplier(sim, rows)
    if "price_level" not in sim.book.columns or rows.size == 0:
        return level
    book = sim.book
    annual = book.contract[rows] == CONTRACT_ANNUAL
    renews = ~annual | ((month - book.anniversary[rows]) % 12 == 11)
    moves = renews & (_movers(sim, rows, month) > 0)
    return np.where(moves, list_level(sim.scenario, month + 1), level)


def _movers(sim: Simulation, rows: NDArray[np.intp], month: int) -> NDArray[np.float64]:
    """``L(month + 1) / price_level - 1`` for rows repriced at their renewal at the end of
    ``month`` (0 for rows that are grandfathered or already at the new level)."""
    book = sim.book
    level = list_level(sim.scenario, month + 1)
    paid = book.price_level[rows]
    free = book.grandfathered_until[rows] <= month + 1
    rise = np.where((paid > 0) & free, level / np.where(paid > 0, paid, 1.0) - 1.0, 0.0)
    return np.maximum(rise, 0.0)


@register_churn_odds_term("price_rise", order=30, enabled=price_rises_on)
def _price_rise(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """``churn_elasticity x log(1 + rise)`` at the renewal that moves the price; None when no row
    of ``rows`` is repriced at this renewal."""
    month = sim.month - 1 if getattr(sim, "_closing", False) else sim.month
    rise = _movers(sim, rows, month)
    if not rise.any():
        return None
    return sim.scenario.pricing.churn_elasticity * np.log1p(rise)


@register_actor
class PricingActor(Actor):
    """List levels, grandfathering and repricing at renewal (module docstring)."""

    name: ClassVar[str] = "pricing"
    order: ClassVar[int] = 27  # after acquisition (20) and referrals (25), before billing

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return price_rises_on(scenario)

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        sim.book.add_column("price_level", np.float64, 0.0, report=True)
        sim.book.add_column("grandfathered_until", np.int32, NOT_GRANDFATHERED)
        self._dates = set(price_dates(sim.scenario))
        self._hooked = False

    def _hook(self) -> None:
        desk = self.sim.actor("renewal")
        if desk is not None:
            desk.add_renewal_handler(self._reprice)  # type: ignore[attr-defined]
        self._hooked = True

    def _grandfathered(self, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        cfg = self.sim.scenario.pricing
        book = self.sim.book
        chosen = np.zeros(rows.size, dtype=bool)
        if cfg.grandfather_share > 0:
            u = self.sim.streams.uniform("pricing", book.key[rows], SLOT_GRANDFATHER)
            chosen |= u < cfg.grandfather_share
        if cfg.grandfather_signed_before is not None:
            chosen |= book.start_month[rows] < cfg.grandfather_signed_before
        return chosen

    def open_month(self, month: int) -> None:
        if not self._hooked:
            self._hook()
        sim, book = self.sim, self.sim.book
        level = list_level(sim.scenario, month)
        new = np.flatnonzero((book.price_level == 0) & book.alive)
        if new.size:  # arrivals of this month (and the opening book) at the list level
            book.price_level[new] = level
            if level != 1.0:
                extra = book.mrr[new] * (level - 1.0)
                book.mrr[new] += extra
                book.initial_mrr[new] += extra
                sim.ledger.add("new_mrr", month, float(extra.sum()))
        date = month + 1  # grandfathering is settled before the renewals at the end of month
        if date in self._dates:  # date - 1, the first to start a term at the new level
            rows = book.alive_index()
            rows = rows[(book.price_level[rows] < list_level(sim.scenario, date))]
            rows = rows[self._grandfathered(rows)]
            until = date + sim.scenario.pricing.grandfather_months
            book.grandfathered_until[rows] = np.maximum(book.grandfathered_until[rows], until)

    def _reprice(self, rows: NDArray[np.intp], month: int) -> None:
        """Renewal handler: move the renewing rows to the list level of their new term."""
        rise = _movers(self.sim, rows, month)
        moving = rise > 0
        if not moving.any():
            return
        rows, rise = rows[moving], rise[moving]
        book = self.sim.book
        self.sim.change_mrr_by(rows, book.mrr[rows] * rise, month + 1)
        book.price_level[rows] = list_level(self.sim.scenario, month + 1)
