"""Reading an account-month panel (``simlib calibrate panel``): every bad cell named by file, row
and column, nothing fitted on a bad panel.

A panel has one row per account and month alive: the account, the month (whole numbers), the
health score the CRM recorded that month, a 0/1 churn flag (1 in the month at whose end the
account left) and optionally the MRR, the contract (``monthly`` or ``annual``, one per account),
a group (e.g. the segment, one per account) and, per offer kind ``K``, ``offers_made_K`` and
``offers_accepted_K`` (the columns of ``simlib run --panel``, :mod:`simlib.model.panel`). With a
``replication`` column, accounts are told apart by (replication, account). Each account's rows
must run month by month from its first month in the panel (its start: the churn risk is drawn
then, and its tenure counts from there), with no month twice or missing, at most one churn and
nothing after it; an annual account churns only at a 12-month renewal (the end of its 12th,
24th, ... month in the panel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import DataError
from ..io.csv import CsvTable, as_table, parse_numbers, read_csv

__all__ = ["CONTRACTS", "PanelData", "read_panel"]

#: Contract values a ``--contract`` column may hold, as the simulator's tables write them.
CONTRACTS = ("monthly", "annual")


@dataclass
class PanelData:
    """A validated panel, rows sorted by account then month. ``account``: 0-based account code
    per row; ``health``: 0-1; ``offers``: kind -> (made, accepted) per row; ``annual``: per row,
    whether the account is on an annual contract (None: every account monthly); ``group``: per
    row, the account's group label (None: no groups)."""

    source: str
    account: NDArray[np.int64]
    month: NDArray[np.int64]
    health: NDArray[np.float64]
    churned: NDArray[np.bool_]
    offers: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = field(default_factory=dict)
    score_range: tuple[float, float] = (0.0, 1.0)
    annual: NDArray[np.bool_] | None = None
    group: NDArray[np.object_] | None = None

    @property
    def accounts(self) -> int:
        return int(self.account.max(initial=-1)) + 1

    @property
    def starts(self) -> NDArray[np.int64]:
        """Index of each account's first row."""
        return np.flatnonzero(np.r_[True, self.account[1:] != self.account[:-1]])

    @property
    def tenure(self) -> NDArray[np.int64]:
        """Months of tenure at the end of each row's month: 1 in the account's first month."""
        first = np.repeat(self.month[self.starts], np.diff(np.r_[self.starts, self.account.size]))
        return self.month - first + 1

    @property
    def groups(self) -> list[str | None]:
        """Group labels in sorted order ([None] without groups)."""
        return [None] if self.group is None else [str(g) for g in np.unique(self.group)]


def _load(data: str | Path | pd.DataFrame | CsvTable, expected: str) -> CsvTable:
    if isinstance(data, str | Path) and str(data).lower().endswith(".parquet"):
        try:
            frame = pd.read_parquet(data)
        except (OSError, ValueError) as exc:
            raise DataError(f"{data}: cannot read the parquet file ({exc})") from None
        if frame.empty:
            raise DataError(f"{data}: no data rows; expected {expected}")
        return CsvTable.from_frame(frame, str(data))
    if isinstance(data, str | Path):
        if not str(data).lower().endswith(".csv"):
            raise DataError(f"{data}: a panel is a .csv or a .parquet file")
        return read_csv(data, expected)
    return as_table(data, expected)


