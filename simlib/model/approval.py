"""B2B approval chains: an accepted upsell or cross-sell goes through a chain of approvers.

Each accepted deal of a ``buyer: b2b`` account (with ``approval.enabled``) goes through a chain of

    approvers = approvers[segment] + floor(MRR increase / price_step), at most max_approvers

approvers; each takes a delay (days; exponential with mean ``delay_days`` or fixed) and rejects
with probability ``rejection`` when the contact has a strong reason to buy (usage near the plan
limit for an upsell; a highly relevant add-on for a cross-sell), ``rejection_no_reason``
otherwise. The delays and rejections are keyed draws of the account (streams ``approval_delay``
and ``approval_reject``, slot = month x 32 + approver), drawn for all deals of a month at once.
An approved deal then passes the budget gate (:mod:`simlib.model.budget`) and changes MRR from
the next billing month. A month is 365 / 12 days.

Approvers act one after another and nothing else in the model waits on them, so a chain is
decided at one instant: the acceptance time plus the approvers' delays up to the one who rejects
(or the last). Between two turns of the month nothing a decision reads can change (accounts churn
only at the turn, each account has at most one deal open, the budget is the account's own), so
the :class:`DealBook` keeps the deals as columns and the offer engine decides all those due in a
month in one vectorized step just before the month turns, in the order of their decision times
(the order in which one simpy process per deal would have decided them). Simpy events thus grow
with months, not with deals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ..engine import Simulation

__all__ = ["DAYS_PER_MONTH", "DEAL_STATUS", "DealBook", "decision_times", "draw_chains"]

DAYS_PER_MONTH = 365.0 / 12.0
SLOTS_PER_MONTH = 32

#: Deal status codes (``DealBook.status``) and their names in the deal table.
PENDING, REJECTED, LOST_CHURNED, LOST_BUDGET, DEFERRED, LANDED, BEYOND_HORIZON = range(7)
DEAL_STATUS = (
    "pending",
    "rejected",
    "lost_churned",
    "lost_budget",
    "deferred",
    "landed",
    "beyond_horizon",
)

_COLUMNS: dict[str, tuple[type, float | int | bool]] = {
    "row": (np.intp, -1),
    "kind": (np.int16, -1),  # index into DealBook.kinds
    "segment": (np.int16, -1),
    "accept_month": (np.int32, -1),
    "delta": (np.float64, 0.0),  # MRR increase, currency per month
    "plan": (np.int16, -1),  # plan after the deal (-1: unchanged)
    "addon": (np.int16, -1),  # add-on bought (-1: none)
    "approvers": (np.int16, 0),
    "reject_at": (np.int16, -1),  # index of the approver who rejects (-1: none)
    "status": (np.int8, PENDING),
    "decided": (np.float64, np.nan),  # simulation time of the last decision (months)
    "effective_month": (np.int32, -1),
    "deferred": (np.bool_, False),
    "deferred_month": (np.int32, -1),  # month in which it was deferred to a fiscal year start
}


class DealBook:
    """Every B2B deal of a replication as columns, and the decisions due, by month.

    A due decision is (deal, time, priority, sequence): ``priority`` 0 for a chain without
    approvers (decided the moment it is accepted), 1 otherwise; ``sequence`` counts scheduling
    order, which breaks ties between equal times as simpy's event ids would.
    """

    def __init__(self, horizon: int) -> None:
        self.horizon = horizon
        self.n = 0
        self.capacity = 0
        self.kinds: list[str] = []
        self._data: dict[str, NDArray] = {}
        self._grow(1024)
        self._seq = 0
        #: month -> list of (deal indices, times, priorities, sequence numbers, is_wake)
        self.due: dict[int, list[tuple[NDArray, NDArray, NDArray, NDArray, bool]]] = {}

    def _grow(self, needed: int) -> None:
        cap = max(needed, 2 * self.capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            new: NDArray = np.full(cap, fill, dtype=dtype)
            if name in self._data:
                new[: self.n] = self._data[name][: self.n]
            self._data[name] = new
        self.capacity = cap

    def __getitem__(self, name: str) -> NDArray:
        """All of a column (a view of the first ``n`` deals)."""
        return self._data[name][: self.n]

    def column(self, name: str) -> NDArray:
        """The whole allocated column (index it with deal numbers)."""
        return self._data[name]

    def kind_code(self, kind: str) -> int:
        if kind not in self.kinds:
            self.kinds.append(kind)
        return self.kinds.index(kind)

    def add(self, **columns: NDArray) -> NDArray[np.intp]:
        """Append deals (keyword arrays per column); returns their deal numbers."""
        k = len(next(iter(columns.values())))
        if self.n + k > self.capacity:
            self._grow(self.n + k)
        idx = np.arange(self.n, self.n + k, dtype=np.intp)
        for name, values in columns.items():
            self._data[name][idx] = values
        self.n += k
        return idx

    def schedule(
        self,
        deals: NDArray[np.intp],
        times: NDArray[np.float64],
        priority: NDArray[np.int8] | int = 1,
        wake: bool = False,
    ) -> None:
        """Decisions of ``deals`` due at ``times`` (months); those at or beyond the horizon
        never come. Sequence numbers follow the order given."""
        k = deals.size
        seq = np.arange(self._seq, self._seq + k, dtype=np.int64)
        self._seq += k
        prio = np.broadcast_to(np.asarray(priority, dtype=np.int8), (k,))
        keep = times < self.horizon
        deals, times, prio, seq = deals[keep], times[keep], prio[keep], seq[keep]
        if deals.size == 0:
            return
        month = np.floor(times).astype(np.int64)
        order = np.argsort(month, kind="stable")
        month = month[order]
        cuts = np.flatnonzero(np.diff(month)) + 1
        for part, first in zip(np.split(order, cuts), np.r_[0, cuts].tolist(), strict=True):
            self.due.setdefault(int(month[first]), []).append(
                (deals[part], times[part], prio[part], seq[part], wake)
            )

    def pop_due(
        self, month: int
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.bool_]]:
        """The decisions due in ``month``, in decision order: (deals, times, is_wake)."""
        parts = self.due.pop(month, [])
        if not parts:
            empty = np.empty(0)
            return empty.astype(np.intp), empty, empty.astype(bool)
        deals = np.concatenate([p[0] for p in parts])
        times = np.concatenate([p[1] for p in parts])
        prio = np.concatenate([p[2] for p in parts])
        seq = np.concatenate([p[3] for p in parts])
        wake = np.concatenate([np.full(p[0].size, p[4]) for p in parts])
        order = np.lexsort((seq, prio, times))
        return deals[order], times[order], wake[order]


def draw_chains(
    sim: Simulation,
    rows: NDArray[np.intp],
    delta: NDArray[np.float64],
    strong: NDArray[np.bool_],
    month: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Approver counts, delays (months, one row per deal) and the rejecting approver (-1)."""
    cfg = sim.scenario.approval
    book = sim.book
    names = list(sim.scenario.segment_table())
    base = np.array([cfg.approvers.get(n, cfg.default_approvers) for n in names])
    count = base[book.segment[rows]] + np.floor(np.maximum(delta, 0.0) / cfg.price_step)
    count = np.minimum(count, cfg.max_approvers).astype(np.int64)
    width = int(count.max()) if count.size else 0
    keys = book.key[rows]
    delays = np.zeros((rows.size, width))
    reject = np.zeros((rows.size, width), dtype=bool)
    p = np.where(strong, cfg.rejection, cfg.rejection_no_reason)
    mean = cfg.delay_days / DAYS_PER_MONTH
    for j in range(width):
        slot = month * SLOTS_PER_MONTH + j
        if cfg.delay_distribution == "exponential":
            u = sim.streams.uniform("approval_delay", keys, slot)
            delays[:, j] = -mean * np.log(u)
        else:
            delays[:, j] = mean
        reject[:, j] = (sim.streams.uniform("approval_reject", keys, slot) < p) & (j < count)
    first = np.where(reject.any(axis=1), reject.argmax(axis=1), -1) if width else count * 0 - 1
    return count, delays, first


def decision_times(
    month: int, count: NDArray[np.int64], delays: NDArray[np.float64], reject: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """When each chain started at ``month`` is decided, and its priority (0: no approver).

    The sum of the delays up to the approver who rejects (or the last), added left to right as
    one timeout after another would, then to the start time.
    """
    last = np.where(reject >= 0, reject, count - 1)
    times = np.full(count.size, float(month))
    has = last >= 0
    if has.any():
        total = np.cumsum(delays[has], axis=1)[np.arange(int(has.sum())), last[has]]
        times[has] = float(month) + total
    return times, has.astype(np.int8)
