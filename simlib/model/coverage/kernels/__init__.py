"""Coverage's inner loops behind one interface: a numpy backend (the reference) and a numba one.

Both backends are modules exposing the functions named in :data:`KERNEL_NAMES`, with the same
signatures and the same numbers, bit for bit: every float operation of a compiled loop is the
one numpy does, in the same order where the order matters (tests run scenarios both ways).
Callers (the coverage actor, the CSM team, the policies) call ``kernels.name(...)`` and never
ask which backend they hold. Where a compiled loop only covers part of the cases (hours off the
exact grid, ties across a tier cut, a tier over its room in the CSM books, no health noise), the
numba backend hands the call to the numpy one itself.

:func:`get_kernels` chooses: the numba backend when numba can be imported and the environment
variable ``SIMLIB_JIT`` is not ``0``, else the numpy backend. numba is imported (and the loops
compiled, or loaded from numba's on-disk cache) only when the numba backend is first chosen.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from . import numpy_backend

__all__ = ["KERNEL_NAMES", "enabled", "get_kernels", "numpy_backend"]

#: The kernel interface: the functions every backend module defines.
KERNEL_NAMES = (
    "tiers_by_shares",
    "tiers_by_priority",
    "ltv_potential",
    "place_in_books",
    "set_tiers",
    "tech_month",
    "alert_screen",
    "flush",
    "saves",
    "fcfs_dispatcher",
    "work",
    "week_plan",
)

_COMPILED: ModuleType | None = None
_TRIED = False


def enabled() -> bool:
    """Whether the compiled loops are wanted (``SIMLIB_JIT=0`` turns them off)."""
    return os.environ.get("SIMLIB_JIT", "1") != "0"


def get_kernels() -> ModuleType:
    """The backend to run: numba's when it loads and is wanted, else numpy's (the reference)."""
    if not enabled():
        return numpy_backend
    compiled = _compiled()
    return numpy_backend if compiled is None else compiled


def _compiled() -> ModuleType | None:
    """The numba backend, loaded once (None when numba is missing or cannot load here)."""
    global _COMPILED, _TRIED
    if not _TRIED:
        _TRIED = True
        try:
            _COMPILED = _build()
        except (ImportError, OSError):  # numba missing, or its LLVM not loadable here
            _COMPILED = None
    return _COMPILED


def _build() -> ModuleType:
    return importlib.import_module(f"{__name__}.numba_backend")