def read_panel(
    data: str | Path | pd.DataFrame | CsvTable,
    account: str = "account_id",
    month: str = "month",
    health: str = "health",
    churned: str = "churned",
    mrr: str = "mrr",
    score_range: tuple[float, float] = (0.0, 1.0),
    contract: str | None = None,
    group: str | None = None,
) -> PanelData:
    """Validate a panel (see the module); every bad cell is named by file, row and column.
    ``contract``: the column of each account's contract (``monthly``/``annual``; None: all
    monthly); ``group``: a column to fit by (one value per account)."""
    optional = [c for c in (contract, group) if c]
    expected = (
        f"columns {account}, {month}, {health}, {churned}"
        + "".join(f", {c}" for c in optional)
        + f" (and optionally {mrr})"
    )
    table = _load(data, expected)
    table.require([account, month, health, churned, *optional], expected)
    m, c, w = _numbers(table, month, churned, health, score_range)
    if mrr in table.header:
        money = parse_numbers(table, mrr)
        bad = np.flatnonzero(money < 0)
        if bad.size:
            raise table.error(f"MRR must be >= 0, got {money[bad[0]]:g}", int(bad[0]), mrr)
    ids = _account_ids(table, account)
    order = np.lexsort((m, ids))
    _check_sequences(table, ids, m, c, order, account, month, churned)
    code = np.unique(ids[order], return_inverse=True)[1].astype(np.int64)
    annual = None
    if contract:
        annual = _contracts(table, contract, ids, order, account) == "annual"
    labels = None
    if group:
        labels = _per_account(table, group, ids, order, account, table.text(group))
    lo, hi = score_range
    out = PanelData(
        table.source,
        code,
        m[order].astype(np.int64),
        (w[order] - lo) / (hi - lo),
        c[order] == 1,
        _offers(table, order),
        (float(lo), float(hi)),
        annual,
        labels,
    )
    if annual is not None:
        _check_annual_churn(table, out, order, account, churned)
    return out


def _numbers(
    table: CsvTable, month: str, churned: str, health: str, score_range: tuple[float, float]
) -> tuple[NDArray, NDArray, NDArray]:
    """The month (whole, >= 0), churn flag (0/1) and health (within the range) columns."""
    m = parse_numbers(table, month)
    bad = np.flatnonzero((m < 0) | (m != np.floor(m)))
    if bad.size:
        i = int(bad[0])
        raise table.error(f"must be a whole month >= 0, got {table.cell(i, month)!r}", i, month)
    c = parse_numbers(table, churned)
    bad = np.flatnonzero((c != 0) & (c != 1))
    if bad.size:
        i = int(bad[0])
        raise table.error(
            f"must be 0 (stayed) or 1 (churned at the end of the month), got "
            f"{table.cell(i, churned)!r}",
            i,
            churned,
        )
    w = parse_numbers(table, health)
    lo, hi = score_range
    bad = np.flatnonzero((w < lo) | (w > hi))
    if bad.size:
        i = int(bad[0])
        raise table.error(
            f"a health score must lie in the range {lo:g}..{hi:g} (--health-range), got {w[i]:g}",
            i,
            health,
        )
    return m, c, w


def _account_ids(table: CsvTable, account: str) -> NDArray[np.int64]:
    """An integer per (replication, account) (text labels allowed); a blank is refused."""
    names = table.text(account)
    blank = np.flatnonzero(names == "")
    if blank.size:
        raise table.error("empty cell; every row needs its account", int(blank[0]), account)
    code = np.unique(names, return_inverse=True)[1].astype(np.int64)
    if "replication" in table.header and account != "replication":
        rep = np.unique(table.text("replication"), return_inverse=True)[1].astype(np.int64)
        code = rep * (int(code.max(initial=0)) + 1) + code
    return code


def _check_sequences(
    table: CsvTable,
    ids: NDArray,
    m: NDArray,
    c: NDArray,
    order: NDArray,
    account: str,
    month: str,
    churned: str,
) -> None:
    """Per account, in month order: no month twice, no gap, one churn at most, none after."""
    same = ids[order][1:] == ids[order][:-1]
    step = np.diff(m[order])
    prev, cur = order[:-1], order[1:]
    twice = np.flatnonzero(same & (step == 0))
    after = np.flatnonzero(same & (c[prev] == 1))
    gap = np.flatnonzero(same & (step > 1))
    who = table.cell
    if twice.size:
        k = int(twice[0])
        raise table.error(
            f"account {who(int(cur[k]), account)!r} has month {m[cur[k]]:g} twice (also "
            f"{table.where(int(prev[k]))}); a panel has one row per account and month",
            int(cur[k]),
            month,
        )
    if after.size:
        k = int(after[0])
        again = c[cur[k]] == 1
        what = "churns a second time" if again else "is alive after churning"
        raise table.error(
            f"account {who(int(cur[k]), account)!r} {what} in month {m[cur[k]]:g} (it churned "
            f"at the end of month {m[prev[k]]:g}, {table.where(int(prev[k]))})",
            int(cur[k]),
            churned if again else month,
        )
    if gap.size:
        k = int(gap[0])
        raise table.error(
            f"account {who(int(cur[k]), account)!r}: months out of order, month "
            f"{m[prev[k]]:g} is followed by month {m[cur[k]]:g}; a panel needs every month an "
            "account is alive",
            int(cur[k]),
            month,
        )


