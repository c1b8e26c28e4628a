"""Compiled inner loops of CS coverage (numba, in :mod:`simlib.model.csm_loops`), the same
arithmetic as the numpy code they stand in for.

The weekly plan touches a few hundred accounts a week; in numpy that is some thirty array
operations a week whose fixed cost, not the accounts, sets the time of a small book. These loops
do the same work in one call: the weekly plan, giving alerts to CSMs and working them, tech-touch
campaigns, the alert screen, renewal saves, tier changes, CSM books, tiers by shares and LTV
potential. They are used when numba can be imported and ``SIMLIB_JIT`` is not ``0``; otherwise
the numpy code in :mod:`simlib.model.csm`, :mod:`simlib.model.coverage` and :mod:`simlib.tiers`
runs. Both give the same numbers, bit for bit (tests run scenarios both ways), because every
float operation is the one numpy does, in the same order where the order matters.

Compiled code is cached on disk (numba's ``cache=True``), so only the first run on a machine
pays the compilation (a few seconds).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

__all__ = ["kernels"]

_KERNELS: SimpleNamespace | None = None
_TRIED = False


def enabled() -> bool:
    """Whether the compiled loops are wanted (``SIMLIB_JIT=0`` turns them off)."""
    return os.environ.get("SIMLIB_JIT", "1") != "0"


def kernels() -> SimpleNamespace | None:
    """The compiled loops, or None when numba is missing or they are turned off."""
    global _KERNELS, _TRIED
    if not enabled():
        return None
    if not _TRIED:
        _TRIED = True
        try:
            _KERNELS = _build()
        except (ImportError, OSError):  # numba missing, or its LLVM not loadable here
            _KERNELS = None
    return _KERNELS


def _build() -> SimpleNamespace:
    from . import csm_loops

    return SimpleNamespace(
        touch=csm_loops.touch,
        week_plan=csm_loops.week_plan,
        fcfs_assign=csm_loops.fcfs_assign,
        work=csm_loops.work,
        flush=csm_loops.flush,
        tech_month=csm_loops.tech_month,
        alert_screen=csm_loops.alert_screen,
        set_tiers=csm_loops.set_tiers,
        place_in_books=csm_loops.place_in_books,
        tiers_by_rank=csm_loops.tiers_by_rank,
        ltv_potential=csm_loops.ltv_potential,
        saves=csm_loops.saves,
    )
