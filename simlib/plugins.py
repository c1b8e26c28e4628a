"""The runtime boundary for plug-in names: is every name a scenario gives registered?

The configuration (:mod:`simlib.config`) keeps the names of plug-ins as strings:
``coverage.policy`` and the kinds under ``offers.kinds``. They are checked once, here, against
the registries the runtime fills (:data:`simlib.tiers.COVERAGE_POLICIES`,
:data:`simlib.model.offers.OFFER_KINDS`, which also hold what users register in Python), before
a simulation is built: by :func:`load_scenario` (``simlib.load_scenario``, ``simlib run`` and
``simlib validate``) and by the experiment layer for every scenario it runs. An unknown name is
a :class:`~simlib.errors.ScenarioError` (exit code 2) naming the source, the key and what is
allowed, with the closest registered name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Scenario
from .config import load_scenario as _load_config
from .config.extensions import extension_problems
from .config.limits import allocation_problems
from .errors import ScenarioError
from .model.offers import OFFER_KINDS
from .tiers import COVERAGE_POLICIES

__all__ = ["check_plugins", "load_scenario", "plugin_problems"]


def plugin_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """``(key path, message)`` for each plug-in name of ``scenario`` that is not registered:
    ``coverage.policy``, each kind under ``offers.kinds`` (the first unknown one), and each
    block under ``extensions`` (unknown, or invalid for its registered model)."""
    problems: list[tuple[str, str]] = []
    policy = scenario.coverage.policy
    if policy not in COVERAGE_POLICIES:
        problems.append(("coverage.policy", COVERAGE_POLICIES.unknown_message(policy)))
    unknown = [k for k in scenario.offers.kinds if k not in OFFER_KINDS]
    if unknown:
        problems.append((f"offers.kinds.{unknown[0]}", OFFER_KINDS.unknown_message(unknown[0])))
    problems.extend(extension_problems(scenario.extensions))
    return problems


def check_plugins(*scenarios: Scenario) -> None:
    """Raise :class:`ScenarioError` for the first scenario naming an unregistered plug-in, or
    asking for more than a run may hold (:func:`simlib.config.limits.allocation_problems`: also
    for a scenario built or changed in Python, which no loader saw).

    The error names the scenario's source (the file, preset or ``<mapping>`` it was loaded
    from; its name when it was built in Python).
    """
    for scenario in scenarios:
        problems = plugin_problems(scenario) + allocation_problems(scenario)
        if problems:
            raise ScenarioError(scenario._source or scenario.name, problems)


def load_scenario(
    ref: str | Path | dict[str, Any] | Scenario, overrides: list[str] | None = None
) -> Scenario:
    """:func:`simlib.config.load_scenario`, then :func:`check_plugins`: a scenario ready to run.

    This is ``simlib.load_scenario``.
    """
    scenario = _load_config(ref, overrides)
    check_plugins(scenario)
    return scenario
