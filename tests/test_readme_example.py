"""The README's worked example (a new mechanism end to end) runs, and does what it says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import simlib
from simlib.churn_odds import CHURN_ODDS_TERMS
from simlib.config.extensions import EXTENSION_BLOCKS
from simlib.engine import ACTORS
from simlib.errors import ScenarioError
from simlib.metrics import METRICS
from simlib.metrics import registry as metric_registry

README = Path(__file__).resolve().parent.parent / "README.md"


def example(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, flags=re.S)
    assert match, f"README has no example block {name!r}"
    return match.group(1)


@pytest.fixture
def payment_failures() -> Iterator[dict]:
    """The example's registrations, removed again afterwards (other tests see the kit alone)."""
    namespace: dict = {}
    exec(compile(example("payment_failures"), "README.md", "exec"), namespace)
    yield namespace
    ACTORS.remove("payment_failures")
    CHURN_ODDS_TERMS.remove("payment_failures")
    EXTENSION_BLOCKS.remove("payment_failures")
    METRICS.remove("payments_failed")
    metric_registry._VIEWS["compare"].remove("payments_failed")


def test_the_worked_example_runs_and_raises_churn(payment_failures: dict) -> None:
    namespace = dict(payment_failures)
    exec(compile(example("payment_failures_run"), "README.md", "exec"), namespace)
    table = namespace["result"].table.set_index("metric")
    assert table.loc["payments_failed", "difference"] > 0
    assert table.loc["logo_churn_monthly", "paired_ci_low"] > 0  # more churn, beyond the noise


def test_off_the_example_changes_nothing(payment_failures: dict) -> None:
    scenario = simlib.load_scenario("textbook", ["horizon_months=12"])
    with_it = simlib.simulate(scenario, seed=3).accounts
    ACTORS.remove("payment_failures")  # as if the module had never been imported
    without = simlib.simulate(scenario, seed=3).accounts
    ACTORS.add("payment_failures", payment_failures["PaymentFailureActor"])
    assert np.array_equal(with_it["ltv"].to_numpy(), without["ltv"].to_numpy())


def test_its_settings_get_key_path_errors(payment_failures: dict) -> None:
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario("textbook", ["extensions.payment_failures.monthly_rate=2"])
    [(key, message)] = info.value.problems
    assert (
        key == "extensions.payment_failures.monthly_rate" and "less than or equal to 1" in message
    )
    with pytest.raises(ScenarioError, match=r"did you mean 'monthly_rate'"):
        simlib.load_scenario("textbook", ["extensions.payment_failures.monthly_rat=0.1"])
    scenario = simlib.load_scenario("textbook", ["extensions.payment_failures.monthly_rate=0.1"])
    assert scenario.block("payment_failures").recovered == 0.6  # the default, filled in
