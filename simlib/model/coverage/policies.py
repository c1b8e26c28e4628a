"""The built-in coverage policies, registered in :data:`simlib.tiers.COVERAGE_POLICIES`
(``none``, the default, is registered there with the registry).

A policy is a function ``policy(sim, rows) -> tiers`` returning one tier code per row (see
:data:`simlib.tiers.TIER_CODES`); scenarios name it in ``coverage.policy``. Built in:

* ``none`` (in :mod:`simlib.tiers`): no coverage; ``uniform_low_touch``: everyone low touch; ``tech_touch_only``;
* ``tiered_by_arr``: by ARR (12 x MRR, currency a year), top ``shares.high`` of the book high
  touch, the next ``shares.low`` low touch, the rest tech touch; or by ``thresholds`` when set;
* ``tiered_by_ltv_potential``: the same on the LTV potential an account manager can see:
  gross margin x (ARR at the top plan of the account's ladder) x expected lifetime in years, the
  lifetime from the *segment's* mean churn (the account's own risk is not observable);
* ``rules``: the scenario's ``coverage.rules`` list, first match wins;
* ``by_capacity``: the team's hours decide how many accounts get a CSM (see
  :func:`capacity_slots`): down the priority list (LTV potential highest first, then health
  lowest first), the top ``shares.high`` of the book high touch and the next ``shares.low`` low
  touch while the planned hours last; everyone below tech touch.

With ``coverage.growth.enabled`` the LTV potential is recomputed from the account as it is at
each re-assignment (:func:`growth_potential`), so accounts that grow are promoted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from ...account import CONTRACT_ANNUAL
from ...tiers import HIGH, LOW, NONE, TECH, TIER_CODES, register_policy
from .kernels import get_kernels

if TYPE_CHECKING:
    from ...config.base import BetaDist
    from ...config.population import Segment
    from ...engine import Simulation
    from ...scenario import Scenario

__all__ = ["by_score", "capacity_slots", "growth_potential", "ltv_potential"]


@register_policy("uniform_low_touch", always_touched=True)
def _uniform_low(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return np.full(rows.size, LOW, dtype=np.int8)


@register_policy("tech_touch_only", always_touched=True)
def _tech_only(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return np.full(rows.size, TECH, dtype=np.int8)


def by_score(sim: Simulation, score: NDArray[np.float64]) -> NDArray[np.int8]:
    """Tiers from a score: thresholds when set, else shares of the book (highest first)."""
    cfg = sim.scenario.coverage
    tiers = np.full(score.size, TECH, dtype=np.int8)
    th = cfg.thresholds
    if th.high is not None or th.low is not None:
        if th.low is not None:
            tiers[score >= th.low] = LOW
        if th.high is not None:
            tiers[score >= th.high] = HIGH
        return tiers
    n_high = round(cfg.shares.high * score.size)
    n_low = round(cfg.shares.low * score.size)
    get_kernels().tiers_by_shares(score, n_high, n_low, tiers)
    return tiers


@register_policy("tiered_by_arr", always_touched=True)
def _by_arr(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return by_score(sim, 12.0 * sim.book.mrr[rows])


def ltv_potential(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """Gross margin x ARR at the top plan x expected years of life from the segment's churn
    (currency); with ``coverage.growth.enabled``, :func:`growth_potential` instead."""
    if sim.scenario.coverage.growth.enabled:
        return growth_potential(sim, rows)
    book = sim.book
    tp12, years_by = _ltv_tables(sim)
    return get_kernels().ltv_potential(
        rows,
        book.segment,
        book.contract,
        book.size,
        tp12,
        years_by,
        CONTRACT_ANNUAL,
        sim.scenario.economics.gross_margin,
    )


def _ltv_tables(sim: Simulation) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per segment: 12 x the top plan's price; expected years of life, monthly contracts then
    annual ones."""
    segments = sim.scenario.segment_table()
    top_price = np.array([max(s.plans.values()) for s in segments.values()])
    # segment_table() has every override filled in from the scenario's churn
    monthly_churn = np.array([cast("BetaDist", s.churn.monthly).mean for s in segments.values()])
    annual_churn = np.array([cast("BetaDist", s.churn.annual).mean for s in segments.values()])
    years_by = np.concatenate([1.0 / (12.0 * monthly_churn), 1.0 / annual_churn])
    return 12.0 * top_price, years_by


