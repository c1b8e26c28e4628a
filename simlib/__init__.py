"""simlib: simulate subscription businesses (churn, CS coverage, offers) and compare scenarios.

Public API::

    import simlib
    scenario = simlib.load_scenario("b2b_saas", overrides=["churn.satisfaction_effect=3"])
    result = simlib.simulate(scenario, replications=10, seed=1)
    result.summary, result.monthly, result.accounts      # tidy pandas tables
"""

from __future__ import annotations

from .compare import ComparisonResult, compare
from .engine import ACTORS, Actor, Simulation, register_actor
from .errors import (
    CommandError,
    DataError,
    ScenarioError,
    SimlibError,
    SimulationError,
    UserInputError,
)
from .experiment import intervals, run_replication, simulate
from .lab import LabExperiment, decompose_revenue, dose_response, run_intervention
from .plugins import load_scenario  # the loader that also checks plug-in names
from .results import SimulationResult
from .scenario import Scenario, preset_names, to_yaml
from .stats import Interval, mean_ci

__version__ = "0.1.0"

__all__ = [
    "ACTORS",
    "Actor",
    "CommandError",
    "ComparisonResult",
    "DataError",
    "Interval",
    "LabExperiment",
    "Scenario",
    "ScenarioError",
    "SimlibError",
    "Simulation",
    "SimulationError",
    "SimulationResult",
    "UserInputError",
    "compare",
    "decompose_revenue",
    "dose_response",
    "intervals",
    "load_scenario",
    "mean_ci",
    "preset_names",
    "register_actor",
    "run_intervention",
    "run_replication",
    "simulate",
    "to_yaml",
]
