"""Loyalty stages (repeater -> promoter -> fan), word-of-mouth referrals, champion referrals.

At the end of each month ``m`` (before the renewal desk decides), for every account alive:

* ``promoter_streak`` / ``fan_streak`` count the consecutive months with satisfaction at or above
  the stage's ``min_satisfaction`` (reset to 0 by a month below);
* the stage is ``fan`` (3) when the fan streak reaches ``fan.months`` and tenure
  ``m - start_month + 1`` reaches ``fan.min_tenure_months``; else ``promoter`` (2) likewise;
  else ``repeater`` (1) from ``repeater_tenure_months`` of tenure; else ``new`` (0). A stage is
  lost when its streak breaks;
* each promoter refers a new account with probability ``promoter.referral_rate``, each fan with
  ``fan.referral_rate`` (keyed stream ``referral``, slot = month);
* each account whose champion left during the month (the champion mechanism) with satisfaction
  at least ``champion_min_satisfaction`` just before the move (as the champion mechanism
  recorded it, ``champion_satisfaction_before``) brings a new account with probability
  ``champion_referral`` (stream ``champion_referral``). Every move counts, the second one before
  an annual account's renewal included: the referral follows the person who changes job, not the
  renewal at which the loss of the champion weighs on churn.

The stages and the ``promoters`` / ``fans`` counts are also taken for the last month
(:meth:`LoyaltyActor.finish`; the calendar closes no month beyond the horizon), without
referrals, which would arrive beyond it.

Referred accounts arrive at the start of month ``m + 1``, in the referrer's segment, with keys
from :data:`simlib.rng.REFERRAL_OFFSET` on (paid acquisitions keep their keys and their luck).
They count in ``new_accounts`` and ``new_mrr`` and apart in ``referrals`` (of which
``referrals_champion`` came with a moving champion). Fans accept relevant offers more readily
(``offers.intent.fan_bonus``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..engine import Actor, Simulation, register_actor
from ..rng import REFERRAL_OFFSET
from ..scenario import Scenario
from .population import create_accounts

__all__ = ["FAN", "NEW", "PROMOTER", "REPEATER", "STAGE_NAMES", "LoyaltyActor"]

NEW, REPEATER, PROMOTER, FAN = 0, 1, 2, 3
STAGE_NAMES = ("new", "repeater", "promoter", "fan")


@register_actor
class LoyaltyActor(Actor):
    name: ClassVar[str] = "loyalty"
    order: ClassVar[int] = 25  # after paid acquisition, before the renewal desk

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.loyalty.enabled

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        book, ledger = sim.book, sim.ledger
        book.add_column("loyalty_stage", np.int8, NEW, report=True)
        book.add_column("promoter_streak", np.int32, 0)
        book.add_column("fan_streak", np.int32, 0)
        book.add_column("referred", np.bool_, False, report=True)
        for name in ("referrals", "referrals_champion", "promoters", "fans"):
            ledger.declare(name, integer=True)
        self._referrers: NDArray[np.intp] = np.empty(0, dtype=np.intp)
        self._champion_count = 0

    def open_month(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        rows = self._referrers
        self._referrers = np.empty(0, dtype=np.intp)
        if rows.size == 0 or month == 0:
            return
        new = create_accounts(
            sim,
            month,
            REFERRAL_OFFSET + np.arange(rows.size, dtype=np.int64),
            segment=book.segment[rows],
        )
        book.referred[new] = True
        sim.ledger.add("new_accounts", month, rows.size)
        sim.ledger.add("new_mrr", month, float(book.mrr[new].sum()))
        sim.ledger.add("referrals", month, rows.size)
        sim.ledger.add("referrals_champion", month, self._champion_count)

    def _count_stages(self, month: int) -> NDArray[np.intp]:
        """Streaks, stages and the month's promoter and fan counts; returns the rows alive."""
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.loyalty
        rows = book.alive_index()
        if rows.size == 0:
            return rows
        s = book.satisfaction[rows]
        tenure = month - book.start_month[rows] + 1
        p_streak = np.where(s >= cfg.promoter.min_satisfaction, book.promoter_streak[rows] + 1, 0)
        f_streak = np.where(s >= cfg.fan.min_satisfaction, book.fan_streak[rows] + 1, 0)
        book.promoter_streak[rows] = p_streak
        book.fan_streak[rows] = f_streak
        stage = np.where(tenure >= cfg.repeater_tenure_months, REPEATER, NEW)
        promoter = (p_streak >= cfg.promoter.months) & (tenure >= cfg.promoter.min_tenure_months)
        fan = (f_streak >= cfg.fan.months) & (tenure >= cfg.fan.min_tenure_months)
        stage = np.where(promoter, PROMOTER, stage)
        stage = np.where(fan, FAN, stage).astype(np.int8)
        book.loyalty_stage[rows] = stage
        sim.ledger.set("promoters", month, int(np.count_nonzero(stage == PROMOTER)))
        sim.ledger.set("fans", month, int(np.count_nonzero(stage == FAN)))
        return rows

    def close_month(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.loyalty
        rows = self._count_stages(month)
        if rows.size == 0 or month + 1 >= sim.horizon:
            return
        stage = book.loyalty_stage[rows]
        rate = np.where(
            stage == FAN,
            cfg.fan.referral_rate,
            np.where(stage == PROMOTER, cfg.promoter.referral_rate, 0.0),
        )
        u = sim.streams.uniform("referral", book.key[rows], month)
        referrers = rows[u < rate]
        champions = np.empty(0, dtype=np.intp)
        if cfg.champion_referral > 0 and sim.scenario.champion.enabled:
            moved = rows[book.champion_moved_month[rows] == month]
            before = book.champion_satisfaction_before[moved]
            moved = moved[before >= cfg.champion_min_satisfaction]
            u = sim.streams.uniform("champion_referral", book.key[moved], month)
            champions = moved[u < cfg.champion_referral]
        self._referrers = np.concatenate([referrers, champions])
        self._champion_count = int(champions.size)

    def finish(self) -> None:
        """The last month's stages and counts (its end lies beyond the horizon)."""
        self._count_stages(self.sim.horizon - 1)
