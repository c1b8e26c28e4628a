"""Running a scenario: one or many replications, each from its own child seed.

Replication ``r`` of a run with seed ``s`` draws from ``SeedSequence(s, spawn_key=(r,))``
(:func:`simlib.rng.replication_seed`): the same scenario and seed give identical tables bit for
bit, and two scenarios run with the same seed share every account's luck (common random numbers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from . import model as _model  # noqa: F401 - importing registers the model's actors
from .engine import Simulation
from .metrics import account_table, monthly_table, summary_row
from .results import SimulationResult
from .scenario import Scenario, load_scenario

__all__ = ["run_replication", "simulate"]


def run_replication(
    scenario: Scenario, seed: int, replication: int, on_month: Callable[[int], None] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], int]:
    """Simulate one replication; returns (monthly, accounts, summary row, simpy events)."""
    sim = Simulation(scenario, seed=seed, replication=replication, on_month=on_month).run()
    monthly = monthly_table(sim)
    accounts = account_table(sim)
    return monthly, accounts, summary_row(sim, accounts, monthly), sim.env.events_processed


def simulate(
    scenario: Scenario | str | Path | dict,
    replications: int = 1,
    seed: int = 0,
    overrides: list[str] | None = None,
    progress: bool = False,
) -> SimulationResult:
    """Simulate ``replications`` replications of a scenario (a Scenario, path, preset or dict).

    Returns a :class:`SimulationResult` with ``.monthly``, ``.accounts`` and ``.summary``.
    ``progress`` shows a progress bar (tqdm) once the run takes more than two seconds.
    """
    if not isinstance(scenario, Scenario) or overrides:
        scenario = load_scenario(scenario, overrides)
    if replications < 1:
        raise ValueError("replications must be >= 1")
    from tqdm.auto import tqdm

    start = time.perf_counter()
    monthly, accounts, summary = [], [], []
    events = 0
    with tqdm(
        total=replications * scenario.horizon_months,
        disable=not progress,
        delay=2.0,
        unit="month",
        desc=scenario.name,
    ) as bar:
        for r in range(replications):
            m, a, s, e = run_replication(scenario, seed, r, on_month=lambda _m: bar.update(1))
            monthly.append(m)
            accounts.append(a)
            summary.append(s)
            events += e
    return SimulationResult(
        scenario=scenario,
        seed=seed,
        monthly=pd.concat(monthly, ignore_index=True),
        accounts=pd.concat(accounts, ignore_index=True),
        summary=pd.DataFrame(summary),
        wall_seconds=time.perf_counter() - start,
        events_processed=events,
    )
