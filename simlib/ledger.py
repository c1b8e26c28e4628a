"""The ledger: per-month counters that actors add to, preallocated, turned into a table once.

Row ``m`` describes month ``m``: stocks (``active_accounts``, ``mrr``) as billed in month ``m``,
flows (``new_*``, ``churned_*``, ``expansion_mrr``, ``contraction_mrr``) as the change from month
``m - 1`` to month ``m``. Month 0 is the opening book: its flows are zero, so that
``mrr(m) = mrr(m-1) + new_mrr(m) + expansion_mrr(m) - contraction_mrr(m) - churned_mrr(m)``
holds for every month with ``mrr(-1)`` read as the opening MRR.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["MONTHLY_COLUMNS", "Ledger"]

#: The contract's monthly columns (besides scenario, replication, month), in order.
MONTHLY_COLUMNS = (
    "active_accounts",
    "new_accounts",
    "churned_accounts",
    "revenue",
    "mrr",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "arpa",
    "mean_satisfaction",
    "cs_cost",
    "offer_cost",
)

_INTEGER_COLUMNS = {"active_accounts", "new_accounts", "churned_accounts"}


class Ledger:
    """Monthly counters for one replication: ``ledger.add("new_accounts", month, k)``."""

    def __init__(self, horizon_months: int) -> None:
        self.horizon = horizon_months
        self._cols: dict[str, NDArray] = {}
        for name in MONTHLY_COLUMNS:
            self.declare(name, integer=name in _INTEGER_COLUMNS)

    def declare(self, name: str, integer: bool = False) -> None:
        """Declare a column (a mechanism's own monthly figure); declaring twice is harmless."""
        if name not in self._cols:
            self._cols[name] = np.zeros(self.horizon, dtype=np.int64 if integer else np.float64)

    def add(self, name: str, month: int, value: float) -> None:
        self._cols[name][month] += value

    def set(self, name: str, month: int, value: float) -> None:
        self._cols[name][month] = value

    def __getitem__(self, name: str) -> NDArray:
        return self._cols[name]

    @property
    def columns(self) -> list[str]:
        return list(self._cols)
