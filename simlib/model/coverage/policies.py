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
* ``rules``: the scenario's ``coverage.rules`` list, first match wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from ...account import CONTRACT_ANNUAL
from ...tiers import HIGH, LOW, NONE, TECH, TIER_CODES, register_policy
from .kernels import get_kernels

if TYPE_CHECKING:
    from ...config.base import BetaDist
    from ...engine import Simulation

__all__ = ["by_score", "ltv_potential"]


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
    (currency)."""
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
