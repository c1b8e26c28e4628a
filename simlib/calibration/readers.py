"""Calibration data: cohort retention tables and account-level tenure data, validated.

Both read a CSV file (:func:`simlib.io.csv.read_csv`), a DataFrame or a
:class:`~simlib.io.csv.CsvTable`. Input errors raise :class:`simlib.errors.DataError` naming the
file, the CSV line (and 1-based data row) and the column; nothing is fitted on bad data.
:func:`retention_counts` and :func:`account_counts` give the sufficient statistics that
:func:`simlib.calibration.fitting.fit_sbg` takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import DataError
from ..io.csv import CsvTable, as_table, group_rows, labels, parse_numbers, parse_whole

__all__ = [
    "AccountData",
    "RetentionData",
    "account_counts",
    "read_accounts",
    "read_retention",
    "retention_counts",
]

_RETENTION_COLUMNS = (
    "columns period, alive (period 0 first = the cohort size) and optionally segment"
)


@dataclass
class RetentionData:
    """A validated cohort retention table of one group: ``alive[t]`` after ``t`` periods."""

    group: str | None
    alive: NDArray[np.int64]

    @property
    def periods(self) -> int:
        return len(self.alive) - 1


def read_retention(
    data: str | Path | pd.DataFrame | CsvTable, group_column: str = "segment"
) -> list[RetentionData]:
    """Validate a cohort retention table (columns ``period, alive`` and optional ``segment``).

    Periods are whole numbers of renewal periods; each group needs periods 0, 1, 2, ... without
    gaps or repeats (any row order); ``alive`` is a whole count, > 0 at period 0, never rising.
    """
    table = as_table(data, _RETENTION_COLUMNS)
    table.require(["period", "alive"], _RETENTION_COLUMNS)
    period = parse_whole(table, "period", "periods since the cohort started")
    alive = parse_whole(table, "alive", "a count of accounts")
    has_group = group_column in table.header
    groups: list[tuple[str | None, NDArray[np.intp]]] = (
        list(group_rows(labels(table, group_column)))
        if has_group
        else [(None, np.arange(len(table)))]
    )
    out: list[RetentionData] = []
    for name, rows in groups:
        idx = rows[np.argsort(period[rows], kind="stable")]
        label = f"segment {name!r}: " if name is not None else ""
        _check_periods(table, period, alive, idx, label)
        counts = alive[idx]
        _check_counts(table, counts, label)
        out.append(RetentionData(name, counts))
    return out


def _check_periods(
    table: CsvTable,
    period: NDArray[np.int64],
    alive: NDArray[np.int64],
    idx: NDArray[np.intp],
    label: str,
) -> None:
    """One group's rows (``idx``, in period order) run 0, 1, 2, ... with ``alive`` never rising."""
    step = np.diff(period[idx])
    repeated = np.flatnonzero(step == 0)
    if repeated.size:
        k = int(repeated[0])
        i, j = int(idx[k + 1]), int(idx[k])
        raise table.error(
            f"{label}period {period[i]} appears twice (also {table.where(j)})", i, "period"
        )
    first = idx[0]
    if period[first] != 0:
        raise table.error(
            f"{label}the first period is {period[first]}; period 0 (the cohort size) is missing",
            first,
            "period",
        )
    rises = np.diff(alive[idx]) > 0
    broken = np.flatnonzero((step != 1) | rises)
    if broken.size:
        k = int(broken[0])
        prev, i = int(idx[k]), int(idx[k + 1])
        if period[i] != period[prev] + 1:
            raise table.error(
                f"{label}period {period[i]} follows period {period[prev]}; periods must "
                "run 0, 1, 2, ... without gaps",
                i,
                "period",
            )
        raise table.error(
            f"{label}alive rises from {alive[prev]} (period {period[prev]}) to "
            f"{alive[i]}; a cohort can only shrink",
            i,
            "alive",
        )
    if alive[first] == 0:
        raise table.error(f"{label}the cohort size (period 0) is 0", first, "alive")


