"""CS tier codes and the registry of coverage policies that assign them, by name.

A policy is a function ``policy(sim, rows) -> tiers`` returning one tier code per row (see
:data:`TIER_CODES`). A new policy is a new function decorated with :func:`register_policy`;
scenarios then name it in ``coverage.policy``. Built in (:mod:`simlib.model.coverage.policies`,
registered when :mod:`simlib.model` is imported; ``none`` here):

* ``none``: no coverage; ``uniform_low_touch``: everyone low touch; ``tech_touch_only``;
* ``tiered_by_arr``: by ARR (12 x MRR, currency a year), top ``shares.high`` of the book high
  touch, the next ``shares.low`` low touch, the rest tech touch; or by ``thresholds`` when set;
* ``tiered_by_ltv_potential``: the same on the LTV potential an account manager can see:
  gross margin x (ARR at the top plan of the account's ladder) x expected lifetime in years, the
  lifetime from the *segment's* mean churn (the account's own risk is not observable);
* ``rules``: the scenario's ``coverage.rules`` list, first match wins;
* ``by_capacity``: the team's hours decide how many accounts get a CSM, down the priority list
  (LTV potential, then health), within the tier shares; the rest tech touch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .registry import Registry

if TYPE_CHECKING:
    from .engine import Simulation

__all__ = ["ALWAYS_TOUCHED", "COVERAGE_POLICIES", "TIER_CODES", "register_policy"]

#: Tier codes stored in the account book's ``tier`` column.
TIER_CODES = {"none": 0, "tech": 1, "low": 2, "high": 3}
NONE, TECH, LOW, HIGH = 0, 1, 2, 3

Policy = Callable[["Simulation", NDArray[np.intp]], NDArray[np.int8]]
#: Coverage policies by the name a scenario gives in ``coverage.policy``.
COVERAGE_POLICIES: Registry[Policy] = Registry("coverage policy")
#: Policies that give every account a touched tier (tech, low or high), never none: a new
#: account under them starts in tech touch without asking the policy (see CoverageActor).
ALWAYS_TOUCHED: set[str] = set()


def register_policy(name: str, always_touched: bool = False) -> Callable[[Policy], Policy]:
    """Decorator: make ``policy(sim, rows) -> tier codes`` available as ``coverage.policy``.

    ``always_touched``: the policy never returns ``none`` (a promise that saves work).
    """

    def add(fn: Policy) -> Policy:
        COVERAGE_POLICIES.replace(name, fn)
        if always_touched:
            ALWAYS_TOUCHED.add(name)
        else:
            ALWAYS_TOUCHED.discard(name)
        return fn

    return add


# ``none`` (no coverage, the default of ``coverage.policy``) is registered with the registry
# itself, so a default scenario is valid before any mechanism is imported; the other built-in
# policies register in :mod:`simlib.model.coverage.policies`.
@register_policy("none")
def _none(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.int8]:
    return np.full(rows.size, NONE, dtype=np.int8)
