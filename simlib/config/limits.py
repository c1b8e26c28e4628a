"""What a run would allocate, bounded before it starts.

A scenario can be valid key by key and still ask for more than any machine holds: a million new
accounts a month for 600 months, a billion customer requests a month. :func:`allocation_problems`
estimates, from the scenario alone, what a run would hold at its largest and names the key that
asks for too much, with the bound, so that the run is refused (exit code 2) instead of failing
with a ``MemoryError`` after it started:

* accounts: ``population.initial_accounts + acquisition.new_accounts_per_month x
  horizon_months``, what the engine reserves room for (1.2 times the acquisitions, for the
  Poisson counts), at most :data:`~simlib.config.base.MAX_ACCOUNTS` (a book read from
  ``population.from_csv`` is read in bounded memory and not counted here);
* customer requests: ``coverage.requests.per_month x horizon_months``, the requests a run queues
  if its team serves none of them, at most :data:`~simlib.config.base.MAX_REQUESTS`.

Called by :func:`simlib.config.validate` (every scenario loaded) and at the runtime boundary
(:func:`simlib.plugins.check_plugins`, every scenario run, also one built in Python).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import MAX_ACCOUNTS, MAX_REQUESTS

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["allocation_problems", "expected_accounts", "expected_requests"]


def expected_accounts(scenario: Scenario) -> float:
    """Accounts a run reserves room for: the opening book plus the acquisitions over the whole
    horizon (as :class:`simlib.engine.Simulation` sizes its book; months before
    ``acquisition.start_month`` included, so that a short horizon cannot hide a huge rate)."""
    rate = scenario.acquisition.new_accounts_per_month
    return scenario.population.initial_accounts + rate * scenario.horizon_months


def expected_requests(scenario: Scenario) -> float:
    """Customer requests a run would queue at most (all of them, none served)."""
    return scenario.coverage.requests.per_month * scenario.horizon_months


def allocation_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """``(key, message)`` for each estimate of :mod:`simlib.config.limits` over its bound."""
    problems: list[tuple[str, str]] = []
    accounts = expected_accounts(scenario)
    if accounts > MAX_ACCOUNTS:
        rate = scenario.acquisition.new_accounts_per_month
        months = scenario.horizon_months
        problems.append(
            (
                "acquisition.new_accounts_per_month",
                f"a run would hold about {accounts:,.4g} accounts (population.initial_accounts "
                f"+ this a month x {months} months), more than the {MAX_ACCOUNTS:,} a run may "
                f"hold; lower it or horizon_months, got {rate:g}",
            )
        )
    requests = expected_requests(scenario)
    if requests > MAX_REQUESTS:
        per_month = scenario.coverage.requests.per_month
        problems.append(
            (
                "coverage.requests.per_month",
                f"a run would queue up to {requests:,.4g} requests (this a month x "
                f"{scenario.horizon_months} months), more than the {MAX_REQUESTS:,} a run may "
                f"hold; lower it or horizon_months, got {per_month:g}",
            )
        )
    return problems
