"""A simulation's accounts as calibration data: tenure data, cohort tables, the demo scenario.

Fitting what a simulation produced back to the sBG model is how the kit checks its own churn
(and how the calibration notebook shows a fit without a company's data). The demo table itself,
which runs the simulator, is :func:`simlib.calibrate.demo_retention_table`: calibration sits
below the experiment layer and does not import it.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEMO_PANEL_KEYS",
    "DEMO_SEGMENTS",
    "demo_panel_scenario",
    "demo_scenario",
    "retention_table_from_accounts",
    "survival_data_from_accounts",
]


def survival_data_from_accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    """Tenure data (``duration_months``, ``event``) from a simulation's ``accounts`` table.

    A churned account was billed ``lifetime_months`` months and left at the renewal ending its
    last month: duration = ``lifetime_months``, event 1. An account alive at the horizon was
    billed ``lifetime_months`` months but its renewal at the end of the last month lies beyond
    the horizon: it has passed ``lifetime_months - 1`` monthly renewals (and, on an annual
    contract started at ``start_month``, ``floor((lifetime_months - 1) / 12)`` annual ones):
    duration = ``lifetime_months - 1``, event 0. Keeps ``segment``, ``contract``,
    ``start_month`` and ``replication``.
    """
    churned = accounts["churned"].to_numpy(dtype=bool)
    life = accounts["lifetime_months"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "replication": accounts["replication"].to_numpy(),
            "segment": accounts["segment"].astype(str).to_numpy(),
            "contract": accounts["contract"].astype(str).to_numpy(),
            "start_month": accounts["start_month"].to_numpy(),
            "duration_months": np.where(churned, life, life - 1),
            "event": churned.astype(np.int64),
        }
    )
    return out


def retention_table_from_accounts(
    accounts: pd.DataFrame,
    horizon_months: int,
    by: str | None = "segment",
    period_months: int = 1,
) -> pd.DataFrame:
    """The cohort retention table (``period, alive`` [, ``segment``]) of the opening book.

    Uses the accounts that started at month 0 (pooled over replications) and observes them to
    the last renewal inside the horizon: ``(horizon_months - 1) // period_months`` periods (the
    renewal at the end of the last month lies beyond the horizon). ``alive(t)`` counts accounts
    that had not churned at renewals 1..t. For an annual table, pass only annual accounts.
    """
    data = survival_data_from_accounts(accounts)
    data = data[data["start_month"] == 0]
    last = (horizon_months - 1) // period_months
    k = float(period_months)
    churned = data["event"].to_numpy() == 1
    dur = data["duration_months"].to_numpy(dtype=np.float64)
    t_churn = np.where(churned, np.ceil(dur / k), np.inf)
    keys = data[by].to_numpy() if by else np.full(len(data), None, dtype=object)
    frames = []
    for name in dict.fromkeys(keys.tolist()):
        sel = keys == name if by else np.ones(len(data), dtype=bool)
        periods = np.arange(last + 1)
        alive = (t_churn[sel][None, :] > periods[:, None]).sum(axis=1)
        frame = pd.DataFrame({"period": periods, "alive": alive})
        if by:
            frame.insert(0, "segment", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


#: The demo's two segments: churn per monthly renewal ~ Beta(alpha, beta).
DEMO_SEGMENTS: dict[str, dict[str, Any]] = {
    "smb": {
        "share": 0.6,
        "plans": {"standard": 100.0},
        "churn": {"monthly": {"alpha": 0.8, "beta": 12.0}},
    },
    "mid_market": {
        "share": 0.4,
        "plans": {"standard": 100.0},
        "churn": {"monthly": {"alpha": 1.5, "beta": 40.0}},
    },
}


def demo_scenario(initial_accounts: int = 3000, periods: int = 24) -> dict[str, Any]:
    """The scenario of the demo table: the ``textbook`` preset with :data:`DEMO_SEGMENTS`.

    Segments ``smb`` (churn ~ Beta(0.8, 12)) and ``mid_market`` (~ Beta(1.5, 40)), 60 % / 40 %
    of ``initial_accounts``, observed for ``periods`` monthly renewals (``horizon_months`` =
    ``periods + 1``).
    """
    return {
        "extends": "textbook",
        "name": "calibration_demo",
        "horizon_months": periods + 1,
        "population": {
            "initial_accounts": initial_accounts,
            "segments": copy.deepcopy(DEMO_SEGMENTS),
        },
    }


#: The links of the demo CRM panel (:func:`demo_panel_scenario`): what a fit should find.
DEMO_PANEL_KEYS: dict[str, Any] = {
    "churn.monthly": {"alpha": 1.0, "beta": 20.0},
    "churn.satisfaction_effect": 2.0,
    "churn.satisfaction_reference": 0.6,
    "satisfaction.observation_noise": 0.08,
}


def demo_panel_scenario(initial_accounts: int = 800, months: int = 24) -> dict[str, Any]:
    """The scenario of the demo CRM panel (``data/examples/crm_panel.csv``): the ``textbook``
    preset with satisfaction drifting, churn ~ Beta(1, 20) at health 0.6, the churn link 2.0
    and a health score recorded with noise sd 0.08 (:data:`DEMO_PANEL_KEYS`)."""
    return {
        "extends": "textbook",
        "name": "crm_panel_demo",
        "horizon_months": months,
        "population": {"initial_accounts": initial_accounts},
        "satisfaction": {"enabled": True, "observation_noise": 0.08},
        "churn": {
            "monthly": {"alpha": 1.0, "beta": 20.0},
            "satisfaction_effect": 2.0,
            "satisfaction_reference": 0.6,
        },
    }
