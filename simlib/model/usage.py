"""Usage of each account relative to its plan limit (1.0 = at the limit).

New accounts start at a keyed draw (stream ``usage_init``) from Beta ``segments.X.usage`` (or
``usage.initial``). Each month, for every account alive (stream ``usage``, slot = month):

    usage <- usage x exp(growth_per_month + satisfaction_effect x (satisfaction - fit)
                         - engagement_effect x (1 - engagement)
                         + volatility x N(0, 1)),   kept within [0.01, 3].

Engagement (1 = full) falls with unwanted offers and recovers month by month
(:mod:`simlib.model.engagement`); with ``usage.engagement_effect`` 0 (the default) or engagement
fatigue off, the engagement term is absent.

Offers act on usage elsewhere: an irrelevant offer cuts it (fatigue) and an upgrade divides it
by (new plan limit / old plan limit). Usage at or above ``usage.near_limit`` is a targeting
signal and a strong reason to buy; ``usage_prev`` keeps last month's value so that an offer can
be timed to the month usage first crosses that line (a usage spike).

The actor runs only when some offer kind is switched on.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..distributions import beta_ppf
from ..engine import Actor, Simulation, register_actor
from ..scenario import Scenario
from .engagement import engagement_month, ensure_columns

__all__ = ["MAX_USAGE", "MIN_USAGE", "UsageActor"]

MIN_USAGE, MAX_USAGE = 0.01, 3.0


@register_actor
class UsageActor(Actor):
    name: ClassVar[str] = "usage"
    order: ClassVar[int] = 65

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.offers.any_enabled()

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        sim.book.add_column("usage", np.float64, -1.0, report=True)
        sim.book.add_column("usage_prev", np.float64, -1.0)
        sim.ledger.declare("mean_usage")
        ensure_columns(sim)
        self._engagement = sim.scenario.offers.fatigue.engagement_drop > 0
        if self._engagement:  # only when engagement can move (absent by default)
            sim.ledger.declare("mean_engagement")
        segments = sim.scenario.segment_table()
        default = sim.scenario.usage.initial
        self._initial = [seg.usage or default for seg in segments.values()]

    def _start_new(self) -> None:
        book = self.sim.book
        rows = np.flatnonzero(book.usage < 0)
        if rows.size == 0:
            return
        u = self.sim.streams.uniform("usage_init", book.key[rows], 0)
        seg = book.segment[rows]
        out = np.empty(rows.size)
        for s, dist in enumerate(self._initial):
            sel = seg == s
            if sel.any():
                out[sel] = beta_ppf(u[sel], dist.alpha, dist.beta)
        out = np.clip(out, MIN_USAGE, MAX_USAGE)
        book.usage[rows] = out
        book.usage_prev[rows] = out

    def open_month(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.usage
        self._start_new()
        rows = book.alive_index()
        if rows.size == 0:
            return
        usage = book.usage[rows]
        book.usage_prev[rows] = usage
        step = cfg.growth_per_month + cfg.satisfaction_effect * (
            book.satisfaction[rows] - book.fit[rows]
        )
        drag = engagement_month(sim, rows)
        if drag is not None:
            step = step - drag
        if cfg.volatility > 0:
            step = step + cfg.volatility * sim.streams.normal("usage", book.key[rows], month)
        usage = np.clip(usage * np.exp(step), MIN_USAGE, MAX_USAGE)
        book.usage[rows] = usage
        sim.ledger.set("mean_usage", month, float(usage.mean()))
        if self._engagement:
            sim.ledger.set("mean_engagement", month, float(book.engagement[rows].mean()))
