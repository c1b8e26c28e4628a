"""The account book: every account of one replication as columns (numpy arrays).

Accounts are rows in arrival order; a row is never removed (a churned account keeps its row with
``alive`` false and its ``mrr`` set to 0, so sums over the whole book need no mask). The core
columns below are what every replication needs; a mechanism keeps its own state in its own
columns: :func:`register_column` (a column every book has, declared by the mechanism's module,
for state other mechanisms may read, such as ``champion_lost``) or :meth:`AccountBook.add_column`
(a column the running actor adds for itself).

Units: months for time columns, currency per month for ``mrr``, currency for ``revenue``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .config.base import MAX_ACCOUNTS
from .errors import UserInputError
from .registry import Registry

#: Most rows a book may hold: the accounts a run may hold (:data:`MAX_ACCOUNTS`, checked before a
#: run from the scenario's acquisitions) with the 20 % margin the engine reserves for them.
BOOK_LIMIT = MAX_ACCOUNTS + MAX_ACCOUNTS // 5

__all__ = [
    "BOOK_COLUMNS",
    "BOOK_LIMIT",
    "CONTRACT_ANNUAL",
    "CONTRACT_MONTHLY",
    "AccountBook",
    "register_column",
]

CONTRACT_MONTHLY = 0
CONTRACT_ANNUAL = 1
CONTRACT_NAMES = ("monthly", "annual")

_CORE_COLUMNS: dict[str, tuple[type, float | int | bool]] = {
    "key": (np.uint64, 0),  # stable identity for keyed random draws (rng.account_key)
    "segment": (np.int16, 0),  # index into the scenario's segment list
    "plan": (np.int16, 0),  # index into the segment's plan ladder (cheapest = 0)
    "size": (np.float64, 1.0),  # size multiplier: MRR = price x size (x annual discount)
    "contract": (np.int8, CONTRACT_MONTHLY),
    "anniversary": (np.int32, 0),  # annual renewal at the end of month m when (m - a) % 12 == 11
    "start_month": (np.int32, 0),
    "end_month": (np.int32, -1),  # last month billed by a churned account; -1 while alive
    "alive": (np.bool_, False),
    "risk": (np.float64, 0.0),  # base churn probability per renewal ~ Beta (Fader & Hardie 2007)
    "fit": (np.float64, 0.5),  # product fit: satisfaction drifts back to it
    "fit_logit": (np.float64, 0.0),  # logit(fit), kept for the monthly drift
    "satisfaction": (np.float64, 0.5),  # latent satisfaction / health, 0-1
    "tier": (np.int8, 0),  # CS tier (0 = none)
    "mrr": (np.float64, 0.0),  # MRR billed now (0 once churned), currency per month
    "initial_mrr": (np.float64, 0.0),
    "final_mrr": (np.float64, 0.0),  # MRR of the last month billed
    "revenue": (np.float64, 0.0),  # revenue billed so far, currency
    "discounted_revenue": (np.float64, 0.0),  # sum of revenue(m) x d^m, d = (1 + rate)^(-1/12)
}


#: Columns declared by mechanisms (name -> (dtype, fill)), added to every book after the core.
BOOK_COLUMNS: Registry[tuple[type, float | int | bool]] = Registry("book column")


def register_column(name: str, dtype: type, fill: float | int | bool = 0) -> None:
    """Declare a column every account book has (a mechanism's state others may read)."""
    if name in _CORE_COLUMNS:
        raise ValueError(f"{name!r} is a core column of the account book")
    if BOOK_COLUMNS.get(name) != (dtype, fill):  # the same declaration twice is harmless
        BOOK_COLUMNS.add(name, (dtype, fill))


@dataclass
class AccountBook:
    """Columnar store of accounts; grows by doubling, views cover the first ``n`` rows."""

    capacity: int = 1024
    n: int = 0
    _data: dict[str, NDArray] = field(default_factory=dict)
    _fill: dict[str, float | int | bool] = field(default_factory=dict)
    reported: list[str] = field(default_factory=list)
    churns: int = 0  # calls of :meth:`churn` so far (a row that churned stays churned)

    def __post_init__(self) -> None:
        self.capacity = max(16, int(self.capacity))
        for name, (dtype, fill) in (*_CORE_COLUMNS.items(), *BOOK_COLUMNS.items()):
            self.add_column(name, dtype, fill)

    def add_column(
        self,
        name: str,
        dtype: type | np.dtype,
        fill: float | int | bool = 0,
        report: bool = False,
    ) -> None:
        """Add a column (a mechanism's own state), filled with ``fill`` for existing rows.

        ``report=True`` adds it to the accounts table beside the contract's columns.
        """
        if name in self._data:
            raise ValueError(f"column {name!r} exists already")
        # rows past ``n`` are filled when :meth:`append` hands them out: memory no row uses yet
        # is never touched
        self._data[name] = np.empty(self.capacity, dtype=dtype)
        self._data[name][: self.n] = fill
        self._fill[name] = fill
        self.__dict__[name] = self._data[name][: self.n]
        if report:
            self.reported.append(name)

    # Each column's view of the first ``n`` rows is kept in the instance's ``__dict__`` (renewed
    # when rows are added), so ``book.mrr`` is a plain attribute look-up: the model reads columns
    # tens of thousands of times a run.
    def _renew_views(self) -> None:
        n = self.n
        for name, arr in self._data.items():
            self.__dict__[name] = arr[:n]

    def __getstate__(self) -> dict[str, object]:  # views are not state: a copy renews them
        return {k: v for k, v in self.__dict__.items() if k not in self.__dict__["_data"]}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._renew_views()

    def __getattr__(self, name: str) -> NDArray:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name][: self.__dict__["n"]]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: object) -> None:
        # ``book.revenue += x`` re-assigns the attribute: write into the column, never shadow it
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            target = data[name][: self.__dict__["n"]]
            if not (
                isinstance(value, np.ndarray)
                and value.shape == target.shape
                and value.__array_interface__["data"][0] == target.__array_interface__["data"][0]
            ):
                target[...] = value
            return
        object.__setattr__(self, name, value)

    def column(self, name: str) -> NDArray:
        """The first ``n`` rows of a column (a view: writes go to the book)."""
        return self._data[name][: self.n]

    @property
    def columns(self) -> list[str]:
        return list(self._data)

    def append(self, k: int) -> slice:
        """Make room for ``k`` new rows (filled with each column's fill value); their slice.

        A book never grows past :data:`BOOK_LIMIT` rows: accounts that arrive faster than the
        scenario's bounds foresaw (referrals, which compound, are not bounded before a run)
        stop the run with a :class:`~simlib.errors.UserInputError` instead of a ``MemoryError``.
        """
        start = self.n
        needed = start + k
        if needed > BOOK_LIMIT:
            raise UserInputError(
                f"the run's book grew past {BOOK_LIMIT:,} accounts (the {MAX_ACCOUNTS:,} a run "
                "may hold, plus the engine's 20 % margin): referrals (loyalty.promoter and "
                "loyalty.fan referral_rate, loyalty.champion_referral) or acquisitions add "
                "accounts faster than that; lower them or horizon_months"
            )
        if needed > self.capacity:
            new_cap = max(needed, min(2 * self.capacity, BOOK_LIMIT))  # never past the limit
            for name, arr in self._data.items():
                grown = np.empty(new_cap, dtype=arr.dtype)
                grown[:start] = arr[:start]
                self._data[name] = grown
            self.capacity = new_cap
        for name, arr in self._data.items():
            arr[start:needed] = self._fill[name]
        self.n = needed
        self._renew_views()
        return slice(start, needed)

    def alive_index(self) -> NDArray[np.intp]:
        """Row numbers of the accounts alive now."""
        return np.flatnonzero(self.column("alive"))

    def churn(self, rows: NDArray[np.intp], month: int) -> float:
        """Churn ``rows`` at the end of ``month``; returns the MRR they took with them."""
        self.churns += 1
        mrr = self._data["mrr"]
        lost = float(mrr[rows].sum())
        self._data["final_mrr"][rows] = mrr[rows]
        mrr[rows] = 0.0
        self._data["alive"][rows] = False
        self._data["end_month"][rows] = month
        return lost
