"""Coverage's kernels compiled with numba (the loops are in
:mod:`~simlib.model.coverage.kernels.compiled`), with the names and signatures of
:mod:`~simlib.model.coverage.kernels.numpy_backend` and its numbers, bit for bit.

Importing this module imports numba; :func:`simlib.model.coverage.kernels.get_kernels` does so
only when the compiled loops are wanted. Where a loop covers part of the cases, the function
here hands the rest to the numpy backend: tiers by shares when a tie falls across a cut (the
pick among equals is argpartition's own), CSM books when a tier overflows its room, the alert
screen without health noise, the weekly plan with hours off the exact grid (numpy's sums are
pairwise) or an empty or huge book.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ....rng import slot_word
from ....tiers import HIGH, LOW, NONE, TECH
from . import compiled
from . import numpy_backend as reference
from .compiled import flush, ltv_potential, work

__all__ = [
    "CompiledFcfsDispatcher",
    "alert_screen",
    "fcfs_dispatcher",
    "flush",
    "ltv_potential",
    "place_in_books",
    "saves",
    "set_tiers",
    "tech_month",
    "tiers_by_priority",
    "tiers_by_shares",
    "week_plan",
    "work",
]


def tiers_by_shares(
    score: NDArray[np.float64], n_high: int, n_low: int, tiers: NDArray[np.int8]
) -> None:
    """:func:`numpy_backend.tiers_by_shares` from one pass, when no tie falls across a cut."""
    if score.dtype == np.float64 and compiled.tiers_by_rank(
        score, n_high + n_low, n_high, TECH, LOW, HIGH, tiers
    ):
        return
    reference.tiers_by_shares(score, n_high, n_low, tiers)


def tiers_by_priority(
    score: NDArray[np.float64],
    health: NDArray[np.float64],
    n_high: int,
    n_low: int,
    tiers: NDArray[np.int8],
) -> None:
    """:func:`numpy_backend.tiers_by_priority` from one pass when no tie falls across a cut
    (then health never decides, and the sets are those of the scores alone)."""
    if score.dtype == np.float64 and compiled.tiers_by_rank(
        score, n_high + n_low, n_high, TECH, LOW, HIGH, tiers
    ):
        return
    reference.tiers_by_priority(score, health, n_high, n_low, tiers)


def place_in_books(
    rows: NDArray[np.intp],
    tiers: NDArray[np.int8],
    mrr: NDArray[np.float64],
    csm: NDArray[np.int32],
    count: int,
    room_high: int,
    room_low: int,
) -> tuple[NDArray[np.int8], NDArray[np.intp]]:
    """:func:`numpy_backend.place_in_books`, compiled when no tier overflows its room."""
    if count > 0:
        fits, booked = compiled.place_in_books(
            rows, tiers, HIGH, LOW, count, room_high, room_low, csm
        )
        if fits:
            return tiers, booked
    return reference.place_in_books(rows, tiers, mrr, csm, count, room_high, room_low)


def set_tiers(
    rows: NDArray[np.intp],
    tiers: NDArray[np.int8],
    month: int,
    tier: NDArray[np.int8],
    initial_tier: NDArray[np.int8],
    tier_changes: NDArray[np.int16],
    next_touch: NDArray[np.float64],
    keys: NDArray[np.uint64],
    stream_key: tuple[int, int],
    cadence: NDArray[np.float64],
) -> None:
    """:func:`numpy_backend.set_tiers`, compiled."""
    compiled.set_tiers(
        rows,
        tiers,
        month,
        tier,
        initial_tier,
        tier_changes,
        next_touch,
        keys,
        np.uint64(stream_key[0]),
        slot_word(stream_key[1], month),
        cadence,
        NONE,
    )


def tech_month(
    alive: NDArray[np.bool_],
    tier: NDArray[np.int8],
    next_touch: NDArray[np.float64],
    limit: float,
    cadence: float,
    campaigns: bool,
    satisfaction: NDArray[np.float64],
    touches_quarter: NDArray[np.int16],
    tech_touches: NDArray[np.int32],
    effect: float,
    diminishing: float,
) -> tuple[int, int]:
    """:func:`numpy_backend.tech_month`, compiled."""
    count, done = compiled.tech_month(
        alive,
        tier,
        TECH,
        next_touch,
        limit,
        cadence,
        campaigns,
        satisfaction,
        touches_quarter,
        tech_touches,
        effect,
        diminishing,
    )
    return int(count), int(done)


def alert_screen(
    rows: NDArray[np.intp],
    alive: NDArray[np.bool_],
    tier: NDArray[np.int8],
    alerting_tier: NDArray[np.bool_],
    last_alert: NDArray[np.int32],
    month: int,
    cooldown: int,
    satisfaction: NDArray[np.float64],
    champion_lost: NDArray[np.bool_],
    signal: float,
    keys: NDArray[np.uint64],
    stream_key: tuple[int, int],
    threshold: float,
    noise: float,
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64] | None]:
    """:func:`numpy_backend.alert_screen`, compiled when there is health noise."""
    if noise <= 0:
        return reference.alert_screen(
            rows,
            alive,
            tier,
            alerting_tier,
            last_alert,
            month,
            cooldown,
            satisfaction,
            champion_lost,
            signal,
            keys,
            stream_key,
            threshold,
            noise,
        )
    out_rows = np.empty(rows.size, dtype=np.intp)
    out_health, out_u = np.empty(rows.size), np.empty(rows.size)
    q = compiled.alert_screen(
        rows,
        alive,
        tier,
        alerting_tier,
        last_alert,
        month,
        cooldown,
        satisfaction,
        champion_lost,
        signal,
        keys,
        np.uint64(stream_key[0]),
        slot_word(stream_key[1], month),
        threshold,
        noise,
        1e-6 + 1e-12 / noise,
        out_rows,
        out_health,
        out_u,
    )
    return out_rows[:q], out_health[:q], out_u[:q]


def saves(
    leaving: NDArray[np.intp],
    month: int,
    served_month: NDArray[np.int32],
    window: int,
    keys: NDArray[np.uint64],
    stream_key: tuple[int, int],
    probability: float,
) -> NDArray[np.intp]:
    """:func:`numpy_backend.saves`, compiled."""
    return compiled.saves(
        leaving,
        month,
        served_month,
        window,
        keys,
        np.uint64(stream_key[0]),
        slot_word(stream_key[1], month),
        probability,
    )


class CompiledFcfsDispatcher:
    """:class:`numpy_backend.FcfsDispatcher` on arrays: the heap of busy CSMs by (free time,
    order) in the first ``heap_n`` places of ``free, rank, who``; the idle CSMs, in the order
    they freed, in the first ``idle_n`` of ``idle`` (at time 0 every CSM, in order)."""

    def __init__(self, count: int) -> None:
        self.free = np.empty(count)
        self.rank = np.empty(count, dtype=np.int64)
        self.who = np.empty(count, dtype=np.int64)
        self.heap_n = 0
        self.idle = np.arange(count, dtype=np.int64)
        self.idle_n = count
        self.pushed = 0

    def assign(
        self,
        now: float,
        arrival: NDArray[np.float64],
        dur: float,
        start: NDArray[np.float64],
        end: NDArray[np.float64],
        pop: NDArray[np.float64],
        csm: NDArray[np.intp],
    ) -> None:
        """:meth:`numpy_backend.FcfsDispatcher.assign`, in one compiled call."""
        self.heap_n, self.idle_n, self.pushed = compiled.fcfs_assign(
            self.free,
            self.rank,
            self.who,
            self.heap_n,
            self.idle,
            self.idle_n,
            now,
            arrival,
            dur,
            self.pushed,
            start,
            end,
            pop,
            csm,
        )


def fcfs_dispatcher(count: int) -> CompiledFcfsDispatcher:
    """The first-come-first-served dispatcher of a team of ``count`` CSMs, compiled."""
    return CompiledFcfsDispatcher(count)


def week_plan(
    p_rows: NDArray[np.intp],
    p_next: NDArray[np.float64],
    p_tier: NDArray[np.int8],
    cadence: NDArray[np.float64],
    cost: NDArray[np.float64],
    effect: NDArray[np.float64],
    p_csm: NDArray[np.int32],
    min_cadence: float,
    now: float,
    week_end: float,
    weekly: float,
    reactive: NDArray[np.float64],
    satisfaction: NDArray[np.float64],
    touches_quarter: NDArray[np.int16],
    touches: NDArray[np.int32],
    next_touch: NDArray[np.float64],
    diminishing: float,
    exact_hours: bool,
) -> tuple[int, int, int, float]:
    """:func:`numpy_backend.week_plan`, compiled when the hours are on the exact grid."""
    args: tuple[Any, ...] = (
        p_rows,
        p_next,
        p_tier,
        cadence,
        cost,
        effect,
        p_csm,
        min_cadence,
        now,
        week_end,
        weekly,
        reactive,
        satisfaction,
        touches_quarter,
        touches,
        next_touch,
        diminishing,
    )
    if not exact_hours or not 0 < p_next.size < 2**21:
        return reference.week_plan(*args, exact_hours)  # type: ignore[call-arg]
    return compiled.week_plan(*args)
