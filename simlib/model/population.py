"""Accounts coming into being: the opening book at month 0 and every later arrival.

Each new account's attributes are drawn by inversion from keyed uniforms of the ``population``
stream (one slot per attribute), so an account with the same key gets the same attributes in every
scenario whose distributions agree, and comonotone ones where they differ (common random numbers).

* segment ~ Categorical(shares); plan ~ Categorical(plan_mix of the segment);
* size ~ LogNormal(-sigma^2 / 2, sigma) (mean 1); MRR = list price x size, x (1 - annual
  discount) on annual contracts (currency per month);
* contract annual with probability ``annual_share`` of the segment;
* base churn risk per renewal ~ Beta(alpha, beta) of the segment and contract (Fader & Hardie
  2007); product fit ~ Beta of the segment; satisfaction starts at the fit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from ..account import CONTRACT_ANNUAL, CONTRACT_MONTHLY
from ..distributions import beta_ppf
from ..engine import Simulation
from ..rng import account_key, keyed_uniform
from ..scenario import Scenario

__all__ = ["create_accounts"]

SLOT_SEGMENT, SLOT_PLAN, SLOT_SIZE, SLOT_CONTRACT, SLOT_RISK, SLOT_FIT, SLOT_STAGGER = range(7)


def _categorical(u: NDArray[np.float64], probs: NDArray[np.float64]) -> NDArray[np.int16]:
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(probs) - 1).astype(np.int16)


def create_accounts(
    sim: Simulation,
    arrival_month: int,
    indices: NDArray[np.int64],
    segment_probs: NDArray[np.float64] | None = None,
    stagger: bool = False,
    segment: NDArray[np.int16] | None = None,
    contract_type: NDArray[np.int8] | None = None,
) -> slice:
    """Append accounts arriving in ``arrival_month`` with the given per-month indices.

    ``segment_probs`` (one per segment) replaces the segments' shares (referral sources, say).
    ``stagger`` spreads annual renewal months over the contract year (a seasoned opening book).
    ``segment`` / ``contract_type`` (one per account) impose known segments and contracts
    (imported accounts, :mod:`simlib.model.book_import`) instead of drawing them; churn risk
    and fit are still drawn for the imposed segment and contract. Returns the new rows.
    """
    scenario = sim.scenario
    segments = scenario.segment_table()
    k = len(indices)
    rows = sim.book.append(k)
    if k == 0:
        return rows
    keys = account_key(arrival_month, indices)
    draw = sim.streams.key("population")
    probs = (
        np.asarray(segment_probs, dtype=np.float64)
        if segment_probs is not None
        else np.array([segments[n].share for n in segments])
    )
    seg = _categorical(keyed_uniform(draw, keys, SLOT_SEGMENT), probs)
    if segment is not None:
        seg = np.asarray(segment, dtype=np.int16)
    drawn = _draw_attributes(scenario, draw, keys, seg, contract_type)
    _write_accounts(sim, rows, keys, seg, drawn, arrival_month, draw if stagger else None)
    return rows


class _Drawn(NamedTuple):
    """The drawn attributes of new accounts, one entry per account."""

    plan: NDArray[np.int16]  # index into the segment's plan ladder
    size: NDArray[np.float64]  # MRR / list price (mean 1)
    contract: NDArray[np.int8]
    risk: NDArray[np.float64]  # base churn probability per renewal
    fit: NDArray[np.float64]  # product fit (0-1), clipped to (1e-6, 1 - 1e-6)
    mrr: NDArray[np.float64]  # currency per month


def _draw_attributes(
    scenario: Scenario,
    draw: tuple[int, int],
    keys: NDArray[np.uint64],
    seg: NDArray[np.int16],
    contract_type: NDArray[np.int8] | None,
) -> _Drawn:
    """Plan, size, contract, base churn risk and fit of each account of segment ``seg``, by
    inversion of its keyed uniforms (module docstring); MRR = list price x size, less the
    annual discount on annual contracts (currency per month)."""
    segments = scenario.segment_table()
    k = len(keys)
    u_plan = keyed_uniform(draw, keys, SLOT_PLAN)
    z_size = ndtri(keyed_uniform(draw, keys, SLOT_SIZE))
    u_contract = keyed_uniform(draw, keys, SLOT_CONTRACT)
    u_risk = keyed_uniform(draw, keys, SLOT_RISK)
    u_fit = keyed_uniform(draw, keys, SLOT_FIT)

    plan = np.zeros(k, dtype=np.int16)
    size = np.ones(k)
    contract = np.full(k, CONTRACT_MONTHLY, dtype=np.int8)
    price = np.zeros(k)
    risk = np.zeros(k)
    fit = np.zeros(k)
    discount = scenario.contracts.annual_discount
    for s, name in enumerate(segments):
        cfg = segments[name]
        mask = seg == s
        if not mask.any():
            continue
        prices = np.array(list(cfg.plans.values()), dtype=np.float64)
        mix = np.array([cfg.plan_mix[p] for p in cfg.plans], dtype=np.float64)  # type: ignore[index]
        plan[mask] = _categorical(u_plan[mask], mix)
        price[mask] = prices[plan[mask]]
        sigma = cfg.size_sigma
        if sigma > 0:
            size[mask] = np.exp(sigma * z_size[mask] - 0.5 * sigma * sigma)
        assert cfg.annual_share is not None  # filled in from contracts by fill_defaults
        annual = mask & (u_contract < cfg.annual_share)
        if contract_type is not None:
            annual = mask & (np.asarray(contract_type) == CONTRACT_ANNUAL)
        contract[annual] = CONTRACT_ANNUAL
        for kind, sel in (("monthly", mask & ~annual), ("annual", annual)):
            if sel.any():
                beta_dist = getattr(cfg.churn, kind)
                risk[sel] = beta_ppf(u_risk[sel], beta_dist.alpha, beta_dist.beta)
        assert cfg.fit is not None
        fit[mask] = beta_ppf(u_fit[mask], cfg.fit.alpha, cfg.fit.beta)

    mrr = price * size
    mrr[contract == CONTRACT_ANNUAL] *= 1.0 - discount
    fit = np.clip(fit, 1e-6, 1 - 1e-6)
    return _Drawn(plan, size, contract, risk, fit, mrr)


def _write_accounts(
    sim: Simulation,
    rows: slice,
    keys: NDArray[np.uint64],
    seg: NDArray[np.int16],
    drawn: _Drawn,
    arrival_month: int,
    stagger: tuple[int, int] | None,
) -> None:
    """Write the new accounts into the book: alive, satisfaction starting at the fit, annual
    renewals on the arrival month or, with ``stagger`` (the population stream's key), spread
    over the contract year."""
    book = sim.book
    book.key[rows] = keys
    book.segment[rows] = seg
    book.plan[rows] = drawn.plan
    book.size[rows] = drawn.size
    book.contract[rows] = drawn.contract
    book.start_month[rows] = arrival_month
    if stagger is not None:
        offset = (keyed_uniform(stagger, keys, SLOT_STAGGER) * 12).astype(np.int32)
        book.anniversary[rows] = arrival_month - offset
    else:
        book.anniversary[rows] = arrival_month
    book.alive[rows] = True
    book.risk[rows] = drawn.risk
    book.fit[rows] = drawn.fit
    book.satisfaction[rows] = drawn.fit
    fit = drawn.fit
    book.fit_logit[rows] = np.log(fit / (1.0 - fit))
    book.mrr[rows] = drawn.mrr
    book.initial_mrr[rows] = drawn.mrr