def _per_account(
    table: CsvTable, column: str, ids: NDArray, order: NDArray, account: str, text: NDArray
) -> NDArray[np.object_]:
    """A label column (``text``, the column's cells) that holds one value per account, sorted
    like the panel; a blank or a change within an account is refused, naming the row."""
    blank = np.flatnonzero(text == "")
    if blank.size:
        raise table.error("empty cell; every row needs a value", int(blank[0]), column)
    same = ids[order][1:] == ids[order][:-1]
    changes = np.flatnonzero(same & (text[order][1:] != text[order][:-1]))
    if changes.size:
        i, j = int(order[changes[0]]), int(order[changes[0] + 1])
        raise table.error(
            f"account {table.cell(j, account)!r} changes from {str(text[i])!r} "
            f"({table.where(i)}) to {str(text[j])!r}; calibrate panel takes one value per account",
            j,
            column,
        )
    return np.asarray(text[order].astype(object))


def _contracts(
    table: CsvTable, column: str, ids: NDArray, order: NDArray, account: str
) -> NDArray[np.object_]:
    """The contract column: ``monthly`` or ``annual`` (case and spaces ignored), one per account."""
    text = np.strings.lower(table.text(column))
    bad = np.flatnonzero(~np.isin(text, CONTRACTS))
    if bad.size:
        i = int(bad[0])
        raise table.error(
            f"a contract must be one of {', '.join(CONTRACTS)}, got {table.cell(i, column)!r}",
            i,
            column,
        )
    return _per_account(table, column, ids, order, account, text)


def _check_annual_churn(
    table: CsvTable, d: PanelData, order: NDArray, account: str, churned: str
) -> None:
    """An annual account churns at its 12-month renewals only."""
    assert d.annual is not None
    bad = np.flatnonzero(d.annual & d.churned & (d.tenure % 12 != 0))
    if bad.size:
        k = int(bad[0])
        i = int(order[k])
        raise table.error(
            f"account {table.cell(i, account)!r} is on an annual contract but churns at the end "
            f"of month {d.month[k]} (its month {d.tenure[k]} in the panel); an annual account "
            "renews, and can churn, at the end of its 12th, 24th, ... month only",
            i,
            churned,
        )


def _offers(table: CsvTable, order: NDArray) -> dict[str, tuple[NDArray, NDArray]]:
    """``offers_made_K`` / ``offers_accepted_K`` pairs (whole, accepted <= made)."""
    out = {}
    for col in table.header:
        if not col.startswith("offers_made_"):
            continue
        kind = col[len("offers_made_") :]
        acc = f"offers_accepted_{kind}"
        if acc not in table.header:
            raise table.error(f"{col} needs its column {acc!r}", column=col)
        made, took = parse_numbers(table, col), parse_numbers(table, acc)
        bad = np.flatnonzero((made < 0) | (made != np.floor(made)))
        if bad.size:
            raise table.error("must be a whole count >= 0", int(bad[0]), col)
        bad = np.flatnonzero((took < 0) | (took != np.floor(took)) | (took > made))
        if bad.size:
            raise table.error("must be a whole count from 0 to the offers made", int(bad[0]), acc)
        if made.sum() > 0:
            out[kind] = (made[order], took[order])
    return out
