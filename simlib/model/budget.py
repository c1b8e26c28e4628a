"""The B2B fiscal calendar and discretionary budgets.

Simulation month 0 falls in calendar month ``budget.calendar_start_month`` (1-12). A segment's
fiscal year starts in calendar month ``fiscal_year_start_month`` (1-12, April by default), so for
an account of that segment, with ``c0 = calendar_start_month - 1`` and ``f = fiscal_year_start_month
- 1`` (both 0-11):

* months into its fiscal year at simulation month ``m``: ``(m + c0 - f) mod 12``;
* its fiscal-year index: ``floor((m + c0 - f) / 12)``;
* the next fiscal-year start strictly after ``m``: ``m + 12 - ((m + c0 - f) mod 12)``.

Each account has a discretionary budget per fiscal year (currency a year, by segment, times the
account's size when ``scale_with_size``). A deal costs 12 x its MRR increase a year; it fits when
that is at most what is left of the budget of the fiscal year in which it would take effect.
A deal that does not fit is deferred to the next fiscal-year start (a simpy timeout to that date)
or lost (``budget.on_shortfall``); within the last ``draft_window_months`` of a fiscal year, when
next year's budget is being drafted, it is always deferred. A deal that would not fit even a
fresh year's budget is lost at once.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..engine import Simulation
    from .approval import Deal
    from .offers import OfferEngine

__all__ = ["Budgets", "FiscalCalendar", "fund_deal"]

#: Deferred deals wake this long (months) before the fiscal-year start, so the MRR change can
#: be scheduled for the start month itself before the calendar turns to it.
EPS = 1e-6


class FiscalCalendar:
    """Fiscal-year arithmetic by segment (see the module docstring); months are whole months."""

    def __init__(self, sim: Simulation) -> None:
        segments = sim.scenario.segment_table()
        self.c0 = sim.scenario.budget.calendar_start_month - 1
        self.start = np.array(
            [seg.fiscal_year_start_month - 1 for seg in segments.values()], dtype=np.int64
        )

    def _shift(self, month: Any, segment: Any) -> Any:
        return np.asarray(month, dtype=np.int64) + self.c0 - self.start[segment]

    def months_into_year(self, month: Any, segment: Any) -> Any:
        """Whole months since the fiscal year containing ``month`` started (0-11)."""
        return self._shift(month, segment) % 12

    def fiscal_year(self, month: Any, segment: Any) -> Any:
        """Index of the fiscal year containing ``month`` (0 = the one containing month 0's
        fiscal-year start or later; negative before)."""
        return self._shift(month, segment) // 12

    def next_start(self, month: Any, segment: Any) -> Any:
        """First simulation month after ``month`` in which a fiscal year starts."""
        return np.asarray(month, dtype=np.int64) + 12 - self.months_into_year(month, segment)

    def is_start(self, month: Any, segment: Any) -> Any:
        return self.months_into_year(month, segment) == 0


class Budgets:
    """Discretionary budget left per account for its current fiscal year (currency)."""

    def __init__(self, sim: Simulation, calendar: FiscalCalendar) -> None:
        self.sim = sim
        self.calendar = calendar
        cfg = sim.scenario.budget
        names = list(sim.scenario.segment_table())
        self.per_year = np.array(
            [cfg.per_year.get(n, cfg.default_per_year) for n in names], dtype=np.float64
        )
        sim.book.add_column("budget_left", np.float64, 0.0)
        sim.book.add_column("budget_year", np.int64, np.iinfo(np.int64).min)

    def annual(self, row: int) -> float:
        """The account's discretionary budget for a whole fiscal year (currency)."""
        book = self.sim.book
        amount = float(self.per_year[book.column("segment")[row]])
        if self.sim.scenario.budget.scale_with_size:
            amount *= float(book.column("size")[row])
        return amount

    def left(self, row: int, month: int) -> float:
        """Budget left for the fiscal year containing ``month`` (resets at each year start)."""
        book = self.sim.book
        cal = self.calendar
        segment = int(book.column("segment")[row])
        year = (month + cal.c0 - int(cal.start[segment])) // 12
        years, left = book.column("budget_year"), book.column("budget_left")
        if years[row] != year:
            years[row] = year
            left[row] = self.annual(row)
        return float(left[row])

    def try_spend(self, row: int, month: int, cost: float) -> bool:
        """Spend ``cost`` (currency) from the budget of ``month``'s fiscal year if it fits."""
        if cost <= self.left(row, month) + 1e-9:
            self.sim.book.column("budget_left")[row] -= cost
            return True
        return False


def fund_deal(engine: OfferEngine, deal: Deal) -> Generator[Any, Any, None]:
    """Simpy process step after approval: land the deal now, after a deferral, or lose it."""
    sim = engine.sim
    cfg = sim.scenario.budget
    effective = sim.month + 1
    budgets = engine.budgets
    if budgets is None or deal.yearly_cost <= 0:
        engine.land_deal(deal, effective)
        return
    seg = int(deal.segment)
    if budgets.try_spend(deal.row, effective, deal.yearly_cost):
        engine.land_deal(deal, effective)
        return
    if deal.yearly_cost > budgets.annual(deal.row) + 1e-9:
        engine.close_deal(deal, "lost_budget")
        return
    cal = budgets.calendar
    in_window = int(cal.months_into_year(effective, seg)) >= 12 - cfg.draft_window_months
    if cfg.on_shortfall == "lose" and not in_window:
        engine.close_deal(deal, "lost_budget")
        return
    start = int(cal.next_start(effective, seg))
    engine.defer_deal(deal, start)
    yield sim.env.timeout(max(start - EPS - sim.env.now, 0.0))
    if not sim.book.column("alive")[deal.row]:
        engine.close_deal(deal, "lost_churned")
    elif budgets.try_spend(deal.row, start, deal.yearly_cost):
        engine.land_deal(deal, start)
    else:  # pragma: no cover - a fresh year's budget always fits (checked above)
        engine.close_deal(deal, "lost_budget")
