"""Moved: coverage's compiled loops are :mod:`simlib.model.coverage.kernels.compiled` (this
name stays importable; importing it imports numba)."""

from __future__ import annotations

from .coverage.kernels.compiled import *  # noqa: F403
from .coverage.kernels.compiled import keyed_uniform

__all__ = ["keyed_uniform"]
