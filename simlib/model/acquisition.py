"""Paid acquisition: new accounts arrive at the start of each month from ``start_month`` on.

The count in month ``m`` is Poisson(mean) by inversion of one uniform of the ``acquisition``
stream for that month (so scenarios with the same seed share the luck of each month, and a higher
mean never gives fewer accounts), or exactly round(mean) with ``process: fixed``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import pdtr, pdtrik

from ..engine import Actor, register_actor
from ..scenario import Scenario
from .population import create_accounts

__all__ = ["AcquisitionActor", "poisson_ppf"]


def poisson_ppf(u: float, mean: float) -> int:
    """The smallest k with P(Poisson(mean) <= k) >= u, for 0 < u < 1 and mean > 0.

    The arithmetic of ``scipy.stats.poisson.ppf`` (same result), without its per-call overhead.
    """
    k = float(np.ceil(pdtrik(u, mean)))
    below = max(k - 1.0, 0.0)
    return int(below if pdtr(below, mean) >= u else k)


@register_actor
class AcquisitionActor(Actor):
    name: ClassVar[str] = "acquisition"
    order: ClassVar[int] = 20

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.acquisition.new_accounts_per_month > 0

    def count(self, month: int) -> int:
        cfg = self.sim.scenario.acquisition
        if cfg.process == "fixed":
            return round(cfg.new_accounts_per_month)
        u = self.sim.streams.generator("acquisition", month).random()
        return poisson_ppf(u, cfg.new_accounts_per_month)

    def open_month(self, month: int) -> None:
        if month < self.sim.scenario.acquisition.start_month:
            return
        k = self.count(month)
        rows = create_accounts(self.sim, month, np.arange(k, dtype=np.int64))
        self.sim.ledger.add("new_accounts", month, k)
        self.sim.ledger.add("new_mrr", month, float(self.sim.book.mrr[rows].sum()))
