"""The account-month panel: what a CRM export of the simulated book would hold (``--panel``).

:class:`PanelRecorder` is an actor that runs only when a run asks for the panel (``simlib run
--panel``, ``RunOptions(panel=True)``): the experiment layer adds it to the replication's actors
(it is not registered, so runs without the panel neither create it nor slow down, and the golden
outputs cannot move). One row per (account, month alive):

* ``account_id``, ``month`` (0-based), ``segment``, ``plan`` (name), ``mrr`` (billed that month,
  currency per month);
* ``health``: the satisfaction the renewal desk reads at the end of the month, as a CRM sees it:
  ``clip(satisfaction + observation_noise x eps, 0, 1)``, ``eps ~ N(0, 1)`` keyed by account
  and month on its own stream (``satisfaction_observation``), so the noise never shifts another
  mechanism's draws; ``satisfaction.observation_noise`` = 0 (the default) gives the true level;
* ``churned``: 1 in the month at whose end the account churned, else 0;
* ``contract``: ``monthly`` or ``annual``, the contract in force that month (a term conversion
  changes it once, from monthly to annual);
* ``offers_made_K``, ``offers_accepted_K`` per offer kind switched on: offers the account got in
  the month (a save offer counts in the month of the renewal it was made at).

The row is taken when the month closes, just before the renewal desk decides (order
:data:`ORDER` < the desk's 30), so ``health`` is the level that the churn decision used; an
offer's acceptance was decided earlier in the month, before that offer's own fatigue (if any)
lowered satisfaction. The last month (whose renewals lie beyond the horizon) is taken when the
run finishes.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..account import CONTRACT_NAMES
from ..engine import Actor, Simulation

__all__ = ["NOISE_STREAM", "ORDER", "PanelRecorder", "panel_table"]

#: Order of the recorder among the actors: its ``close_month`` runs just before the renewal desk.
ORDER = 29
#: The stream of the measurement noise of ``health``.
NOISE_STREAM = "satisfaction_observation"


class PanelRecorder(Actor):
    """Keeps the panel rows of one replication (see the module)."""

    name: ClassVar[str] = "panel"
    order: ClassVar[int] = ORDER

    @classmethod
    def enabled(cls, scenario: object) -> bool:  # never switched on by a scenario
        return False

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self._rows: list[NDArray[np.intp]] = []
        self._months: list[int] = []
        self._mrr: list[NDArray[np.float64]] = []
        self._plan: list[NDArray[np.int16]] = []
        self._contract: list[NDArray[np.int8]] = []
        self._health: list[NDArray[np.float64]] = []
        self._offers: dict[str, list[tuple[int, NDArray[np.intp], NDArray[np.bool_]]]] = {}
        offers = sim.scenario.offers
        for kind, spec in offers.kinds.items():
            if spec.enabled:
                self._offers[kind] = []

    def on_offer(
        self, kind: str, rows: NDArray[np.intp], accepted: NDArray[np.bool_], month: int
    ) -> None:
        """The offer engine's report: ``rows`` got an offer of ``kind`` in ``month``."""
        self._offers.setdefault(kind, []).append((month, rows.copy(), accepted.copy()))

    def _take(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        rows = book.alive_index()
        health = book.satisfaction[rows].copy()
        noise = sim.scenario.satisfaction.observation_noise
        if noise > 0 and rows.size:
            health += noise * sim.streams.normal(NOISE_STREAM, book.key[rows], month)
            np.clip(health, 0.0, 1.0, out=health)
        self._rows.append(rows)
        self._months.append(month)
        self._mrr.append(book.mrr[rows].copy())
        self._plan.append(book.plan[rows].copy())
        self._contract.append(book.contract[rows].copy())
        self._health.append(health)

    def close_month(self, month: int) -> None:
        self._take(month)

    def finish(self) -> None:
        self._take(self.sim.horizon - 1)


def panel_table(sim: Simulation) -> pd.DataFrame:
    """The panel of a finished replication (columns in the module docstring, plus
    ``replication``), rows by month then account."""
    rec = sim.actor("panel")
    assert isinstance(rec, PanelRecorder), "the replication ran without the panel recorder"
    book = sim.book
    sizes = [r.size for r in rec._rows]
    rows = np.concatenate(rec._rows) if rec._rows else np.zeros(0, dtype=np.intp)
    month = np.repeat(np.asarray(rec._months, dtype=np.int32), sizes)
    segments = sim.scenario.segment_table()
    names = [[*seg.plans] for seg in segments.values()]
    flat = sorted({n for plans in names for n in plans})
    code = np.full((len(names), max(map(len, names))), -1, dtype=np.int16)
    for i, plans in enumerate(names):
        code[i, : len(plans)] = [flat.index(n) for n in plans]
    plan = np.concatenate(rec._plan) if rec._plan else np.zeros(0, dtype=np.int16)
    seg = book.segment[rows]
    table = pd.DataFrame(
        {
            "replication": np.full(rows.size, sim.replication, dtype=np.int32),
            "account_id": rows.astype(np.int64),
            "month": month,
            "segment": pd.Categorical.from_codes(seg, categories=sim.segments),
            "plan": pd.Categorical.from_codes(code[seg, plan], categories=flat),
            "mrr": np.concatenate(rec._mrr) if rec._mrr else np.zeros(0),
            "health": np.concatenate(rec._health) if rec._health else np.zeros(0),
            "churned": (book.end_month[rows] == month).astype(np.int8),
            "contract": pd.Categorical.from_codes(
                np.concatenate(rec._contract) if rec._contract else np.zeros(0, dtype=np.int8),
                categories=list(CONTRACT_NAMES),
            ),
        }
    )
    for kind, events in rec._offers.items():
        made, accepted = _offer_counts(events, rows, month, book.n)
        table[f"offers_made_{kind}"] = made
        table[f"offers_accepted_{kind}"] = accepted
    return table


def _offer_counts(
    events: list[tuple[int, NDArray[np.intp], NDArray[np.bool_]]],
    rows: NDArray[np.intp],
    month: NDArray[np.int32],
    n: int,
) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """Offers made and accepted per panel row, from the engine's reports (each offer is found
    among the panel's (month, account) cells by binary search)."""
    at = month.astype(np.int64) * n + rows
    order = np.argsort(at, kind="stable")
    keys = at[order]
    made = np.zeros(rows.size, dtype=np.int16)
    accepted = np.zeros(rows.size, dtype=np.int16)
    for m, r, a in events:
        cell = m * n + r.astype(np.int64)
        pos = np.minimum(np.searchsorted(keys, cell), max(keys.size - 1, 0))
        found = keys[pos] == cell if keys.size else np.zeros(cell.size, dtype=bool)
        np.add.at(made, order[pos[found]], 1)
        np.add.at(accepted, order[pos[found & a]], 1)
    return made, accepted
