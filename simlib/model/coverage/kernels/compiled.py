"""Coverage's compiled loops (numba, compiled once and cached on disk), imported by
:mod:`~simlib.model.coverage.kernels.numba_backend` only, so that numba loads only when a run
uses them. Each does the float operations of its numpy twin in
:mod:`~simlib.model.coverage.kernels.numpy_backend`, in the same order where the order matters."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

jit: Any = numba.njit(cache=True, nogil=True)


@jit
def touch(satisfaction, touches_quarter, row, effect, diminishing):
    """One touch of base ``effect`` (see numpy_backend.apply_touch)."""
    k = touches_quarter[row]
    eff = effect / (1.0 + diminishing * np.float64(k))
    s = satisfaction[row]
    v = s + eff * (1.0 - s)
    cap = 1 - 1e-6
    satisfaction[row] = v if v < cap else cap
    touches_quarter[row] = k + 1


@jit
def week_plan(
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
):
    """The week's scheduled touches (hours on the exact grid; see numpy_backend.week_plan).
    A touch's cadence, hours and effect are its tier's (``p_tier``: 0 high, 1 low).

    Each CSM's budget is ``weekly`` less its ``reactive`` hours (then cleared).
    Returns (0: nothing due, 1: all skipped, 2: worked; touches skipped, done, hours).
    """
    # each CSM's budget: the week's hours less its reactive hours (cleared for the next week)
    bound = np.empty(reactive.size)
    for j in range(reactive.size):
        bound[j] = (weekly - reactive[j]) + 1e-9
        reactive[j] = 0.0
    n = p_next.size
    pick = np.empty(n, dtype=np.int64)
    m = 0
    first = np.inf
    for i in range(n):
        w = p_next[i]
        if w < week_end:
            pick[m] = i
            m += 1
            if w < first:
                first = w
    if m == 0:
        return 0, 0, 0, 0.0
    skipped = 0
    if first + min_cadence < now:  # some may be overdue by more than a cadence
        keep = 0
        for t in range(m):
            i = pick[t]
            w = p_next[i]
            c = cadence[p_tier[i]]
            if w + c < now:
                moved = w + c * np.ceil((now - w) / c)
                p_next[i] = moved
                next_touch[p_rows[i]] = moved
                skipped += 1
            else:
                pick[keep] = i
                keep += 1
        m = keep
    if m == 0:  # every touch due was skipped
        return 1, skipped, 0, 0.0
    csms = bound.size
    load = np.zeros(csms)
    for t in range(m):
        i = pick[t]
        load[p_csm[i]] += cost[p_tier[i]]
    fits = np.ones(m, dtype=np.bool_)
    over = np.zeros(csms, dtype=np.bool_)
    any_over = False
    for j in range(csms):
        if not load[j] <= bound[j]:
            over[j] = True
            any_over = True
    if any_over:
        # each CSM over budget does its touches by due time (then position) while they fit:
        # their touches sorted by due time (stable, so ties keep position order), then dealt
        # to their CSMs in that order, each CSM summing its own
        q = 0
        for t in range(m):
            if over[p_csm[pick[t]]]:
                q += 1
        sel = np.empty(q, dtype=np.int64)
        whens = np.empty(q)
        q = 0
        for t in range(m):
            i = pick[t]
            if over[p_csm[i]]:
                sel[q] = t
                whens[q] = p_next[i]
                q += 1
        total = np.zeros(csms)
        for u in np.argsort(whens, kind="mergesort"):
            t = sel[u]
            i = pick[t]
            j = p_csm[i]
            total[j] += cost[p_tier[i]]
            fits[t] = total[j] <= bound[j]
    done = 0
    hours = 0.0
    for t in range(m):
        if not fits[t]:
            continue
        i = pick[t]
        row = p_rows[i]
        touch(satisfaction, touches_quarter, row, effect[p_tier[i]], diminishing)
        touches[row] += 1
        later = p_next[i] + cadence[p_tier[i]]
        p_next[i] = later
        next_touch[row] = later
        hours += cost[p_tier[i]]
        done += 1
    return 2, skipped, done, hours


@jit
def _before(free, rank, a, b):
    return free[a] < free[b] or (free[a] == free[b] and rank[a] < rank[b])


@jit
def _swap(free, rank, who, a, b):
    free[a], free[b] = free[b], free[a]
    rank[a], rank[b] = rank[b], rank[a]
    who[a], who[b] = who[b], who[a]


@jit
def _heap_down(free, rank, who, n, pos):
    while True:
        child = 2 * pos + 1
        if child >= n:
            return
        if child + 1 < n and _before(free, rank, child + 1, child):
            child += 1
        if not _before(free, rank, child, pos):
            return
        _swap(free, rank, who, pos, child)
        pos = child


@jit
def _heap_up(free, rank, who, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if not _before(free, rank, pos, parent):
            return
        _swap(free, rank, who, pos, parent)
        pos = parent


@jit
def fcfs_assign(free, rank, who, n, idle, n_idle, now, arrival, dur, pushed, start, end, pop, csm):
    """FcfsDispatcher.assign: give the month's alerts (by arrival) to the CSMs, first come first
    served. ``free, rank, who`` (the first ``n``) are the heap of busy CSMs by (free time,
    order); ``idle`` (the first ``n_idle``) the idle CSMs in the order they freed. CSMs free
    before now go idle; those freeing at this instant take a job first, then the idle ones in
    turn, then each job the CSM that frees first. Returns the new ``n``, ``n_idle`` and order
    counter."""
    while n > 0 and free[0] < now:  # freed before now, found nothing more to take
        idle[n_idle] = who[0]
        n_idle += 1
        n -= 1
        free[0], rank[0], who[0] = free[n], rank[n], who[n]
        _heap_down(free, rank, who, n, 0)
    k = 0
    jobs = arrival.size
    used = 0
    while k < jobs:
        a = arrival[k]
        if n > 0 and free[0] <= now:  # a job ends at this very instant: that CSM first
            e = free[0]
            s = e if a <= e else e + (a - e)
            j = who[0]
            free[0], rank[0] = s + dur, pushed
            _heap_down(free, rank, who, n, 0)
        elif used < n_idle:  # then the idle CSMs, in the order they freed
            e = now
            s = now if a <= now else now + (a - now)
            j = idle[used]
            used += 1
            free[n], rank[n], who[n] = s + dur, pushed, j
            n += 1
            _heap_up(free, rank, who, n - 1)
        elif n > 0:  # then the CSM that frees first
            e = free[0]
            s = e if a <= e else e + (a - e)
            j = who[0]
            free[0], rank[0] = s + dur, pushed
            _heap_down(free, rank, who, n, 0)
        else:  # no CSM at all
            break
        start[k] = s
        end[k] = s + dur
        pop[k] = e
        csm[k] = j
        pushed += 1
        k += 1
    idle[: n_idle - used] = idle[used:n_idle].copy()
    return n, n_idle - used, pushed


@jit
def work(
    i,
    stop,
    start,
    end,
    h,
    csm,
    rows,
    last,
    reactive,
    worked,
    served,
    alive,
    served_month,
    out,
):
    """Work jobs ``i:stop`` (ends ascending): each CSM's reactive hours, hours booked by
    month (a job spanning months split in proportion, as numpy_backend.book_hours_many), alerts
    served by month; the alive accounts served go to ``out``. Returns how many."""
    for x in range(i, stop):
        reactive[csm[x]] += h
    for x in range(i, stop):
        s, e = start[x], end[x]
        first = int(s)
        if e <= s or first == int(e) or first >= last:
            worked[min(first, last)] += h
            continue
        t = s
        while t < e and int(t) <= last:
            cut = min(e, int(t) + 1.0)
            worked[int(t)] += h * (cut - t) / (e - s)
            t = cut
    q = 0
    for x in range(i, stop):
        m = min(int(end[x]), last)
        served[m] += 1
        r = rows[x]
        if alive[r]:
            if m > served_month[r]:
                served_month[r] = m
            out[q] = r
            q += 1
    return q


@jit
def flush(rows, alive, satisfaction, touches_quarter, touches, effect, diminishing):
    """One touch of ``effect`` for each alive account among ``rows`` (once each)."""
    for r in np.unique(rows):
        if alive[r]:
            touch(satisfaction, touches_quarter, r, effect, diminishing)
            touches[r] += 1


@jit
def tech_month(
    alive,
    tier,
    tech_code,
    next_touch,
    limit,
    cadence,
    campaigns,
    satisfaction,
    touches_quarter,
    tech_touches,
    effect,
    diminishing,
):
    """Count the alive tech-touch accounts and, with ``campaigns``, give those due before
    ``limit`` a campaign touch (see numpy_backend.tech_month). Returns both counts."""
    alive_count = 0
    done = 0
    for r in range(alive.size):
        if alive[r] and tier[r] == tech_code:
            alive_count += 1
            if campaigns and next_touch[r] < limit:
                touch(satisfaction, touches_quarter, r, effect, diminishing)
                tech_touches[r] += 1
                next_touch[r] += cadence
                done += 1
    return alive_count, done


m1 = np.uint64(0xBF58476D1CE4E5B9)
m2 = np.uint64(0x94D049BB133111EB)
s30, s27, s31, s11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
two_m53 = 2.0**-53
root2 = np.sqrt(2.0)
# Phi on a grid of sixteenths from -8.5 to 5.5, each raised a little (so it bounds the
# erfc value at any y below it, rounding included)
phi_grid = (
    np.array([0.5 * math.erfc(-(-8.5 + i / 16.0) / math.sqrt(2.0)) for i in range(226)])
    * (1.0 + 1e-9)
    + 1e-300
)


@jit
def keyed_uniform(key, k1, k2):
    """rng.keyed_uniform for one account key (``k2``: the stream's second word plus slot x
    golden ratio, as uint64)."""
    z = key ^ k1
    z ^= z >> s30
    z *= m1
    z ^= z >> s27
    z *= m2
    z ^= z >> s31
    z += k2
    z ^= z >> s30
    z *= m1
    z ^= z >> s27
    z *= m2
    z ^= z >> s31
    z >>= s11
    u = np.float64(z)
    u += 0.5
    u *= two_m53
    return u


@jit
def set_tiers(
    rows, tiers, month, tier, initial_tier, tier_changes, next_touch, keys, k1, k2, cadence, none
):
    """numpy_backend.set_tiers: new tiers for ``rows``; an account entering a tier gets its
    first touch at a keyed uniform point of one cadence (``cadence`` by tier code, months;
    0: never)."""
    for x in range(rows.size):
        r = rows[x]
        t = tiers[x]
        changed = tier[r] != t
        if initial_tier[r] < 0:
            initial_tier[r] = t
        elif changed:
            tier_changes[r] += 1
        tier[r] = t
        if t == none:
            next_touch[r] = np.inf
        elif changed:
            c = cadence[t]
            next_touch[r] = month + keyed_uniform(keys[r], k1, k2) * c if c > 0 else np.inf


@jit
def place_in_books(rows, tiers, high, low, csms, room_high, room_low, csm):
    """numpy_backend.place_in_books when no tier overflows its room: the high- and low-touch
    accounts dealt round the CSMs in row order (into ``csm``). Returns whether none
    overflowed (else nothing is written) and the booked rows."""
    n_high = 0
    n_low = 0
    for x in range(rows.size):
        n_high += tiers[x] == high
        n_low += tiers[x] == low
    booked = np.empty(n_high + n_low, dtype=np.int64)
    if n_high > room_high or n_low > room_low:
        return False, booked[:0]
    q = 0
    n_high = 0
    n_low = 0
    for x in range(rows.size):
        t = tiers[x]
        if t == high:
            csm[rows[x]] = n_high % csms
            n_high += 1
        elif t == low:
            csm[rows[x]] = n_low % csms
            n_low += 1
        else:
            csm[rows[x]] = -1
            continue
        booked[q] = rows[x]
        q += 1
    return True, booked


@jit
def alert_screen(
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
    k1,
    k2,
    threshold,
    noise,
    margin,
    out_rows,
    out_health,
    out_u,
):
    """The alive accounts of an alerting tier among ``rows``, out of their alert cool-down,
    whose noisy health could fall below the threshold: their health before noise and their
    keyed uniform (the same bits as rng.keyed_uniform, with ``k2`` the stream's second word
    plus slot x golden ratio). Phi is taken from erfc with a margin far above the two
    functions' rounding; outside [-8.4, 5] the answer needs no Phi (no uniform inverts below
    -8.3). Returns how many."""
    q = 0
    for r in rows:
        if not alive[r] or not alerting_tier[tier[r]] or month - last_alert[r] < cooldown:
            continue
        h = satisfaction[r] - signal * (1.0 if champion_lost[r] else 0.0)
        y = (threshold - h) / noise + margin
        if y < -8.4:
            continue
        u = keyed_uniform(keys[r], k1, k2)
        if y <= 5.0:
            # Phi rises, so Phi at the next grid point above y bounds it: most rows are
            # ruled out by that look-up, the rest by Phi itself
            if not u < phi_grid[int((y + 8.5) * 16.0) + 1]:
                continue
            if not u < 0.5 * math.erfc(-y / root2):
                continue
        out_rows[q] = r
        out_health[q] = h
        out_u[q] = u
        q += 1
    return q


@jit
def _kth_in_bin(score, bits, base, shift, cut, r):
    """The r-th highest score of histogram bin ``cut``, and whether the next one differs."""
    q = 0
    for i in range(score.size):
        if np.int64((bits[i] >> shift) - base) == cut:
            q += 1
    inside = np.empty(q)
    q = 0
    for i in range(score.size):
        if np.int64((bits[i] >> shift) - base) == cut:
            inside[q] = score[i]
            q += 1
    inside = np.sort(inside)[::-1]  # highest first
    kth = inside[r - 1]
    return kth, not (r < inside.size and inside[r] == kth)


@jit
def tiers_by_rank(score, k, k_high, tech, low, high, out):
    """numpy_backend.tiers_by_shares: the top ``k`` scores ``low``, the top ``k_high`` of them
    ``high``, the rest ``tech`` (into ``out``), when both sets are unambiguous (no tie across
    either cut; 0 <= k_high <= k < size; every score finite and >= 0). Returns whether it did.

    A radix select: non-negative floats order as their bit patterns, so a histogram of the top
    16 bits (exponent and 4 mantissa bits: 1/16-octave bins) finds the bins of the cuts; only
    those bins are sorted. A set of the k highest without ties is one set, so these are the
    sets np.argpartition gives."""
    n = score.size
    if not (0 <= k_high <= k < n and k > 0):
        return False
    bits = score.view(np.uint64)
    lo = np.uint64(0xFFFFFFFFFFFFFFFF)
    hi = np.uint64(0)
    for i in range(n):
        if not (score[i] >= 0.0 and score[i] < np.inf):
            return False
        lo = min(lo, bits[i])
        hi = max(hi, bits[i])
    shift = np.uint64(48)
    base = lo >> shift
    counts = np.zeros(np.int64((hi >> shift) - base) + 1, dtype=np.int64)
    for i in range(n):
        counts[np.int64((bits[i] >> shift) - base)] += 1
    cuts = np.empty(2)
    for c, want in enumerate((k, k_high)):
        if want == 0:
            cuts[c] = np.inf
            continue
        above = 0
        cut = counts.size - 1
        while above + counts[cut] < want:
            above += counts[cut]
            cut -= 1
        kth, unique = _kth_in_bin(score, bits, base, shift, cut, want - above)
        if not unique:
            return False
        cuts[c] = kth
    for i in range(n):
        v = score[i]
        out[i] = high if v >= cuts[1] else (low if v >= cuts[0] else tech)
    return True


@jit
def ltv_potential(rows, segment, contract, size, tp12, years_by, annual, margin):
    """numpy_backend.ltv_potential for ``rows``: 12 x top price x size x gross margin x expected
    years, in that order of multiplication (as the numpy code)."""
    n_seg = tp12.size
    out = np.empty(rows.size)
    for x in range(rows.size):
        r = rows[x]
        seg = segment[r]
        v = tp12[seg]
        v *= size[r]
        v *= margin
        v *= years_by[seg + (n_seg if contract[r] == annual else 0)]
        out[x] = v
    return out


@jit
def saves(leaving, month, served_month, window, keys, k1, k2, probability):
    """numpy_backend.saves: the leaving accounts served within ``window`` months that stay, by
    a keyed uniform below ``probability``. Returns (saved rows, how many were recent)."""
    out = np.empty(leaving.size, dtype=leaving.dtype)
    q = 0
    for r in leaving:
        if month - served_month[r] < window and keyed_uniform(keys[r], k1, k2) < probability:
            out[q] = r
            q += 1
    return out[:q]
