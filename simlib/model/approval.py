"""B2B approval chains: an accepted upsell or cross-sell goes through a chain of approvers.

Each accepted deal of a ``buyer: b2b`` account (with ``approval.enabled``) starts one simpy
process, so processes scale with deals in flight, not with accounts x months. The chain has

    approvers = approvers[segment] + floor(MRR increase / price_step), at most max_approvers

approvers; each takes a delay (days; exponential with mean ``delay_days`` or fixed) and rejects
with probability ``rejection`` when the contact has a strong reason to buy (usage near the plan
limit for an upsell; a highly relevant add-on for a cross-sell), ``rejection_no_reason``
otherwise. The delays and rejections are keyed draws of the account (streams ``approval_delay``
and ``approval_reject``, slot = month x 32 + approver), drawn for all deals of a month at once.
An approved deal then passes the budget gate (:mod:`simlib.model.budget`) and changes MRR from
the next billing month. A month is 365 / 12 days.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .budget import fund_deal

if TYPE_CHECKING:
    from ..engine import Simulation
    from .offers import OfferEngine

__all__ = ["DAYS_PER_MONTH", "Deal", "approval_chain", "draw_chains"]

DAYS_PER_MONTH = 365.0 / 12.0
SLOTS_PER_MONTH = 32


@dataclass
class Deal:
    """One accepted B2B deal on its way through approval and budget."""

    row: int
    kind: str
    segment: int
    accept_month: int
    delta: float  # MRR increase, currency per month
    plan: int  # plan after the deal (-1: unchanged)
    addon: int  # add-on bought (-1: none)
    strong: bool
    delays: list[float] = field(default_factory=list)  # months, one per approver
    reject_at: int = -1  # index of the approver who rejects (-1: none)
    status: str = "pending"
    decided: float = float("nan")  # simulation time of the last decision (months)
    effective_month: int = -1
    deferred: bool = False
    deferred_month: int = -1  # month in which the deal was deferred to a fiscal year start

    @property
    def yearly_cost(self) -> float:
        """What the deal adds to the customer's spend in a year (currency)."""
        return 12.0 * max(self.delta, 0.0)


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


def approval_chain(engine: OfferEngine, deal: Deal) -> Generator[Any, Any, None]:
    """The simpy process of one deal: the approvers in turn, then the budget gate.

    Approvers act one after another and nothing else in the model waits on them, so the process
    sleeps once, until the chain's decision: the sum of the approvers' delays up to the one who
    rejects (or the last). A deal whose account churned meanwhile is lost.
    """
    env = engine.sim.env
    last = deal.reject_at if deal.reject_at >= 0 else len(deal.delays) - 1
    if last >= 0:
        yield env.timeout(sum(deal.delays[: last + 1]))
    if not engine.sim.book.column("alive")[deal.row]:
        engine.close_deal(deal, "lost_churned")
        return
    if deal.reject_at >= 0:
        engine.close_deal(deal, "rejected")
        return
    engine.approve_deal(deal)
    yield from fund_deal(engine, deal)
