"""Coverage's kernels in numpy: the reference backend (see :mod:`simlib.model.coverage.kernels`).

Every function here has a compiled twin of the same name and signature in
:mod:`~simlib.model.coverage.kernels.numba_backend` that gives the same numbers, bit for bit.
Arrays passed in are the account book's columns (or the CSM team's own arrays) and are written
in place where the docstring says so.
"""

from __future__ import annotations

import functools
import heapq
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from ....rng import keyed_uniform
from ....tiers import HIGH, LOW, NONE, TECH

__all__ = [
    "FcfsDispatcher",
    "alert_screen",
    "apply_touch",
    "book_hours_many",
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

_TABLE = 256  # touches in a quarter the effect table holds


# -- touches -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _effects(effect: float, diminishing: float) -> NDArray[np.floating[Any]]:
    """``effect / (1 + diminishing x k)`` for k = 0, 1, ... (the same arithmetic as a row's)."""
    return effect / (1.0 + diminishing * np.arange(_TABLE, dtype=np.int16))


def apply_touch(
    satisfaction: NDArray[np.float64],
    touches_quarter: NDArray[np.int16],
    rows: NDArray[np.intp],
    effect: float | NDArray[np.float64],
    diminishing: float,
) -> None:
    """One touch of base ``effect`` (one for all, or one a row) to ``rows`` (distinct), with
    diminishing returns per quarter: ``s <- s + effect / (1 + diminishing x k) x (1 - s)``."""
    if rows.size == 0:
        return
    k = touches_quarter[rows]
    eff: NDArray[Any]
    if isinstance(effect, float) and k.max() < _TABLE:  # the k-th touch's effect looked up
        eff = _effects(effect, diminishing)[k]
    else:
        eff = effect / (1.0 + diminishing * k)
    s = satisfaction[rows]
    satisfaction[rows] = np.minimum(s + eff * (1.0 - s), 1 - 1e-6)
    touches_quarter[rows] = k + 1


# -- policies ------------------------------------------------------------------------------------
def _top(score: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """Indices of the ``k`` highest scores, in no particular order (deterministic selection)."""
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k >= score.size:
        return np.arange(score.size)
    return np.argpartition(-score, k - 1)[:k]


def tiers_by_shares(
    score: NDArray[np.float64], n_high: int, n_low: int, tiers: NDArray[np.int8]
) -> None:
    """Into ``tiers`` (tech touch on entry): the ``n_high + n_low`` highest scores low touch,
    the ``n_high`` highest of them high touch."""
    top = _top(score, n_high + n_low)
    tiers[top] = LOW
    tiers[top[_top(score[top], n_high)]] = HIGH


def _top_by_priority(
    score: NDArray[np.float64], health: NDArray[np.float64], k: int
) -> NDArray[np.intp]:
    """Indices of the ``k`` first in the order (score descending, health ascending, index
    ascending), in no particular order: a total order, so the set is one set."""
    n = score.size
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k >= n:
        return np.arange(n)
    kth = np.partition(score, n - k)[n - k]  # the k-th highest score
    above = np.flatnonzero(score > kth)
    tied = np.flatnonzero(score == kth)
    need = k - above.size
    if need < tied.size:  # the cut falls among equal scores: the least healthy first
        tied = tied[np.lexsort((tied, health[tied]))[:need]]
    return np.concatenate([above, tied])


def tiers_by_priority(
    score: NDArray[np.float64],
    health: NDArray[np.float64],
    n_high: int,
    n_low: int,
    tiers: NDArray[np.int8],
) -> None:
    """Into ``tiers`` (tech touch on entry): the first ``n_high + n_low`` by priority low
    touch, the first ``n_high`` high touch. Priority: ``score`` (LTV potential) highest first,
    then ``health`` lowest first (the account at risk before the healthy one), then row."""
    tiers[_top_by_priority(score, health, n_high + n_low)] = LOW
    tiers[_top_by_priority(score, health, n_high)] = HIGH


def ltv_potential(
    rows: NDArray[np.intp],
    segment: NDArray[Any],
    contract: NDArray[Any],
    size: NDArray[Any],
    tp12: NDArray[np.float64],
    years_by: NDArray[np.float64],
    annual: int,
    margin: float,
) -> NDArray[np.float64]:
    """12 x top price x size x gross margin x expected years for ``rows``, in that order of
    multiplication (``tp12`` by segment, ``years_by`` by segment, monthly then annual)."""
    seg = segment[rows]
    key = np.where(contract[rows] == annual, tp12.size, 0) + seg
    ltv = tp12[seg]  # arr_potential = 12 x top price x size
    ltv *= size[rows]
    ltv *= margin
    ltv *= years_by[key]
    return ltv


# -- tiers and books -----------------------------------------------------------------------------
def place_in_books(
    rows: NDArray[np.intp],
    tiers: NDArray[np.int8],
    mrr: NDArray[np.float64],
    csm: NDArray[np.int32],
    count: int,
    room_high: int,
    room_low: int,
) -> tuple[NDArray[np.int8], NDArray[np.intp]]:
    """Place the high- and low-touch accounts among ``rows`` in CSM books (into ``csm``), dealt
    round the ``count`` CSMs in row order; beyond a tier's room the largest MRR keep their
    place and the rest fall a tier. Returns the tiers after the fall and the booked rows."""
    tiers = tiers.copy()
    book_csm = np.full(rows.size, -1, dtype=np.int32)
    for tier, room, fallback in ((HIGH, room_high, LOW), (LOW, room_low, TECH)):
        idx = np.flatnonzero(tiers == tier)
        if idx.size > room:  # the largest accounts keep their place
            keep = np.argpartition(-mrr[rows[idx]], room - 1)[:room] if room else idx[:0]
            mask = np.zeros(idx.size, dtype=bool)
            mask[keep] = True
            placed, overflow = idx[mask], idx[~mask]
        else:
            placed, overflow = idx, idx[:0]
        book_csm[placed] = np.arange(placed.size) % max(count, 1)
        tiers[overflow] = fallback
    csm[rows] = book_csm
    return tiers, rows[book_csm >= 0]


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
    """New ``tiers`` for ``rows``: tier, first tier and tier changes kept; an account entering
    a touched tier gets its first touch at a keyed uniform point (slot ``month``) of one
    cadence (``cadence`` by tier code, months; 0: never)."""
    old = tier[rows]
    changed = old != tiers
    first = initial_tier[rows] < 0
    tier_changes[rows[changed & ~first]] += 1
    initial_tier[rows[first]] = tiers[first]
    tier[rows] = tiers
    # keyed draws for the accounts that moved only (the same numbers as drawing for all)
    moved = rows[changed]
    moved_to = tiers[changed]
    u = keyed_uniform(stream_key, keys[moved], month)
    for code in (HIGH, LOW, TECH):
        sel = moved_to == code
        c = cadence[code]
        next_touch[moved[sel]] = month + u[sel] * c if c > 0 else np.inf
    next_touch[rows[tiers == NONE]] = np.inf


# -- monthly work --------------------------------------------------------------------------------
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
    """Count the alive tech-touch accounts and, with ``campaigns``, give those due before
    ``limit`` a campaign touch (the next one a ``cadence`` later). Returns both counts."""
    tech = alive & (tier == TECH)
    done = 0
    if campaigns:
        due = tech & (next_touch < limit)
        rows = np.flatnonzero(due)
        apply_touch(satisfaction, touches_quarter, rows, effect, diminishing)
        tech_touches += due  # + 1 for the rows due (as a whole-book mask: cheaper)
        next_touch[rows] += cadence
        done = rows.size
    return int(np.count_nonzero(tech)), done


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
    """The alive accounts of an alerting tier among ``rows``, out of their cool-down, whose
    health plus noise could fall below ``threshold``: (rows, health before noise, keyed
    uniforms of slot ``month``, None without noise). The caller adds ``noise x ndtri(u)``."""
    rows = rows[alive[rows] & alerting_tier[tier[rows]]]
    rows = rows[month - last_alert[rows] >= cooldown]
    health = satisfaction[rows] - signal * champion_lost[rows]
    if noise <= 0 or rows.size == 0:
        return rows, health, (None if noise <= 0 else np.empty(0))
    # health + noise x z < threshold needs z = ndtri(u) below (threshold - health) / noise:
    # only the rows whose uniform is below Phi of that (plus a margin far above the rounding of
    # either side) can alert (the same numbers as inverting every row)
    u = keyed_uniform(stream_key, keys[rows], month)
    margin = 1e-6 + 1e-12 / noise
    could = np.flatnonzero(u < ndtr((threshold - health) / noise + margin))
    return rows[could], health[could], u[could]


def flush(
    rows: NDArray[np.intp],
    alive: NDArray[np.bool_],
    satisfaction: NDArray[np.float64],
    touches_quarter: NDArray[np.int16],
    touches: NDArray[np.int32],
    effect: float,
    diminishing: float,
) -> None:
    """One touch of ``effect`` for each alive account among ``rows`` (once each)."""
    rows = np.unique(rows)
    rows = rows[alive[rows]]
    apply_touch(satisfaction, touches_quarter, rows, effect, diminishing)
    touches[rows] += 1


def saves(
    leaving: NDArray[np.intp],
    month: int,
    served_month: NDArray[np.int32],
    window: int,
    keys: NDArray[np.uint64],
    stream_key: tuple[int, int],
    probability: float,
) -> NDArray[np.intp]:
    """The leaving accounts served within ``window`` months that stay, by a keyed uniform
    (slot ``month``) below ``probability``."""
    recent = leaving[month - served_month[leaving] < window]
    if recent.size == 0:
        return recent
    u = keyed_uniform(stream_key, keys[recent], month)
    return recent[u < probability]


# -- alerts only: first come first served --------------------------------------------------------
class FcfsDispatcher:
    """Which CSM takes each alert, and when, with one priority (first come, first served).

    The CSMs' last jobs' ends are kept in a heap of (end, order, CSM), the idle CSMs in the
    order they freed (at time 0 every CSM, in order); ``pushed`` counts the jobs given out (the
    order of their ends, as simpy's event ids)."""

    def __init__(self, count: int) -> None:
        self.tails: list[tuple[float, int, int]] = []  # (last job's end, order, CSM), busy
        self.idle: list[int] = list(range(count))
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
        """Give the jobs (by arrival, each lasting ``dur``) to the CSMs: their start, end, pop
        time (when the CSM took it) and CSM. CSMs free before now go idle; those freeing at
        this instant take a job first, then the idle ones in turn, then each job the CSM that
        frees first."""
        tails, idle = self.tails, self.idle
        while tails and tails[0][0] < now:  # freed before now, found nothing more to take
            idle.append(heapq.heappop(tails)[2])
        k = self._at_this_instant(now, arrival, dur, start, end, pop, csm)
        k = self._to_idle(k, now, arrival, dur, start, end, pop, csm)
        if self.tails and k < arrival.size:
            self.pushed, k = self.claim_blocks(arrival, k, dur, self.pushed, start, end, pop, csm)
            self._one_by_one(k, arrival, dur, start, end, pop, csm)

    def _at_this_instant(self, now: float, arrival, dur, start, end, pop, csm) -> int:
        """CSMs whose job ends at this very instant take a job first (as in the priority
        queue's claims). Returns the first job not given out."""
        tails, pushed, n, k = self.tails, self.pushed, arrival.size, 0
        while k < n and tails and tails[0][0] <= now:
            e, _, j = tails[0]
            a = float(arrival[k])
            s = e if a <= e else e + (a - e)
            heapq.heapreplace(tails, (s + dur, pushed, j))
            start[k], end[k], pop[k], csm[k] = s, s + dur, e, j
            pushed += 1
            k += 1
        self.pushed = pushed
        return k

    def _to_idle(self, k: int, now: float, arrival, dur, start, end, pop, csm) -> int:
        """Then the idle CSMs, in the order they freed, take a job each from ``k``."""
        idle, pushed = self.idle, self.pushed
        m = min(len(idle), arrival.size - k)
        if m:
            a = arrival[k : k + m]
            s = np.where(a <= now, now, now + (a - now))
            start[k : k + m], end[k : k + m], pop[k : k + m] = s, s + dur, now
            csm[k : k + m] = idle[:m]
            del idle[:m]
            self.tails.extend(
                zip(
                    end[k : k + m].tolist(),
                    range(pushed, pushed + m),
                    csm[k : k + m].tolist(),
                    strict=True,
                )
            )
            heapq.heapify(self.tails)
            self.pushed = pushed + m
        return k + m

    def _one_by_one(self, k: int, arrival, dur, start, end, pop, csm) -> None:
        """Then each job from ``k`` goes to the CSM that frees first, job by job."""
        tails, pushed = self.tails, self.pushed
        replace = heapq.heapreplace
        for i in range(k, arrival.size):
            e, _, j = tails[0]
            a = float(arrival[i])
            s = e if a <= e else e + (a - e)
            t = s + dur
            replace(tails, (t, pushed, j))
            start[i] = s
            end[i] = t
            pop[i] = e
            csm[i] = j
            pushed += 1
        self.pushed = pushed

    def claim_blocks(
        self,
        arrival: NDArray[np.float64],
        k: int,
        dur: float,
        pushed: int,
        start: NDArray[np.float64],
        end: NDArray[np.float64],
        pop: NDArray[np.float64],
        csm: NDArray[np.intp],
    ) -> tuple[int, int]:
        """Jobs ``k, k + 1, ...`` each to the CSM that frees first, a block of jobs at a time.

        The CSMs' free times sorted by (time, order) are the heap's pops in turn for as long as
        none of the jobs given out meanwhile ends before the next of them (every job lasts
        ``dur``, and a later push loses ties): that block of jobs is worked out at once. When
        blocks get short (CSMs saturated), the rest is left to the job-by-job loop. Returns the
        order counter and the first job not given out; ``self.tails`` is kept a valid heap.
        """
        n = arrival.size
        tails = self.tails
        if len(tails) < 64:  # few CSMs: blocks would be short
            return pushed, k
        free = np.array([t[0] for t in tails])
        rank = np.array([t[1] for t in tails], dtype=np.int64)
        who = np.array([t[2] for t in tails], dtype=np.intp)
        by = np.lexsort((rank, free))
        free, rank, who = free[by], rank[by], who[by]
        c = free.size
        while k < n:
            b = min(c, n - k)
            e = free[:b]
            a = arrival[k : k + b]
            s = np.where(a <= e, e, e + (a - e))
            x = s + dur
            if b > 1:  # the k-th free time pops before every end pushed so far in the block
                late = np.flatnonzero(free[1:b] > np.minimum.accumulate(x[: b - 1]))
                if late.size:
                    b = int(late[0]) + 1
            if b < 8 and k + b < n:
                break
            start[k : k + b], end[k : k + b], pop[k : k + b] = s[:b], x[:b], e[:b]
            csm[k : k + b] = who[:b]
            free = np.concatenate([free[b:], x[:b]])
            rank = np.concatenate([rank[b:], np.arange(pushed, pushed + b)])
            who = np.concatenate([who[b:], who[:b]])
            by = np.lexsort((rank, free))
            free, rank, who = free[by], rank[by], who[by]
            pushed += b
            k += b
        # a list sorted by (time, order) is a heap
        self.tails = list(zip(free.tolist(), rank.tolist(), who.tolist(), strict=True))
        return pushed, k


def fcfs_dispatcher(count: int) -> FcfsDispatcher:
    """The first-come-first-served dispatcher of a team of ``count`` CSMs."""
    return FcfsDispatcher(count)


def book_hours_many(
    worked: NDArray[np.float64],
    last: int,
    start: NDArray[np.float64],
    end: NDArray[np.float64],
    hours: NDArray[np.float64],
) -> None:
    """Book each job's ``hours`` worked evenly over [start, end) into the months it spans
    (into ``worked``, months past ``last`` into ``last``), in the jobs' order."""
    first = start.astype(np.int64)
    simple = (end <= start) | (first == end.astype(np.int64)) | (first >= last)
    month = np.minimum(first, last)
    if simple.all():
        np.add.at(worked, month, hours)
        return
    months: list[NDArray[np.int64]] = []
    values: list[NDArray[np.float64]] = []
    done = 0
    for i in np.flatnonzero(~simple).tolist():  # jobs spanning months: few
        months.append(month[done:i])
        values.append(hours[done:i])
        s, e, h = float(start[i]), float(end[i]), float(hours[i])
        t = s
        while t < e and int(t) <= last:
            stop = min(e, int(t) + 1.0)
            months.append(np.array([int(t)], dtype=np.int64))
            values.append(np.array([h * (stop - t) / (e - s)]))
            t = stop
        done = i + 1
    months.append(month[done:])
    values.append(hours[done:])
    np.add.at(worked, np.concatenate(months), np.concatenate(values))


def work(
    i: int,
    stop: int,
    start: NDArray[np.float64],
    end: NDArray[np.float64],
    h: float,
    csm: NDArray[np.intp],
    rows: NDArray[np.intp],
    last: int,
    reactive: NDArray[np.float64],
    worked: NDArray[np.float64],
    served: NDArray[Any],
    alive: NDArray[np.bool_],
    served_month: NDArray[np.int32],
    out: NDArray[np.intp],
) -> int:
    """Work jobs ``i:stop`` (ends ascending, each of ``h`` hours): each CSM's reactive hours,
    hours booked by month, alerts served by month and each alive account's last served month;
    the alive accounts served go to ``out`` (in order). Returns how many."""
    hours = np.full(stop - i, h)
    ends = end[i:stop]
    np.add.at(reactive, csm[i:stop], hours)
    book_hours_many(worked, last, start[i:stop], ends, hours)
    month = np.minimum(ends.astype(np.int64), last).astype(np.int32)
    np.add.at(served, month, 1)
    served_rows = rows[i:stop]
    keep = alive[served_rows]
    if not keep.all():
        served_rows, month = served_rows[keep], month[keep]
    # ends ascend, so each account's last served month is its largest
    np.maximum.at(served_month, served_rows, month)
    q = served_rows.size
    out[:q] = served_rows
    return q


# -- the weekly plan -----------------------------------------------------------------------------
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
    """The week's scheduled touches of the CSM books (``p_*``: the team's compact copy of them;
    a touch's cadence, hours and effect are its tier's, ``p_tier`` 0 high, 1 low). Each CSM's
    budget is ``weekly`` less its ``reactive`` hours (then cleared); touches due before
    ``week_end`` are done while they fit, by due time; a touch overdue by more than a cadence
    is skipped and rescheduled. ``exact_hours``: every sum of the touch hours is exact.

    Returns (0: nothing due, 1: all skipped, 2: worked; touches skipped, done, hours).
    """
    budget = weekly - reactive
    reactive[:] = 0.0
    pick = np.flatnonzero(p_next < week_end)  # due, in book order
    if pick.size == 0:
        return 0, 0, 0, 0.0
    pick, skipped = _skip_stale(pick, p_rows, p_next, p_tier, cadence, min_cadence, now, next_touch)
    if pick.size == 0:
        return 1, skipped, 0, 0.0
    pick, fits = _fits(pick, p_next, p_tier, cost, p_csm, budget + 1e-9, exact_hours)
    if fits is not None:
        pick = pick[fits]
    tier = p_tier[pick]
    hours = float(cost[tier].sum())  # exact on the grid of hours: the same in any order
    done = p_rows[pick]
    # high and low touches at once (disjoint rows, each with its tier's effect)
    apply_touch(satisfaction, touches_quarter, done, effect[tier], diminishing)
    touches[done] += 1
    later = p_next[pick] + cadence[tier]
    p_next[pick] = later
    next_touch[done] = later
    return 2, skipped, done.size, hours


def _skip_stale(
    pick: NDArray[np.intp],
    p_rows: NDArray[np.intp],
    p_next: NDArray[np.float64],
    p_tier: NDArray[np.int8],
    cadence: NDArray[np.float64],
    min_cadence: float,
    now: float,
    next_touch: NDArray[np.float64],
) -> tuple[NDArray[np.intp], int]:
    """Touches overdue by more than a cadence are skipped and rescheduled (float addition is
    monotone, so none is stale when the earliest plus the shortest cadence is not). Returns the
    touches kept and how many were skipped."""
    when = p_next[pick]
    if not when.min() + min_cadence < now:
        return pick, 0
    c_pick = cadence[p_tier[pick]]
    stale = when + c_pick < now
    if not stale.any():
        return pick, 0
    skipped = pick[stale]
    c = c_pick[stale]
    moved = p_next[skipped]
    moved += c * np.ceil((now - moved) / c)
    p_next[skipped] = moved
    next_touch[p_rows[skipped]] = moved
    return pick[~stale], int(stale.sum())


def _fits(
    pick: NDArray[np.intp],
    p_next: NDArray[np.float64],
    p_tier: NDArray[np.int8],
    cost: NDArray[np.float64],
    p_csm: NDArray[np.int32],
    bound: NDArray[np.float64],
    exact_hours: bool,
) -> tuple[NDArray[np.intp], NDArray[np.bool_] | None]:
    """Which due touches fit in their CSM's hours, each CSM doing its touches by due time (then
    position) while they fit. Returns the touches (in book order, or by CSM and due time when
    the hours are off the exact grid: their sum then depends on the order) and which fit
    (None: all)."""
    when, cost, csm = p_next[pick], cost[p_tier[pick]], p_csm[pick]
    if exact_hours and pick.size < 2**21:
        # every sum of these hours is exact, so a CSM whose due touches all fit does them all
        # whatever their order; only the CSMs over budget need their touches in order
        room = np.bincount(csm, weights=cost, minlength=bound.size) <= bound
        if room.all():
            return pick, None
        fits = room[csm]
        over = np.flatnonzero(~fits)
        over = over[np.lexsort((when[over], csm[over]))]
        fits[over] = _fits_in_order(cost[over], csm[over], bound)
        return pick, fits
    order = np.lexsort((when, csm))
    return pick[order], _fits_in_order(cost[order], csm[order], bound)


def _fits_in_order(
    cost: NDArray[np.float64], csm: NDArray[np.int32], bound: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Touches ordered by CSM and due time: which fit within their CSM's hours."""
    total = np.cumsum(cost)
    # each CSM's running total: the total less that of the touches before its first
    cut = np.flatnonzero(csm[1:] != csm[:-1])  # the last touch of each CSM but the last
    before = np.zeros(bound.size)
    before[csm[cut + 1]] = total[cut]
    return total - before[csm] <= bound[csm]
