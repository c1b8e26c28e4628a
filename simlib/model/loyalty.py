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

from collections.abc import Callable
from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import NDArray

from ..engine import Actor, Simulation, register_actor
from ..rng import REFERRAL_OFFSET, compiled
from ..scenario import Scenario
from .population import create_accounts

__all__ = ["FAN", "NEW", "PROMOTER", "REPEATER", "STAGE_NAMES", "LoyaltyActor"]

NEW, REPEATER, PROMOTER, FAN = 0, 1, 2, 3
STAGE_NAMES = ("new", "repeater", "promoter", "fan")


def stages_numpy(
    rows: NDArray[np.intp],
    sat: NDArray[np.float64],
    start: NDArray[np.int32],
    p_streak: NDArray[np.int32],
    f_streak: NDArray[np.int32],
    stage_col: NDArray[np.int8],
    month: int,
    p_min: float,
    f_min: float,
    repeater: int,
    p_months: int,
    p_tenure: int,
    f_months: int,
    f_tenure: int,
) -> tuple[int, int]:
    """Streaks and stages of ``rows`` at the end of ``month``, written into the columns;
    returns (promoters, fans). The reference of the compiled loop (:func:`_build_stage_loop`)."""
    s = sat[rows]
    tenure = month - start[rows] + 1
    p = np.where(s >= p_min, p_streak[rows] + 1, 0)
    f = np.where(s >= f_min, f_streak[rows] + 1, 0)
    p_streak[rows] = p
    f_streak[rows] = f
    stage = np.where(tenure >= repeater, REPEATER, NEW)
    stage = np.where((p >= p_months) & (tenure >= p_tenure), PROMOTER, stage)
    stage = np.where((f >= f_months) & (tenure >= f_tenure), FAN, stage).astype(np.int8)
    stage_col[rows] = stage
    return int(np.count_nonzero(stage == PROMOTER)), int(np.count_nonzero(stage == FAN))


def _build_stage_loop() -> Callable[..., Any]:
    import numba

    @numba.njit(cache=True, nogil=True)
    def stage_loop(
        rows, sat, start, p_streak, f_streak, stage_col, month, p_min, f_min, repeater,
        p_months, p_tenure, f_months, f_tenure,
    ):  # fmt: skip
        promoters = fans = 0
        for i in range(rows.size):
            r = rows[i]
            tenure = month - start[r] + 1
            p = p_streak[r] + 1 if sat[r] >= p_min else 0
            f = f_streak[r] + 1 if sat[r] >= f_min else 0
            p_streak[r] = p
            f_streak[r] = f
            stage = REPEATER if tenure >= repeater else NEW
            if p >= p_months and tenure >= p_tenure:
                stage = PROMOTER
            if f >= f_months and tenure >= f_tenure:
                stage = FAN
            stage_col[r] = stage
            promoters += stage == PROMOTER
            fans += stage == FAN
        return promoters, fans

    return cast("Callable[..., Any]", stage_loop)


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
        args = (
            book.satisfaction,
            book.start_month,
            book.promoter_streak,
            book.fan_streak,
            book.loyalty_stage,
            int(month),
            float(cfg.promoter.min_satisfaction),
            float(cfg.fan.min_satisfaction),
            int(cfg.repeater_tenure_months),
            int(cfg.promoter.months),
            int(cfg.promoter.min_tenure_months),
            int(cfg.fan.months),
            int(cfg.fan.min_tenure_months),
        )
        loop = compiled(_build_stage_loop)
        promoters, fans = (stages_numpy if loop is None else loop)(rows, *args)
        sim.ledger.set("promoters", month, int(promoters))
        sim.ledger.set("fans", month, int(fans))
        return rows

    def close_month(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.loyalty
        rows = self._count_stages(month)
        if rows.size == 0 or month + 1 >= sim.horizon:
            return
        stage = book.loyalty_stage[rows]
        staged = stage >= PROMOTER  # promoters and fans (new accounts and repeaters never refer)
        rows_may, stage = rows[staged], stage[staged]
        rate = np.where(stage == FAN, cfg.fan.referral_rate, cfg.promoter.referral_rate)
        may = rate > 0  # a keyed uniform is never below 0: only these can refer
        rows_may, rate = rows_may[may], rate[may]
        u = sim.streams.uniform("referral", book.key[rows_may], month)
        referrers = rows_may[u < rate]
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
