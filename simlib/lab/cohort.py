"""Recording the opening cohort during a run, and reading it back.

The cohort is the opening book (accounts alive at month 0); the tracker records, each month, how
many of them are alive and what they were billed, by segment, in the monthly columns
``opening_accounts.SEGMENT`` and ``opening_revenue.SEGMENT`` (runs with
``reporting.opening_cohort: true``; it changes no outcome). The decomposition of
:mod:`simlib.lab` reads them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..engine import Actor, register_actor
from ..errors import UserInputError
from ..results import SimulationResult
from ..scenario import Scenario

__all__ = ["OpeningCohortTracker", "opening_cohort_paths"]

_OPEN_N = "opening_accounts."
_OPEN_R = "opening_revenue."


@register_actor
class OpeningCohortTracker(Actor):
    """Records, each month right after billing, the opening book's accounts alive and the
    revenue they were billed (currency per month), by segment: monthly columns
    ``opening_accounts.SEGMENT`` and ``opening_revenue.SEGMENT``. Switched on by
    ``reporting.opening_cohort``; draws no random numbers, so it changes no outcome."""

    name: ClassVar[str] = "opening_cohort"
    order: ClassVar[int] = 50  # the first actor after billing

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.reporting.opening_cohort

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        for seg in sim.segments:
            sim.ledger.declare(_OPEN_N + seg, integer=True)
            sim.ledger.declare(_OPEN_R + seg)

    def open_month(self, month: int) -> None:
        book = self.sim.book
        rows = np.flatnonzero(book.alive & (book.start_month == 0))
        k = len(self.sim.segments)
        seg = book.segment[rows]
        counts = np.bincount(seg, minlength=k)
        revenue = np.bincount(seg, weights=book.mrr[rows], minlength=k)
        for i, name in enumerate(self.sim.segments):
            self.sim.ledger.set(_OPEN_N + name, month, int(counts[i]))
            self.sim.ledger.set(_OPEN_R + name, month, float(revenue[i]))


def opening_cohort_paths(result: SimulationResult) -> pd.DataFrame:
    """The opening book month by month: one row per (scenario, replication, month, segment) with
    ``accounts`` alive and ``revenue`` billed (currency per month).

    Needs a run with ``reporting.opening_cohort: true`` (the lab's runs have it).
    """
    monthly = result.monthly
    n_cols = [c for c in monthly.columns if c.startswith(_OPEN_N)]
    if not n_cols:
        raise UserInputError(
            f"scenario {result.scenario.name!r} was run without the opening-cohort figures; "
            "run it with reporting.opening_cohort=true (the lab's functions do)"
        )
    frames = []
    for col in n_cols:
        seg = col[len(_OPEN_N) :]
        frames.append(
            pd.DataFrame(
                {
                    "scenario": monthly["scenario"].to_numpy(),
                    "replication": monthly["replication"].to_numpy(),
                    "month": monthly["month"].to_numpy(),
                    "segment": seg,
                    "accounts": monthly[col].to_numpy(dtype=np.float64),
                    "revenue": monthly[_OPEN_R + seg].to_numpy(dtype=np.float64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _cube(result: SimulationResult) -> tuple[list[int], list[str], np.ndarray, np.ndarray]:
    """(replications, segments, accounts[r, t, g], revenue[r, t, g]) of the opening cohort."""
    paths = opening_cohort_paths(result)
    reps = sorted(int(r) for r in pd.unique(paths["replication"]))
    segs = list(pd.unique(paths["segment"]))
    months = int(paths["month"].max()) + 1
    shape = (len(reps), months, len(segs))
    n = np.zeros(shape)
    rev = np.zeros(shape)
    ri = paths["replication"].map({r: i for i, r in enumerate(reps)}).to_numpy()
    gi = paths["segment"].map({s: i for i, s in enumerate(segs)}).to_numpy()
    ti = paths["month"].to_numpy()
    n[ri, ti, gi] = paths["accounts"].to_numpy()
    rev[ri, ti, gi] = paths["revenue"].to_numpy()
    return reps, segs, n, rev
