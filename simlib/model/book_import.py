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

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL, CONTRACT_MONTHLY
from ..calibrate import CsvTable, parse_number, read_csv
from ..engine import Simulation
from ..errors import DataError
from ..rng import keyed_uniform
from ..scenario import Scenario
from .population import SLOT_RISK, create_accounts

__all__ = ["ImportedBook", "import_book", "read_book"]

_EXPECTED = (
    "columns id, segment, plan and/or mrr, contract (monthly/annual), tenure_months and "
    "optionally satisfaction"
)


@dataclass
class ImportedBook:
    """The validated accounts of a book CSV, as columns (row i = CSV data row i + 1)."""

    ids: list[str]
    segment: NDArray[np.int16]  # index into the scenario's segments
    plan: NDArray[np.int16]  # index into the segment's plan ladder
    size: NDArray[np.float64]  # MRR / effective list price
    mrr: NDArray[np.float64]  # currency per month
    contract: NDArray[np.int8]
    tenure_months: NDArray[np.int32]
    satisfaction: NDArray[np.float64]  # NaN where not given

    def __len__(self) -> int:
        return len(self.ids)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_book(path: str | Path, scenario: Scenario) -> ImportedBook:
    """Read and validate a book CSV against the scenario's segments and plan ladders."""
    table: CsvTable = read_csv(path, _EXPECTED)
    header = table.header
    segments = scenario.segment_table()
    names = list(segments)
    required = ["id", "contract", "tenure_months"]
    if len(names) > 1:
        required.insert(1, "segment")
    table.require(required, _EXPECTED)
    if "plan" not in header and "mrr" not in header:
        raise table.error(f"needs a 'plan' or an 'mrr' column; found {', '.join(header)}")
    discount = scenario.contracts.annual_discount
    n = len(table.rows)
    seg = np.zeros(n, dtype=np.int16)
    plan = np.zeros(n, dtype=np.int16)
    size = np.ones(n)
    mrr = np.zeros(n)
    contract = np.zeros(n, dtype=np.int8)
    tenure = np.zeros(n, dtype=np.int32)
    satisfaction = np.full(n, np.nan)
    col = {name: j for j, name in enumerate(header)}
    seen: dict[str, int] = {}
    ids: list[str] = []
    for i, row in enumerate(table.rows):
        account_id = row[col["id"]].strip()
        if not account_id:
            raise table.error("empty id", i, "id")
        if account_id in seen:
            raise table.error(
                f"id {account_id!r} appears twice (also {table.where(seen[account_id])})", i, "id"
            )
        seen[account_id] = i
        ids.append(account_id)

        if "segment" in col:
            name = row[col["segment"]].strip()
            if name not in segments:
                raise table.error(
                    f"unknown segment {name!r}; the scenario's segments: {', '.join(names)}",
                    i,
                    "segment",
                )
            seg[i] = names.index(name)
        cfg = segments[names[seg[i]]]

        kind = row[col["contract"]].strip().lower()
        if kind not in ("monthly", "annual"):
            raise table.error(
                f"must be 'monthly' or 'annual', got {row[col['contract']]!r}", i, "contract"
            )
        contract[i] = CONTRACT_ANNUAL if kind == "annual" else CONTRACT_MONTHLY
        factor = 1.0 - discount if kind == "annual" else 1.0

        t = parse_number(table, i, "tenure_months", row[col["tenure_months"]])
        if t < 0 or t != math.floor(t):
            raise table.error(
                f"must be a whole number of months >= 0, got {t:g}", i, "tenure_months"
            )
        if t > 10_000:
            raise table.error(f"must be at most 10000 months, got {t:g}", i, "tenure_months")
        tenure[i] = int(t)

        plan_name = row[col["plan"]].strip() if "plan" in col else ""
        has_mrr = "mrr" in col and not _blank(row[col["mrr"]])
        ladder = list(cfg.plans)
        prices = np.array([cfg.plans[p] for p in ladder], dtype=np.float64) * factor
        if not ladder:
            raise table.error(
                f"segment {names[seg[i]]!r} of the scenario has no plans", i, "segment"
            )
        if plan_name:
            if plan_name not in cfg.plans:
                raise table.error(
                    f"plan {plan_name!r} is not on the ladder of segment {names[seg[i]]!r}: "
                    f"{', '.join(ladder)}",
                    i,
                    "plan",
                )
            plan[i] = ladder.index(plan_name)
        if has_mrr:
            value = parse_number(table, i, "mrr", row[col["mrr"]])
            if value < 0:
                raise table.error(f"must be >= 0 (currency per month), got {value:g}", i, "mrr")
            mrr[i] = value
            if not plan_name:
                plan[i] = int(np.argmin(np.abs(prices - value)))
            price = prices[plan[i]]
            size[i] = value / price if price > 0 else 1.0
        elif plan_name:
            mrr[i] = prices[plan[i]]
        else:
            raise table.error("needs a plan or an mrr (both cells are empty)", i)

        if "satisfaction" in col and not _blank(row[col["satisfaction"]]):
            s = parse_number(table, i, "satisfaction", row[col["satisfaction"]])
            if not 0.0 <= s <= 1.0:
                raise table.error(f"must lie in [0, 1], got {s:g}", i, "satisfaction")
            satisfaction[i] = s
    return ImportedBook(ids, seg, plan, size, mrr, contract, tenure, satisfaction)


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


def import_book(sim: Simulation, path: str | Path) -> slice:
    """Append the accounts of the book CSV at ``path`` to ``sim`` as its opening book (month 0).

    Returns their rows. Raises :class:`DataError` (nothing is appended) on any invalid row.
    """
    data = read_book(path, sim.scenario)
    if len(data) == 0:  # pragma: no cover - read_csv refuses a file without data rows
        raise DataError(f"{path}: no accounts")
    rows = create_accounts(
        sim,
        0,
        np.arange(len(data), dtype=np.int64),
        segment=data.segment,
        contract_type=data.contract,
    )
    book = sim.book
    book.plan[rows] = data.plan
    book.size[rows] = data.size
    book.mrr[rows] = data.mrr
    book.initial_mrr[rows] = data.mrr
    # an annual account renews at the end of month m when (m - anniversary) % 12 == 11
    book.anniversary[rows] = -data.tenure_months
    _condition_risk_on_tenure(sim, rows, data)
    given = ~np.isnan(data.satisfaction)
    if given.any():
        sat = book.satisfaction[rows]
        sat[given] = np.clip(data.satisfaction[given], 1e-6, 1 - 1e-6)
    return rows