def growth_potential(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """LTV potential of ``rows`` from the account as it is now (currency)::

        potential = gross margin x 12 x MRR x (1 + u x (top price / plan price - 1))
                    x years(segment, contract) x exp(b x (satisfaction - mean fit of segment))

    MRR is what the account pays now (plan, seats, add-ons, discount); ``u`` its usage against
    the plan limit, clipped to [0, 1] (1 when usage is not simulated): an account at its
    limit is expected to climb to the top of its ladder, an idle one to stay; years as in
    :func:`ltv_potential` (1 / (12 x mean monthly churn), or 1 / mean annual churn); the last
    factor is the lifetime a churn link of ``b`` log-odds per unit of satisfaction implies
    for small churn rates (``coverage.growth.health_effect``, unset: ``churn.satisfaction_effect``),
    against the reference health level ``churn.satisfaction_reference`` when set, else the
    segment's mean product fit (where satisfaction settles when nobody acts).
    """
    scenario, book = sim.scenario, sim.book
    segments = scenario.segment_table()
    seg = book.segment[rows]
    _, years_by = _ltv_tables(sim)
    top_by = np.array([max(s.plans.values()) for s in segments.values()])
    reference = scenario.churn.satisfaction_reference
    fit_by = np.array(
        [_mean_fit(scenario, s) if reference is None else reference for s in segments.values()]
    )
    offsets = np.cumsum([0] + [len(s.plans) for s in segments.values()])[:-1]
    prices = np.concatenate([np.array(list(s.plans.values()), float) for s in segments.values()])
    plan_price = prices[offsets[seg] + book.plan[rows]]
    headroom = (
        np.divide(top_by[seg], plan_price, out=np.ones(rows.size), where=plan_price > 0) - 1.0
    )
    if "usage" in book.columns:
        u = book.usage[rows]
        headroom *= np.where(u < 0, 1.0, np.clip(u, 0.0, 1.0))
    key = np.where(book.contract[rows] == CONTRACT_ANNUAL, len(segments), 0) + seg
    b = scenario.coverage.growth.health_effect
    b = scenario.churn.satisfaction_effect if b is None else b
    years = years_by[key] * np.exp(b * (book.satisfaction[rows] - fit_by[seg]))
    arr = 12.0 * book.mrr[rows] * (1.0 + headroom)
    return scenario.economics.gross_margin * arr * years


def _mean_fit(scenario: Scenario, segment: Segment) -> float:
    """The segment's mean product fit (the satisfaction's fit when the segment sets none)."""
    return float((segment.fit or scenario.satisfaction.fit).mean)


def capacity_slots(sim: Simulation, n: int) -> tuple[int, int]:
    """How many of ``n`` accounts the team's hours cover: (high touch, low touch).

    Planned hours a week: ``H = count x hours_per_week x capacity.planned_share``; an account
    costs its tier's ``touch_hours / cadence_weeks`` hours a week (``c_high``, ``c_low``). Going
    down the priority list, the first ``k_high = min(round(shares.high x n), count x
    high.max_book)`` accounts are high touch, the next ``k_low = min(round(shares.high x n) +
    round(shares.low x n) - k_high, count x low.max_book)`` low touch, each while its hours
    fit; the first that does not fit ends the coverage (so a lower-priority account is never
    covered while a higher one is not, and more hours never cover fewer accounts)::

        n_high = min(k_high, floor(H / c_high))
        n_low  = min(k_low, floor((H - n_high x c_high) / c_low))  if n_high = k_high, else 0

    With hours and books for every share target this is ``tiered_by_ltv_potential``'s split.
    """
    cfg = sim.scenario.coverage
    count, high, low = cfg.csm.count, cfg.tiers.high, cfg.tiers.low
    target_high, target_low = round(cfg.shares.high * n), round(cfg.shares.low * n)
    k_high = min(target_high, count * high.max_book)
    k_low = min(target_high + target_low - k_high, count * low.max_book)
    hours = count * cfg.csm.hours_per_week * cfg.capacity.planned_share
    c_high = high.touch_hours / high.cadence_weeks if high.cadence_weeks > 0 else 0.0
    c_low = low.touch_hours / low.cadence_weeks if low.cadence_weeks > 0 else 0.0
    n_high = k_high if c_high <= 0 else min(k_high, math.floor(hours / c_high + 1e-9))
    if n_high < k_high:
        return n_high, 0
    rest = max(hours - n_high * c_high, 0.0)
    n_low = k_low if c_low <= 0 else min(k_low, math.floor(rest / c_low + 1e-9))
    return n_high, n_low


@register_policy("by_capacity", always_touched=True)
def _by_capacity(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    n_high, n_low = capacity_slots(sim, rows.size)
    tiers = np.full(rows.size, TECH, dtype=np.int8)
    score = ltv_potential(sim, rows)
    get_kernels().tiers_by_priority(score, sim.book.satisfaction[rows], n_high, n_low, tiers)
    return tiers


@register_policy("tiered_by_ltv_potential", always_touched=True)
def _by_ltv(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return by_score(sim, ltv_potential(sim, rows))


@register_policy("rules")
def _rules(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    cfg = sim.scenario.coverage
    book = sim.book
    names = sim.segments
    arr = 12.0 * book.mrr[rows]
    seg = book.segment[rows]
    tiers = np.full(rows.size, NONE, dtype=np.int8)
    open_ = np.ones(rows.size, dtype=bool)
    for rule in cfg.rules:
        match = open_ & (arr >= rule.min_arr)
        if rule.max_arr is not None:
            match &= arr < rule.max_arr
        if rule.segments is not None:
            codes = [names.index(s) for s in rule.segments if s in names]
            match &= np.isin(seg, codes)
        tiers[match] = TIER_CODES[rule.tier]
        open_ &= ~match
    return tiers