def _check_counts(table: CsvTable, counts: NDArray[np.int64], label: str) -> None:
    """A cohort (alive after 0, 1, 2, ... periods) that can tell alpha from beta."""
    if len(counts) < 3:
        raise table.error(
            f"{label}needs at least periods 0, 1 and 2 to tell alpha from beta, got "
            f"{len(counts)} row(s)",
            column="period",
        )
    if counts[-1] == counts[0]:
        raise table.error(f"{label}no account churned; there is nothing to fit", column="alive")
    if counts[1] == 0:
        raise table.error(
            f"{label}every account churned at the first renewal; alpha and beta cannot be "
            "told apart",
            column="alive",
        )


def retention_counts(
    d: RetentionData, fit_periods: int | None = None
) -> tuple[NDArray, NDArray, list[float], list[float]]:
    """Counts for :func:`~simlib.calibration.fitting.fit_sbg` (periods 0..``fit_periods``)."""
    alive = d.alive if fit_periods is None else d.alive[: fit_periods + 1]
    t = np.arange(1, len(alive), dtype=np.float64)
    churn = (alive[:-1] - alive[1:]).astype(np.float64)
    return t, churn, [float(len(alive) - 1)], [float(alive[-1])]


_ACCOUNT_COLUMNS = "a duration column and a 0/1 event column (1 = churned, 0 = still active)"


@dataclass
class AccountData:
    """Validated account-level data of one group, in whole renewal periods.

    ``periods[i]``: the renewal at which account i churned (``churned[i]``) or the number of
    renewals it has passed so far (still active, right-censored).
    """

    group: str | None
    periods: NDArray[np.int64]
    churned: NDArray[np.bool_]


def read_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
) -> list[AccountData]:
    """Validate account-level tenure data and convert durations to renewal periods.

    ``duration``: tenure in months (>= 0, fractions allowed) when ``period_months`` = K > 1, or
    whole renewal periods when K = 1 (monthly: periods and months agree). An account that
    churned (event 1) after ``m`` months left at renewal ``ceil(m / K)`` (>= 1, so m > 0); one
    still active (event 0) with tenure ``m`` has passed ``floor(m / K)`` renewals. For a monthly
    account still active, the tenure is the months since it started up to its last renewal
    (its current, paid month not counted).
    """
    if period_months < 1 or int(period_months) != period_months:
        raise DataError(f"period_months must be a whole number >= 1, got {period_months}")
    table = as_table(data, _ACCOUNT_COLUMNS)
    cols = [duration, event] + ([group] if group else [])
    table.require(cols, _ACCOUNT_COLUMNS + (f" and the group column {group!r}" if group else ""))
    dur = parse_numbers(table, duration)
    ev = parse_numbers(table, event)
    bad_duration = dur < 0
    bad_event = (ev != 0.0) & (ev != 1.0)
    bad_churn = (ev == 1.0) & (dur == 0)
    bad = np.flatnonzero(bad_duration | bad_event | bad_churn)
    if bad.size:
        i = int(bad[0])
        if bad_duration[i]:
            raise table.error(f"a duration must be >= 0, got {dur[i]:g}", i, duration)
        if bad_event[i]:
            raise table.error(
                f"must be 0 (still active) or 1 (churned), got {table.cell(i, event)!r}",
                i,
                event,
            )
        raise table.error(
            "a churned account needs a duration > 0 (it leaves at a renewal)", i, duration
        )
    churned = ev == 1.0
    k = float(period_months)
    periods = np.where(churned, np.ceil(dur / k - 1e-9), np.floor(dur / k + 1e-9)).astype(np.int64)
    groups: list[tuple[str | None, NDArray[np.intp]]] = (
        list(group_rows(labels(table, group))) if group else [(None, np.arange(len(dur)))]
    )
    out = []
    for name, mask in groups:
        p, c = periods[mask], churned[mask]
        label = f"group {name!r}: " if name is not None else ""
        if not c.any():
            raise table.error(f"{label}no account churned; there is nothing to fit", column=event)
        if not (p >= 2).any():  # only P(T=1) and S(1) terms: they fix the mean, not the spread
            raise table.error(
                f"{label}no account was seen beyond its first renewal; alpha and beta cannot be "
                "told apart",
                column=duration,
            )
        out.append(AccountData(name, p, c))
    return out


def account_counts(d: AccountData) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Counts for :func:`~simlib.calibration.fitting.fit_sbg`: churn and censoring by period."""
    ct, cw = np.unique(d.periods[d.churned], return_counts=True)
    st, sw = np.unique(d.periods[~d.churned], return_counts=True)
    return ct, cw, st, sw
