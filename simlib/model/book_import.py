"""Import a customer book: start the simulation from real accounts (``population.from_csv``).

The CSV has one row per account alive today (month 0) with the columns

* ``id``: the account's identifier (text, unique);
* ``segment``: one of the scenario's segments (optional when the scenario has a single one);
* ``plan`` and/or ``mrr``: a plan on the segment's ladder, and/or the MRR billed (currency per
  month). With a plan and no MRR, the MRR is the plan's list price (less the annual discount on
  annual contracts); with an MRR and no plan, the plan is the one whose price is nearest. The
  account's size is MRR / (price x (1 - annual discount on annual contracts)).
* ``contract``: ``monthly`` or ``annual``;
* ``tenure_months``: whole months since the account started (>= 0); an annual account renews at
  the end of the months where ``(month + tenure_months) % 12 == 11``, i.e. on its real dates;
* ``satisfaction`` (optional): starting satisfaction in [0, 1] (blank: the account's fit).

Imported accounts have ``start_month`` 0 and the keys ``account_key(0, row_index)`` of a generated
opening book, and their base churn risk per renewal and product fit are drawn from the segment's
Beta distributions with the keyed draws of :func:`simlib.model.population.create_accounts`, so
scenarios that share a seed give each imported account the same luck; the risk is drawn from the
survivors' Beta(alpha, beta + renewals survived), as a seasoned book has lost its riskiest
accounts already. Every row is validated
first; errors (:class:`simlib.errors.DataError`) name the file, the line and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL, CONTRACT_MONTHLY
from ..engine import Simulation, register_run_input
from ..errors import DataError
from ..io.csv import CsvTable, parse_numbers, read_csv, read_header
from ..rng import keyed_uniform
from ..scenario import Scenario
from .population import SLOT_RISK, create_accounts

__all__ = ["ImportedBook", "check_book_header", "import_book", "read_book"]

_EXPECTED = (
    "columns id, segment, plan and/or mrr, contract (monthly/annual), tenure_months and "
    "optionally satisfaction"
)


@dataclass
class ImportedBook:
    """The validated accounts of a book CSV, as columns (row i = CSV data row i + 1)."""

    ids: NDArray[Any]  # the accounts' identifiers (text)
    segment: NDArray[np.int16]  # index into the scenario's segments
    plan: NDArray[np.int16]  # index into the segment's plan ladder
    size: NDArray[np.float64]  # MRR / effective list price
    mrr: NDArray[np.float64]  # currency per month
    contract: NDArray[np.int8]
    tenure_months: NDArray[np.int32]
    satisfaction: NDArray[np.float64]  # NaN where not given

    def __len__(self) -> int:
        return len(self.ids)


def _first(mask: NDArray[np.bool_]) -> int | None:
    """Index of the first True of ``mask``, or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _check_columns(table: CsvTable, scenario: Scenario) -> None:
    """The book's header has the columns the scenario needs (:class:`DataError` if not)."""
    header = table.header
    required = ["id", "contract", "tenure_months"]
    if len(scenario.segment_table()) > 1:
        required.insert(1, "segment")
    table.require(required, _EXPECTED)
    if "plan" not in header and "mrr" not in header:
        raise table.error(f"needs a 'plan' or an 'mrr' column; found {', '.join(header)}")


def check_book_header(path: str | Path, scenario: Scenario) -> None:
    """Check a book CSV without reading its rows: a regular, readable UTF-8 file whose header
    has the columns the scenario needs, followed by at least one data row. Raises
    :class:`DataError` as :func:`read_book` would (``simlib validate`` calls it)."""
    header = read_header(path, _EXPECTED)
    _check_columns(CsvTable(str(path), header, {}), scenario)


def read_book(path: str | Path, scenario: Scenario) -> ImportedBook:
    """Read and validate a book CSV against the scenario's segments and plan ladders.

    Columns are checked one after the other (id, segment, contract, tenure, plan and MRR,
    satisfaction); the first bad row of a column is reported with its line and what is allowed.
    Checks are vectorized, so a million-row book loads in seconds and in bounded memory.
    """
    table: CsvTable = read_csv(path, _EXPECTED)
    _check_columns(table, scenario)
    names = list(scenario.segment_table())
    ids = _read_ids(table)
    seg = _read_segments(table, names)
    annual = _read_annual(table)
    contract = np.where(annual, CONTRACT_ANNUAL, CONTRACT_MONTHLY).astype(np.int8)
    tenure = _read_tenure(table)
    plan, size, mrr = _read_plans(table, scenario, ids, seg, annual)
    satisfaction = _read_satisfaction(table)
    return ImportedBook(ids, seg, plan, size, mrr, contract, tenure, satisfaction)


