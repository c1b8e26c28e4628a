"""Acquisition economics: CAC, CAC payback, LTV:CAC and an LTV with its tail beyond the horizon.

Definitions (per replication; money in the scenario's currency; ``gm`` the gross margin, ``d``
the monthly discount factor ``(1 + annual_discount_rate) ^ (-1/12)``):

* **CAC.** An account arriving in the simulation (``start_month`` >= 1, referrals included)
  cost ``economics.cac[segment]`` (0 for a segment not named); the opening book was acquired
  before month 0 and costs nothing here. ``cac_total`` = the sum over those accounts.
* **payback_months** = ``cac_total / (gm x sum of their initial MRR)``: months of gross margin
  of the new MRR needed to earn the CAC back (the CAC payback of the public SaaS benchmarks,
  equal to the MRR-weighted mean over the acquired accounts of ``CAC_i / (gm x MRR_i)``; it
  ignores churn and expansion after arrival). NaN when ``cac_total`` is 0 (nothing to pay back)
  and when the acquired accounts bring no MRR (the CAC is never paid back).
* **The tail.** An account alive at the horizon (last month billed ``H - 1``) is valued beyond it
  under its own churn probability ``p`` per renewal, held constant: the registered churn-odds
  terms (:mod:`simlib.churn_odds`) of its next renewal, as the renewal desk would compute them
  at the end of month ``H - 1``, without the one-off ``price_rise`` shock (the tail values the
  MRR of the horizon, not the price a rise would bring); ``q = 1 - p``. Discounted to its start month ``s`` like
  ``ltv``, with ``M`` its MRR at the horizon:

  - monthly contract (a renewal at the end of every month, the first at the end of ``H - 1``):
    ``tail = gm M d^(H-s) q / (1 - q d)``;
  - annual contract whose next renewal is at the end of month ``R >= H - 1`` (months ``H .. R``
    are under contract, then each renewal survived adds 12 months):
    ``tail = gm M d^(-s) [d^H (1 - d^(R-H+1)) + d^(R+1) (1 - d^12) q / (1 - q d^12)] / (1 - d)``.

  These are geometric series: an account whose risk ``p`` is fixed has survival ``q^t``. With
  no discounting (``annual_discount_rate`` 0, ``d = 1``) an account that cannot churn (``p`` = 0)
  has an infinite tail (``inf``), and the mean figures are then infinite. Over a
  cohort whose risks are Beta(alpha, beta) distributed, the expected sum of LTV and tail of a
  new account is ``gm x M x DEL`` (Fader & Hardie 2010: the discounted expected lifetime,
  :func:`simlib.calibration.sbg.discounted_expected_lifetime`).
* **ltv_with_tail_mean** = mean over accounts of ``ltv + tail`` (0 tail for churned accounts),
  beside ``ltv_mean`` (within the horizon only).
* **ltv_cac** = sum of ``ltv + tail`` over the acquired accounts / ``cac_total`` (NaN when
  ``cac_total`` is 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL
from ..churn_odds import active_terms, churn_probability

if TYPE_CHECKING:
    from ..engine import Simulation

#: Churn-odds terms of a one-off event at the next renewal, left out of the tail's constant
#: risk (the tail values the MRR of the horizon, not the risen price it would bring).
ONE_OFF_TERMS = frozenset({"price_rise"})

__all__ = ["acquisition_cost", "cac_total", "ltv_cac", "ltv_with_tail", "payback_months", "tail"]


def acquisition_cost(sim: Simulation) -> NDArray[np.float64]:
    """CAC of every account of the book (currency; 0 for the opening book and unnamed segments)."""
    cac = sim.scenario.economics.cac
    per_segment = np.array([float(cac.get(name, 0.0)) for name in sim.segments])
    book = sim.book
    if not per_segment.any():
        return np.zeros(book.n)
    return np.where(book.start_month >= 1, per_segment[book.segment], 0.0)


def tail(sim: Simulation) -> NDArray[np.float64]:
    """Expected discounted margin beyond the horizon of every account (module docstring)."""
    book = sim.book
    out = np.zeros(book.n)
    rows = book.alive_index()
    if rows.size == 0:
        return out
    terms = [t for t in active_terms(sim.scenario) if t.name not in ONE_OFF_TERMS]
    p = churn_probability(sim, rows, terms)
    p = np.clip(p, 0.0, 1.0)
    q = 1.0 - p
    d = sim.monthly_discount
    h = sim.horizon
    s = book.start_month[rows].astype(np.float64)
    margin = sim.scenario.economics.gross_margin * book.mrr[rows]
    with np.errstate(divide="ignore", invalid="ignore"):  # no discount, no churn: infinite
        # 1 - q d^k written as p + q (1 - d^k): exact to rounding when p is small
        value = d ** (h - s) * q / (p + q * (1.0 - d))
        annual = book.contract[rows] == CONTRACT_ANNUAL
        if annual.any():
            a = book.anniversary[rows[annual]].astype(np.int64)
            r = (h - 1) + np.mod(a + 11 - (h - 1), 12)  # next renewal: (r - a) % 12 == 11
            pa, qa, sa = p[annual], q[annual], s[annual]
            if d < 1.0:
                certain = d**h * (1.0 - d ** (r - h + 1)) / (1.0 - d)
                per_term = d ** (r + 1) * (1.0 - d**12) / (1.0 - d)
            else:  # no discounting: the sums of d^m are counts of months
                certain, per_term = (r - h + 1).astype(np.float64), np.full(qa.size, 12.0)
            renewed = per_term * qa / (pa + qa * (1.0 - d**12))
            value[annual] = d ** (-sa) * (certain + renewed)
        value = np.where(q > 0, value, 0.0)  # sure to churn at the next renewal
    out[rows] = margin * value
    return out


def ltv_with_tail(sim: Simulation, accounts: pd.DataFrame) -> NDArray[np.float64]:
    """``ltv + tail`` of every account, in book order (the accounts table's order)."""
    return accounts["ltv"].to_numpy(dtype=np.float64) + tail(sim)


def cac_total(sim: Simulation, accounts: pd.DataFrame, monthly: pd.DataFrame) -> float:
    """Sum of the CAC of the accounts acquired in the simulation (currency)."""
    return float(acquisition_cost(sim).sum())


def payback_months(sim: Simulation, accounts: pd.DataFrame, monthly: pd.DataFrame) -> float:
    """``cac_total / (gm x initial MRR of the acquired accounts)`` (months; NaN: see above)."""
    cost = acquisition_cost(sim)
    total = float(cost.sum())
    acquired = sim.book.start_month >= 1
    margin = sim.scenario.economics.gross_margin * float(sim.book.initial_mrr[acquired].sum())
    if total <= 0 or margin <= 0:
        return float("nan")
    return total / margin


def ltv_cac(sim: Simulation, accounts: pd.DataFrame, monthly: pd.DataFrame) -> float:
    """LTV (with its tail) of the acquired accounts over their CAC (ratio; NaN with no CAC)."""
    total = cac_total(sim, accounts, monthly)
    if total <= 0:
        return float("nan")
    acquired = sim.book.start_month >= 1
    return float(ltv_with_tail(sim, accounts)[acquired].sum()) / total


def ltv_with_tail_mean(sim: Simulation, accounts: pd.DataFrame, monthly: pd.DataFrame) -> float:
    """Mean over accounts of ``ltv + tail`` (currency)."""
    if not len(accounts):
        return float("nan")
    return float(ltv_with_tail(sim, accounts).mean())
