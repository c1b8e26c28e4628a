"""Kaplan–Meier curves of calibration data, and the gap between two curves.

The curves (with Greenwood bands, :func:`simlib.survival.kaplan_meier`) count time in renewal
periods, from the tables :mod:`simlib.calibration.readers` validates; :func:`survival_gap`
compares the curve of the data with that of a simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..io.csv import CsvTable
from ..survival import kaplan_meier
from .readers import read_accounts, read_retention, retention_counts

__all__ = ["kaplan_meier_accounts", "kaplan_meier_retention", "survival_gap"]


def kaplan_meier_retention(
    data: str | Path | pd.DataFrame | CsvTable, level: float = 0.95
) -> pd.DataFrame:
    """Kaplan–Meier curve (Greenwood bands) of each group of a cohort retention table.

    Time is in renewal periods. For a single cohort observed to its last period the curve is
    ``alive(t) / alive(0)``; the bands show its sampling error. Columns as
    :func:`simlib.survival.kaplan_meier`.
    """
    durations, events, groups = [], [], []
    for d in read_retention(data):
        t, churn, cens_t, cens_w = retention_counts(d)
        dur = np.concatenate(
            [np.repeat(t, churn.astype(np.int64)), np.repeat(cens_t, int(cens_w[0]))]
        )
        durations.append(dur)
        events.append(np.arange(dur.size) < churn.sum())
        groups.append(np.full(dur.size, "all" if d.group is None else d.group, dtype=object))
    return kaplan_meier(
        np.concatenate(durations), np.concatenate(events), np.concatenate(groups), level=level
    )


def kaplan_meier_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
    level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan–Meier curves (Greenwood bands) of account-level data, time in renewal periods.

    Durations are converted to periods as in :func:`read_accounts` (an account active after t
    renewals counts as surviving renewal t).
    """
    parts = read_accounts(data, duration, event, group, period_months)
    return kaplan_meier(
        np.concatenate([d.periods for d in parts]),
        np.concatenate([d.churned for d in parts]),
        np.concatenate(
            [
                np.full(d.periods.size, "all" if d.group is None else d.group, dtype=object)
                for d in parts
            ]
        ),
        level=level,
    )


def survival_gap(observed: pd.DataFrame, simulated: pd.DataFrame) -> pd.DataFrame:
    """Largest gap between two Kaplan–Meier curves of each group, over the observed periods.

    ``observed``, ``simulated``: tables of :func:`simlib.survival.kaplan_meier` (time in
    renewal periods), e.g. :func:`kaplan_meier_retention` of the data and
    :func:`kaplan_meier_accounts` of a simulation. Both step curves are read at every whole
    period from 0 to the last time of ``observed`` in the group. Returns one row per group of
    ``observed``: ``group, max_abs_gap`` (|simulated - observed| survival), ``period`` (where
    it is largest), ``observed_n`` and ``simulated_n`` (accounts at risk at time 0).
    """

    def at(curve: pd.DataFrame, t: NDArray) -> NDArray[np.float64]:
        times = curve["time"].to_numpy(dtype=np.float64)
        i = np.searchsorted(times, t, side="right") - 1
        s = curve["survival"].to_numpy(dtype=np.float64)
        return np.where(i >= 0, s[np.maximum(i, 0)], 1.0)

    rows = []
    for name, obs in observed.groupby(observed["group"].astype(str), sort=False):
        sim = simulated[simulated["group"].astype(str) == name].sort_values("time")
        obs = obs.sort_values("time")
        t = np.arange(int(obs["time"].max()) + 1, dtype=np.float64)
        gap = np.abs(at(sim, t) - at(obs, t)) if len(sim) else np.full(t.size, np.nan)
        worst = int(np.nanargmax(gap)) if np.isfinite(gap).any() else 0
        rows.append(
            {
                "group": name,
                "max_abs_gap": float(gap[worst]),
                "period": int(t[worst]),
                "observed_n": int(obs["at_risk"].iloc[0]),
                "simulated_n": int(sim["at_risk"].iloc[0]) if len(sim) else 0,
            }
        )
    return pd.DataFrame(rows)
