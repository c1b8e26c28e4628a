"""Kaplan–Meier survival curves with Greenwood confidence bands, as tidy tables.

For each group, at every distinct observed time ``t`` (in months) with ``n`` accounts at risk
(duration >= t) and ``d`` churn events at ``t``::

    S(t)      = prod_{t_i <= t} (1 - d_i / n_i)
    Var[S(t)] = S(t)^2 x sum_{t_i <= t} d_i / (n_i (n_i - d_i))          (Greenwood 1926)

Bands are pointwise. ``ci="log-log"`` (the default, as in most survival software) transforms
with ``log(-log S)`` so the band stays inside [0, 1]:
``S ^ exp(+- z x sqrt(sum d/(n(n-d))) / log S)``; ``ci="plain"`` is ``S +- z x sqrt(Var)``
clipped to [0, 1]. Censored durations at a time with events count as at risk at that time
(events happen first).

For accounts, a churned account's duration is ``lifetime_months`` (months billed, event 1);
an account alive at the horizon was billed ``lifetime_months`` months but its renewal at the
end of the last month lies beyond the horizon, so it is right-censored at ``lifetime_months -
1`` renewals passed (as in :func:`simlib.calibrate.survival_data_from_accounts`). ``survival``
at ``t`` is then the estimated share of accounts still subscribed after ``t`` monthly renewals.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri

__all__ = ["SURVIVAL_COLUMNS", "account_survival", "kaplan_meier"]

#: Columns of every table this module returns (``censored`` follows them).
SURVIVAL_COLUMNS = ("group", "time", "at_risk", "events", "survival", "ci_low", "ci_high")


def _km_one(durations: np.ndarray, events: np.ndarray, z: float, ci: str) -> dict[str, np.ndarray]:
    times = np.unique(durations)
    # at_risk(t) = count of durations >= t; events/censored at exactly t
    sorted_d = np.sort(durations)
    at_risk = sorted_d.size - np.searchsorted(sorted_d, times, side="left")
    n_events = np.bincount(np.searchsorted(times, durations[events]), minlength=times.size)
    n_total = np.bincount(np.searchsorted(times, durations), minlength=times.size)
    censored = n_total - n_events
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - n_events / at_risk
        surv = np.cumprod(factor)
        denom = at_risk * (at_risk - n_events)
        term = np.where(n_events > 0, n_events / np.where(denom > 0, denom, 1), 0.0)
        term = np.where((n_events > 0) & (denom <= 0), np.inf, term)
        greenwood = np.cumsum(term)
        if ci == "plain":
            half = z * np.sqrt(surv**2 * greenwood)
            low = np.clip(surv - half, 0.0, 1.0)
            high = np.clip(surv + half, 0.0, 1.0)
        else:
            se = np.sqrt(greenwood) / np.abs(np.log(surv))
            low = surv ** np.exp(z * se)
            high = surv ** np.exp(-z * se)
    # Degenerate points: before the first event the band is [1, 1]; at S = 0 it is [0, 0].
    no_event_yet = greenwood == 0
    low = np.where(no_event_yet, surv, low)
    high = np.where(no_event_yet, surv, high)
    zero = surv <= 0
    low = np.where(zero, 0.0, low)
    high = np.where(zero, 0.0, high)
    return {
        "time": times,
        "at_risk": at_risk.astype(np.int64),
        "events": n_events.astype(np.int64),
        "survival": surv,
        "ci_low": low,
        "ci_high": high,
        "censored": censored.astype(np.int64),
    }


def kaplan_meier(
    durations: ArrayLike,
    events: ArrayLike,
    groups: ArrayLike | None = None,
    level: float = 0.95,
    ci: Literal["log-log", "plain"] = "log-log",
    start_at_zero: bool = True,
) -> pd.DataFrame:
    """Kaplan–Meier estimate per group with pointwise Greenwood bands at ``level``.

    ``durations``: time to the event or to censoring (months, >= 0); ``events``: True where the
    event (churn) was observed, False where censored; ``groups``: a label per row (None: one
    group named ``"all"``). Returns one row per (group, distinct time) with columns
    ``group, time, at_risk, events, survival, ci_low, ci_high, censored``; with
    ``start_at_zero`` each group starts with a row at time 0 and survival 1 (unless a
    duration of 0 already gives one).
    """
    if ci not in ("log-log", "plain"):
        raise ValueError(f"ci must be 'log-log' or 'plain', got {ci!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(events, dtype=bool)
    if d.shape != e.shape:
        raise ValueError("durations and events must have the same length")
    if np.any(np.isnan(d)) or np.any(d < 0):
        raise ValueError("durations must be non-negative numbers")
    g = (
        np.full(d.shape, "all", dtype=object)
        if groups is None
        else np.asarray(groups, dtype=object)
    )
    z = float(ndtri(0.5 + level / 2))
    frames = []
    for name in pd.unique(g):
        mask = g == name
        if not mask.any():
            continue
        cols = _km_one(d[mask], e[mask], z, ci)
        frame = pd.DataFrame(cols)
        if start_at_zero and frame["time"].iloc[0] > 0:
            first = pd.DataFrame(
                {
                    "time": [0.0],
                    "at_risk": [int(mask.sum())],
                    "events": [0],
                    "survival": [1.0],
                    "ci_low": [1.0],
                    "ci_high": [1.0],
                    "censored": [0],
                }
            )
            frame = pd.concat([first, frame], ignore_index=True)
        frame.insert(0, "group", name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*SURVIVAL_COLUMNS, "censored"])
    out = pd.concat(frames, ignore_index=True)
    if np.all(np.mod(out["time"], 1) == 0):
        out["time"] = out["time"].astype(np.int64)
    return out


def account_survival(
    accounts: pd.DataFrame,
    by: str | None = None,
    level: float = 0.95,
    ci: Literal["log-log", "plain"] = "log-log",
) -> pd.DataFrame:
    """Kaplan–Meier curves of account lifetimes from an ``accounts`` table.

    Pools every replication (they are independent draws of the same book). ``by`` names a
    column to group by (``"segment"``, ``"contract"``, ``"scenario"``, ...); None gives one
    curve named ``"all"``. Time is in months since the account started; accounts alive at the
    horizon are censored at ``lifetime_months - 1`` (see the module docstring).
    """
    groups = None
    if by is not None:
        if by not in accounts.columns:
            raise KeyError(f"accounts has no column {by!r}")
        groups = accounts[by].astype(str).to_numpy()
    churned = accounts["churned"].to_numpy(dtype=bool)
    life = accounts["lifetime_months"].to_numpy(dtype=np.int64)
    return kaplan_meier(
        np.where(churned, life, life - 1),
        churned,
        groups,
        level=level,
        ci=ci,
    )
