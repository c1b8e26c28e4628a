"""CS tiers and the coverage policies that assign them, resolved by name from a registry.

A policy is a function ``policy(sim, rows) -> tiers`` returning one tier code per row (see
:data:`TIER_CODES`). A new policy is a new function decorated with :func:`register_policy`;
scenarios then name it in ``coverage.policy``. Built in:

* ``none``: no coverage; ``uniform_low_touch``: everyone low touch; ``tech_touch_only``;
* ``tiered_by_arr``: by ARR (12 x MRR, currency a year), top ``shares.high`` of the book high
  touch, the next ``shares.low`` low touch, the rest tech touch; or by ``thresholds`` when set;
* ``tiered_by_ltv_potential``: the same on the LTV potential an account manager can see:
  gross margin x (ARR at the top plan of the account's ladder) x expected lifetime in years, the
  lifetime from the *segment's* mean churn (the account's own risk is not observable);
* ``rules``: the scenario's ``coverage.rules`` list, first match wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .account import CONTRACT_ANNUAL
from .registry import Registry

if TYPE_CHECKING:
    from .engine import Simulation

__all__ = ["ALWAYS_TOUCHED", "COVERAGE_POLICIES", "TIER_CODES", "register_policy"]

#: Tier codes stored in the account book's ``tier`` column.
TIER_CODES = {"none": 0, "tech": 1, "low": 2, "high": 3}
NONE, TECH, LOW, HIGH = 0, 1, 2, 3

Policy = Callable[["Simulation", NDArray[np.intp]], NDArray[np.int8]]
#: Coverage policies by the name a scenario gives in ``coverage.policy``.
COVERAGE_POLICIES: Registry[Policy] = Registry("coverage policy")
#: Policies that give every account a touched tier (tech, low or high), never none: a new
#: account under them starts in tech touch without asking the policy (see CoverageActor).
ALWAYS_TOUCHED: set[str] = set()


def register_policy(name: str, always_touched: bool = False) -> Callable[[Policy], Policy]:
    """Decorator: make ``policy(sim, rows) -> tier codes`` available as ``coverage.policy``.

    ``always_touched``: the policy never returns ``none`` (a promise that saves work).
    """

    def add(fn: Policy) -> Policy:
        COVERAGE_POLICIES.replace(name, fn)
        if always_touched:
            ALWAYS_TOUCHED.add(name)
        else:
            ALWAYS_TOUCHED.discard(name)
        return fn

    return add


@register_policy("none")
def _none(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return np.full(rows.size, NONE, dtype=np.int8)


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
    from .model import csm_jit

    jit = csm_jit.kernels()  # compiled: from one pass, when no tie falls across a cut
    if (
        jit is not None
        and score.dtype == np.float64
        and jit.tiers_by_rank(score, n_high + n_low, n_high, TECH, LOW, HIGH, tiers)
    ):
        return tiers
    top = _top(score, n_high + n_low)
    tiers[top] = LOW
    tiers[top[_top(score[top], n_high)]] = HIGH
    return tiers


def _top(score: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """Indices of the ``k`` highest scores, in no particular order (deterministic selection)."""
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k >= score.size:
        return np.arange(score.size)
    return np.argpartition(-score, k - 1)[:k]


@register_policy("tiered_by_arr", always_touched=True)
def _by_arr(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return by_score(sim, 12.0 * sim.book.mrr[rows])


def ltv_potential(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """Gross margin x ARR at the top plan x expected years of life from the segment's churn
    (currency)."""
    from .model import csm_jit

    book = sim.book
    tp12, years_by = _ltv_tables(sim)
    jit = csm_jit.kernels()
    if jit is not None:  # compiled: one pass, the same multiplications in the same order
        return jit.ltv_potential(
            rows,
            book.segment,
            book.contract,
            book.size,
            tp12,
            years_by,
            CONTRACT_ANNUAL,
            sim.scenario.economics.gross_margin,
        )
    # per-segment tables, then one look-up a row
    seg = book.segment[rows]
    key = np.where(book.contract[rows] == CONTRACT_ANNUAL, tp12.size, 0) + seg
    ltv = tp12[seg]  # arr_potential = 12 x top price x size
    ltv *= book.size[rows]
    ltv *= sim.scenario.economics.gross_margin
    ltv *= years_by[key]
    return ltv


def _ltv_tables(sim: Simulation) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per segment: 12 x the top plan's price; expected years of life, monthly contracts then
    annual ones."""
    segments = sim.scenario.segment_table()
    top_price = np.array([max(s.plans.values()) for s in segments.values()])
    monthly_churn = np.array([s.churn.monthly.mean for s in segments.values()])
    annual_churn = np.array([s.churn.annual.mean for s in segments.values()])
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
