"""The built-in figures (definitions: :mod:`simlib.metrics.tables`), registered in the order of
the summary table's columns (CONTRACT.md), and the built-in views."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd

from .registry import Metric, define_view, register_metric
from .unit_economics import cac_total, ltv_cac, ltv_with_tail_mean, payback_months

if TYPE_CHECKING:
    from ..engine import Simulation
    from ..results import SimulationResult

Frame: TypeAlias = pd.DataFrame


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def _sum(monthly: Frame, column: str) -> float:
    return float(monthly[column].sum())


def _accounts(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return int(sim.book.n)


def _revenue(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _sum(monthly, "revenue")


def _ltv_mean(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return float(accounts["ltv"].mean()) if len(accounts) else float("nan")


def _cs_cost(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _sum(monthly, "cs_cost")


def _offer_cost(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _sum(monthly, "offer_cost")


def _net_value(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    margin = sim.scenario.economics.gross_margin
    return (
        margin * _sum(monthly, "revenue") - _sum(monthly, "cs_cost") - _sum(monthly, "offer_cost")
    )


def _logo_churn(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    churned = monthly["churned_accounts"].to_numpy()
    active = monthly["active_accounts"].to_numpy()
    return _ratio(float(churned[1:].sum()), float(active[:-1].sum()))


def _revenue_churn(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    lost = (
        monthly["churned_mrr"].to_numpy()[1:].sum()
        + monthly["contraction_mrr"].to_numpy()[1:].sum()
    )
    return _ratio(float(lost), float(monthly["mrr"].to_numpy()[:-1].sum()))


def _retention(sim: Simulation, gross: bool) -> float:
    """GRR (``gross``) or NRR of the cohort alive at month max(0, H - 13), 12 months on."""
    if sim.horizon < 13 or "nrr_start_mrr" not in sim.snapshots:
        return float("nan")
    start_mrr = sim.snapshots["nrr_start_mrr"]
    cohort = sim.snapshots["nrr_start_alive"]
    end_mrr = sim.book.mrr[: start_mrr.size]
    base = float(start_mrr[cohort].sum())
    kept = np.minimum(end_mrr, start_mrr) if gross else end_mrr
    return _ratio(float(kept[cohort].sum()), base)


def _grr(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _retention(sim, gross=True)


def _nrr(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _retention(sim, gross=False)


def _arpa(monthly: Frame, at: int) -> float:
    return _ratio(
        float(monthly["mrr"].to_numpy()[at]), float(monthly["active_accounts"].to_numpy()[at])
    )


def _arpa_start(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _arpa(monthly, 0)


def _arpa_end(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    return _arpa(monthly, -1)


def _mean_satisfaction(sim: Simulation, accounts: Frame, monthly: Frame) -> float:
    alive = sim.book.alive
    return float(sim.book.satisfaction[alive].mean()) if alive.any() else float("nan")


def _ltv_opening_book(result: SimulationResult) -> pd.Series:
    """Mean LTV of the accounts alive at month 0, per replication (a fixed cohort, unaffected by
    how many accounts arrive later and how little horizon is left to them)."""
    accounts = result.accounts
    if not len(accounts):
        return pd.Series(dtype=np.float64)
    opening = accounts[accounts["start_month"] == 0]
    return opening.groupby("replication", sort=True)["ltv"].mean()


_BUILT_IN = (
    Metric("accounts", "accounts over the horizon", "count", None, _accounts),
    Metric("revenue", "revenue over the horizon", "money", "higher", _revenue),
    Metric("ltv_mean", "LTV per account", "money", "higher", _ltv_mean),
    Metric("cs_cost", "CS cost over the horizon", "money", "lower", _cs_cost),
    Metric("offer_cost", "offer cost over the horizon", "money", "lower", _offer_cost),
    Metric("net_value", "net value (margin − CS − offers)", "money", "higher", _net_value),
    Metric("logo_churn_monthly", "logo churn per month", "share", "lower", _logo_churn),
    Metric("revenue_churn_monthly", "revenue churn per month", "share", "lower", _revenue_churn),
    Metric("grr_12m", "GRR (12 months)", "share", "higher", _grr),
    Metric("nrr_12m", "NRR (12 months)", "share", "higher", _nrr),
    Metric("arpa_start", "ARPA at month 0", "money_month", "higher", _arpa_start),
    Metric("arpa_end", "ARPA at the last month", "money_month", "higher", _arpa_end),
    Metric(
        "mean_satisfaction",
        "mean satisfaction at the horizon",
        "score",
        "higher",
        _mean_satisfaction,
    ),
    Metric(
        "ltv_opening_book",
        "LTV per opening-book account",
        "money",
        "higher",
        derive=_ltv_opening_book,
    ),
    # acquisition economics (definitions: simlib.metrics.unit_economics)
    Metric("cac_total", "acquisition cost (CAC) over the horizon", "money", "lower", cac_total),
    Metric("payback_months", "CAC payback (months of margin)", "count", "lower", payback_months),
    Metric("ltv_cac", "LTV (with tail) : CAC", "count", "higher", ltv_cac),
    Metric(
        "ltv_with_tail_mean",
        "LTV per account, with the tail beyond the horizon",
        "money",
        "higher",
        ltv_with_tail_mean,
    ),
)

for _metric in _BUILT_IN:
    register_metric(_metric)

define_view(
    "compare",
    [
        "ltv_mean",
        "ltv_opening_book",
        "arpa_end",
        "logo_churn_monthly",
        "revenue_churn_monthly",
        "nrr_12m",
        "grr_12m",
        "revenue",
        "net_value",
        "cs_cost",
        "offer_cost",
        "mean_satisfaction",
    ],
)
define_view(
    "headline",
    [
        "ltv_mean",
        "logo_churn_monthly",
        "revenue_churn_monthly",
        "arpa_end",
        "nrr_12m",
        "grr_12m",
        "net_value",
    ],
)
