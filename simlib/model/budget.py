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
A deal that does not fit is deferred to the next fiscal-year start (it is decided again just
before that month opens) or lost (``budget.on_shortfall``); within the last
``draft_window_months`` of a fiscal year, when next year's budget is being drafted, it is always
deferred. A deal that would not fit even a
fresh year's budget is lost at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ..engine import Simulation

__all__ = ["EPS", "Budgets", "FiscalCalendar"]

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
    """Discretionary budget left per account for its current fiscal year (currency).

    The methods take arrays of distinct account rows (an account has at most one deal open).
    """

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

    def annual(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """The accounts' discretionary budgets for a whole fiscal year (currency)."""
        book = self.sim.book
        amount = self.per_year[book.segment[rows]]
        if self.sim.scenario.budget.scale_with_size:
            amount = amount * book.size[rows]
        return amount

    def left(self, rows: NDArray[np.intp], month: Any) -> NDArray[np.float64]:
        """Budget left for the fiscal year containing ``month`` (resets at each year start)."""
        book = self.sim.book
        year = self.calendar.fiscal_year(month, book.segment[rows])
        years, left = book.budget_year, book.budget_left
        fresh = years[rows] != year
        if fresh.any():
            new = rows[fresh]
            years[new] = year[fresh] if np.ndim(year) else year
            left[new] = self.annual(new)
        return left[rows]

    def try_spend(
        self, rows: NDArray[np.intp], month: Any, cost: NDArray[np.float64]
    ) -> NDArray[np.bool_]:
        """Spend ``cost`` (currency) from the budget of ``month``'s fiscal year where it fits;
        returns where it did."""
        fits = cost <= self.left(rows, month) + 1e-9
        self.sim.book.budget_left[rows[fits]] -= cost[fits]
        return fits
