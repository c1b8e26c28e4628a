"""The lab's figures: revenue per opening account, registered as a derived metric, and the
registry's ``lab`` view (:data:`LAB_METRICS`). Both are registered once, when :mod:`simlib.lab`
is imported."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compare import replication_metrics
from ..errors import UserInputError
from ..metrics import Metric, define_view, metric_view, register_metric
from ..results import SimulationResult
from .cohort import _cube

__all__ = ["LAB_METRICS", "lab_metrics"]

#: Figures compared by the lab: the registry's ``lab`` view, the comparison metrics plus revenue
#: per opening account (``revenue_per_opening_account``, currency over the horizon, the ``R`` of
#: the decomposition, registered below as a derived figure).
LAB_METRICS = (
    "arpa_end",
    "ltv_mean",
    "ltv_opening_book",
    "logo_churn_monthly",
    "nrr_12m",
    "net_value",
    "revenue_per_opening_account",
    "mean_satisfaction",
)


def _revenue_per_opening_account(result: SimulationResult) -> pd.Series:
    """Revenue per opening account over the horizon, per replication: ``R = sum_t S_t A_t``
    (currency; NaN when the run kept no segment paths)."""
    try:
        reps, _, n, rev = _cube(result)
    except UserInputError:
        return pd.Series(dtype=np.float64)
    n0 = n[:, 0, :].sum(axis=1)
    per = np.where(n0 > 0, rev.sum(axis=(1, 2)) / np.where(n0 > 0, n0, 1), np.nan)
    return pd.Series(per, index=reps)


register_metric(
    Metric(
        "revenue_per_opening_account",
        "revenue per opening account",
        "money",
        "higher",
        derive=_revenue_per_opening_account,
    )
)
define_view("lab", LAB_METRICS)


def lab_metrics(result: SimulationResult) -> pd.DataFrame:
    """Per-replication figures of a lab run: the comparison metrics (summary plus
    ``ltv_opening_book``) and the rest of the lab view (``revenue_per_opening_account``)."""
    return replication_metrics(result, metric_view("lab"))
