"""From one replication's book and ledger to the contract's tidy tables.

Definitions (all per replication; months are whole months from month 0):

* ``ltv`` of an account = sum over its months alive of gross_margin x revenue(m) x
  (1 + annual_discount_rate) ^ (-(m - start_month) / 12), within the horizon.
* ``logo_churn_monthly`` = sum of churned accounts / sum of accounts active the month before,
  over months 1 .. H-1 (the pooled monthly churn rate).
* ``revenue_churn_monthly`` = sum of (churned + contraction MRR) / sum of MRR the month before.
* ``grr_12m`` and ``nrr_12m``: the cohort of accounts alive at month m0 = max(0, H - 13) and
  their MRR 12 months later, at the last month H - 1 (0 for those who churned):
  GRR = sum min(MRR_end, MRR_m0) / sum MRR_m0 (no credit for expansion),
  NRR = sum MRR_end / sum MRR_m0. NaN when the horizon is shorter than 13 months.
* ``arpa_start`` / ``arpa_end`` = MRR / active accounts at month 0 / at month H - 1.
* ``net_value`` = gross_margin x revenue - cs_cost - offer_cost (currency, undiscounted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..account import CONTRACT_NAMES
from ..engine import register_snapshot
from ..ledger import MONTHLY_COLUMNS
from .registry import METRICS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..engine import Simulation

__all__ = ["ACCOUNT_COLUMNS", "account_table", "monthly_table", "nrr_cohort", "summary_row"]

ACCOUNT_COLUMNS = (
    "scenario",
    "replication",
    "account_id",
    "segment",
    "start_month",
    "end_month",
    "churned",
    "lifetime_months",
    "contract",
    "tier",
    "initial_mrr",
    "final_mrr",
    "revenue",
    "ltv",
    "final_satisfaction",
)

TIER_NAMES = ("none", "tech", "low", "high")


@register_snapshot("nrr_cohort")
def nrr_cohort(sim: Simulation, month: int) -> dict[str, NDArray] | None:
    """The GRR/NRR cohort: MRR and alive flags at month max(0, H - 13), just after billing."""
    if month != max(0, sim.horizon - 13):
        return None
    book = sim.book
    return {
        "nrr_start_mrr": book.mrr.copy(),
        "nrr_start_alive": book.alive.copy(),
        "nrr_start_month": np.array([month]),
    }


def monthly_table(sim: Simulation) -> pd.DataFrame:
    """One row per month: the contract's columns, then any column an actor declared."""
    ledger = sim.ledger
    data: dict[str, object] = {
        "scenario": sim.scenario.name,
        "replication": np.full(sim.horizon, sim.replication, dtype=np.int32),
        "month": np.arange(sim.horizon, dtype=np.int32),
    }
    for name in MONTHLY_COLUMNS:
        data[name] = ledger[name]
    for name in ledger.columns:
        if name not in data:
            data[name] = ledger[name]
    return pd.DataFrame(data)


def account_table(sim: Simulation) -> pd.DataFrame:
    """One row per account that existed in the replication."""
    book = sim.book
    econ = sim.scenario.economics
    d = sim.monthly_discount
    alive = book.alive
    end = book.end_month
    churned = ~alive
    last = np.where(churned, end, sim.horizon - 1)
    lifetime = last - book.start_month + 1
    # discounted_revenue = sum_m revenue(m) d^m, so dividing by d^start discounts from the start
    ltv = econ.gross_margin * book.discounted_revenue * d ** (-book.start_month.astype(np.float64))
    final_mrr = np.where(churned, book.final_mrr, book.mrr)
    segments = pd.Categorical.from_codes(book.segment, categories=sim.segments)
    table = pd.DataFrame(
        {
            "scenario": sim.scenario.name,
            "replication": np.full(book.n, sim.replication, dtype=np.int32),
            "account_id": np.arange(book.n, dtype=np.int64),
            "segment": segments,
            "start_month": book.start_month.copy(),
            "end_month": pd.arrays.IntegerArray(
                np.where(churned, end, 0).astype(np.int32), alive.copy()
            ),
            "churned": churned.copy(),
            "lifetime_months": lifetime.astype(np.int32),
            "contract": pd.Categorical.from_codes(book.contract, categories=list(CONTRACT_NAMES)),
            "tier": pd.Categorical.from_codes(book.tier, categories=list(TIER_NAMES)),
            "initial_mrr": book.initial_mrr.copy(),
            "final_mrr": final_mrr,
            "revenue": book.revenue.copy(),
            "ltv": ltv,
            "final_satisfaction": book.satisfaction.copy(),
            "account_key": book.key.copy(),
        }
    )
    for name in book.reported:
        table[name] = book.column(name).copy()
    return table


def summary_row(sim: Simulation, accounts: pd.DataFrame, monthly: pd.DataFrame) -> dict:
    """The replication's summary figures: its identifiers, then every registered summary
    figure (:mod:`simlib.metrics.registry`; definitions in the module docstring)."""
    row: dict = {"scenario": sim.scenario.name, "replication": sim.replication, "seed": sim.seed}
    for metric in METRICS.values():
        if metric.compute is not None:
            row[metric.name] = metric.compute(sim, accounts, monthly)
    return row
