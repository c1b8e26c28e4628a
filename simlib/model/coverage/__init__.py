"""Customer-success coverage: tiers by policy, the CSM team, and the loops they run.

* :mod:`.policies`: the built-in coverage policies (registered in
  :data:`simlib.tiers.COVERAGE_POLICIES`, where a new policy registers too);
* :mod:`.actor`: the :class:`CoverageActor` (tiers, CSM books, tech-touch campaigns, health
  alerts, saves at renewal, CS cost), registered as the ``coverage`` actor;
* :mod:`.team`: the CSM team (the reactive queue, the alert dispatcher, the weekly plan);
* :mod:`.kernels`: the per-account loops behind one interface, numpy (the reference) or numba
  (compiled), chosen once per run by :func:`~simlib.model.coverage.kernels.get_kernels`.
"""

from __future__ import annotations

from . import policies
from .actor import CoverageActor, apply_touch
from .team import WEEK, CSMTeam, Job

__all__ = ["WEEK", "CSMTeam", "CoverageActor", "Job", "apply_touch", "policies"]
