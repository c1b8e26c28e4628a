"""Paid acquisition: new accounts arrive at the start of each month from ``start_month`` on.

The count in month ``m`` is Poisson(mean) by inversion of one uniform of the ``acquisition``
stream for that month (so scenarios with the same seed share the luck of each month, and a higher
mean never gives fewer accounts), or exactly round(mean) with ``process: fixed``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.stats import poisson

from ..engine import Actor, register_actor
from ..scenario import Scenario
from .population import create_accounts

__all__ = ["AcquisitionActor"]


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
        return int(poisson.ppf(u, cfg.new_accounts_per_month))

    def open_month(self, month: int) -> None:
        if month < self.sim.scenario.acquisition.start_month:
            return
        k = self.count(month)
        rows = create_accounts(self.sim, month, np.arange(k, dtype=np.int64))
        self.sim.ledger.add("new_accounts", month, k)
        self.sim.ledger.add("new_mrr", month, float(self.sim.book.mrr[rows].sum()))