def _read_ids(table: CsvTable) -> NDArray[Any]:
    """The ``id`` column: non-empty and unique (a repeat names the line of its first use)."""
    ids = table.text("id")
    if (i := _first(ids == "")) is not None:
        raise table.error("empty id", i, "id")
    order = np.argsort(ids, kind="stable")
    same = ids[order][1:] == ids[order][:-1]
    if same.any():
        i = int(order[1:][same].min())
        j = int(np.flatnonzero(ids == ids[i])[0])
        raise table.error(f"id {str(ids[i])!r} appears twice (also {table.where(j)})", i, "id")
    return ids


def _read_segments(table: CsvTable, names: list[str]) -> NDArray[np.int16]:
    """Each row's index into the scenario's segments (all 0 without a ``segment`` column)."""
    seg = np.zeros(len(table), dtype=np.int16)
    if "segment" in table.header:
        cells = table.text("segment")
        seg[:] = -1
        for k, name in enumerate(names):
            seg[cells == name] = k
        if (i := _first(seg < 0)) is not None:
            raise table.error(
                f"unknown segment {str(cells[i])!r}; the scenario's segments: {', '.join(names)}",
                i,
                "segment",
            )
    return seg


def _read_annual(table: CsvTable) -> NDArray[np.bool_]:
    """Whether each row's ``contract`` is annual (``monthly`` or ``annual``, any case)."""
    kind = np.strings.lower(table.text("contract"))
    annual = kind == "annual"
    if (i := _first(~annual & (kind != "monthly"))) is not None:
        raise table.error(
            f"must be 'monthly' or 'annual', got {table.cell(i, 'contract')!r}", i, "contract"
        )
    return annual


def _read_tenure(table: CsvTable) -> NDArray[np.int32]:
    """The ``tenure_months`` column: whole months, 0 to 10000."""
    t = parse_numbers(table, "tenure_months")
    if (i := _first((t < 0) | (t != np.floor(t)))) is not None:
        raise table.error(
            f"must be a whole number of months >= 0, got {t[i]:g}", i, "tenure_months"
        )
    if (i := _first(t > 10_000)) is not None:
        raise table.error(f"must be at most 10000 months, got {t[i]:g}", i, "tenure_months")
    return t.astype(np.int32)


def _read_plans(
    table: CsvTable,
    scenario: Scenario,
    ids: NDArray[Any],
    seg: NDArray[np.int16],
    annual: NDArray[np.bool_],
) -> tuple[NDArray[np.int16], NDArray[np.float64], NDArray[np.float64]]:
    """(plan, size, mrr) of each row from its ``plan`` and/or ``mrr`` cells (module docstring):
    a plan on the segment's ladder, an MRR >= 0 (currency per month), at least one of them."""
    header, n = table.header, len(table)
    plans = table.text("plan") if "plan" in header else np.full(n, "", dtype=ids.dtype)
    has_plan = plans != ""
    has_mrr = (table.text("mrr") != "") if "mrr" in header else np.zeros(n, dtype=bool)
    if (i := _first(~has_plan & ~has_mrr)) is not None:
        raise table.error("needs a plan or an mrr (both cells are empty)", i)
    mrr_given = parse_numbers(table, "mrr", blank=True) if "mrr" in header else np.full(n, np.nan)
    if (i := _first(mrr_given < 0)) is not None:
        raise table.error(f"must be >= 0 (currency per month), got {mrr_given[i]:g}", i, "mrr")

    plan = np.zeros(n, dtype=np.int16)
    size = np.ones(n)
    mrr = np.zeros(n)
    segments = scenario.segment_table()
    discount = scenario.contracts.annual_discount
    for s, name in enumerate(segments):
        in_segment = seg == s
        if not in_segment.any():
            continue
        cfg = segments[name]
        ladder = list(cfg.plans)
        if not ladder:
            i = _first(in_segment)
            raise table.error(f"segment {name!r} of the scenario has no plans", i, "segment")
        index = np.full(n, -1, dtype=np.int16)
        for k, plan_name in enumerate(ladder):
            index[in_segment & (plans == plan_name)] = k
        if (i := _first(in_segment & has_plan & (index < 0))) is not None:
            raise table.error(
                f"plan {str(plans[i])!r} is not on the ladder of segment {name!r}: "
                f"{', '.join(ladder)}",
                i,
                "plan",
            )
        list_prices = np.array([cfg.plans[p] for p in ladder], dtype=np.float64)
        for is_annual in (False, True):
            rows = np.flatnonzero(in_segment & (annual == is_annual))
            if not rows.size:
                continue
            prices = list_prices * (1.0 - discount if is_annual else 1.0)
            chosen = index[rows]
            value = mrr_given[rows]
            given = has_mrr[rows]
            nearest = np.argmin(np.abs(prices[None, :] - value[:, None]), axis=1)
            chosen = np.where(given & (chosen < 0), nearest, chosen).astype(np.int16)
            price = prices[chosen]
            plan[rows] = chosen
            mrr[rows] = np.where(given, value, price)
            with np.errstate(divide="ignore", invalid="ignore"):
                size[rows] = np.where(given & (price > 0), value / price, 1.0)
    return plan, size, mrr


