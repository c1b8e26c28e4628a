"""simlib: simulate subscription businesses (churn, CS coverage, offers) and compare scenarios.

Public API::

    import simlib
    scenario = simlib.load_scenario("b2b_saas", overrides=["churn.satisfaction_effect=3"])
    result = simlib.simulate(scenario, replications=10, seed=1)
    result.summary, result.monthly, result.accounts      # tidy pandas tables
"""

from __future__ import annotations

from .churn_odds import register_churn_odds_term
from .compare import ComparisonResult, compare
from .config.base import Strict
from .config.extensions import register_block
from .engine import ACTORS, Actor, Simulation, register_actor, register_run_input
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
from .metrics import Metric, register_metric
from .plugins import load_scenario  # the loader that also checks plug-in names
from .results import SimulationResult
from .run_options import RunOptions
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
    "Metric",
    "RunOptions",
    "Scenario",
    "ScenarioError",
    "SimlibError",
    "Simulation",
    "SimulationError",
    "SimulationResult",
    "Strict",
    "UserInputError",
    "compare",
    "decompose_revenue",
    "dose_response",
    "intervals",
    "load_scenario",
    "mean_ci",
    "preset_names",
    "register_actor",
    "register_block",
    "register_churn_odds_term",
    "register_metric",
    "register_run_input",
    "run_intervention",
    "run_replication",
    "simulate",
    "to_yaml",
]