def _read_satisfaction(table: CsvTable) -> NDArray[np.float64]:
    """The optional ``satisfaction`` column, in [0, 1] (NaN where blank or absent)."""
    satisfaction = np.full(len(table), np.nan)
    if "satisfaction" in table.header:
        satisfaction = parse_numbers(table, "satisfaction", blank=True)
        if (i := _first((satisfaction < 0) | (satisfaction > 1))) is not None:
            raise table.error(f"must lie in [0, 1], got {satisfaction[i]:g}", i, "satisfaction")
    return satisfaction


def _condition_risk_on_tenure(sim: Simulation, rows: slice, data: ImportedBook) -> None:
    """Draw each imported account's risk from the survivors' distribution.

    Under the shifted-beta-geometric model (Fader & Hardie 2007) the accounts that survived n
    renewals have churn probability ~ Beta(alpha, beta + n): the risky ones have left already.
    An account with ``tenure_months`` t has survived n = t renewals on a monthly contract and
    n = t // 12 on an annual one. The same keyed uniform is inverted, so the draw stays common
    between scenarios and equals a generated account's when n = 0.
    """
    from scipy.special import betaincinv

    book = sim.book
    segments = list(sim.scenario.segment_table().values())
    annual = data.contract == CONTRACT_ANNUAL
    survived = np.where(annual, data.tenure_months // 12, data.tenure_months)
    if not survived.any():
        return
    u = keyed_uniform(sim.streams.key("population"), book.key[rows], SLOT_RISK)
    risk = book.risk[rows]
    for s, cfg in enumerate(segments):
        for kind, is_annual in (("monthly", False), ("annual", True)):
            sel = (data.segment == s) & (annual == is_annual) & (survived > 0)
            if sel.any():
                dist = getattr(cfg.churn, kind)
                risk[sel] = betaincinv(dist.alpha, dist.beta + survived[sel], u[sel])
    book.risk[rows] = risk


@register_run_input("book")
def _load_book(scenario: Scenario) -> ImportedBook | None:
    """The scenario's book CSV (``population.from_csv``), read and validated once per run."""
    path = scenario.population.from_csv
    return read_book(path, scenario) if path is not None else None


def import_book(sim: Simulation, book: str | Path | ImportedBook) -> slice:
    """Append the accounts of a book (its CSV path, or the :class:`ImportedBook` read from it)
    to ``sim`` as its opening book (month 0).

    Returns their rows. Raises :class:`DataError` (nothing is appended) on any invalid row.
    """
    data = book if isinstance(book, ImportedBook) else read_book(book, sim.scenario)
    if len(data) == 0:  # pragma: no cover - read_csv refuses a file without data rows
        raise DataError(f"{book}: no accounts")
    rows = create_accounts(
        sim,
        0,
        np.arange(len(data), dtype=np.int64),
        segment=data.segment,
        contract_type=data.contract,
    )
    accounts = sim.book
    accounts.plan[rows] = data.plan
    accounts.size[rows] = data.size
    accounts.mrr[rows] = data.mrr
    accounts.initial_mrr[rows] = data.mrr
    # an annual account renews at the end of month m when (m - anniversary) % 12 == 11
    accounts.anniversary[rows] = -data.tenure_months
    _condition_risk_on_tenure(sim, rows, data)
    given = ~np.isnan(data.satisfaction)
    if given.any():
        sat = accounts.satisfaction[rows]
        sat[given] = np.clip(data.satisfaction[given], 1e-6, 1 - 1e-6)
    return rows
