"""Moved: coverage's kernels are :mod:`simlib.model.coverage.kernels` (this name stays
importable). :func:`kernels` is the numba backend when it runs, else None, as before."""

from __future__ import annotations

from types import ModuleType

from .coverage.kernels import enabled, get_kernels, numpy_backend

__all__ = ["enabled", "kernels"]


def kernels() -> ModuleType | None:
    """The compiled backend, or None when numba is missing or ``SIMLIB_JIT=0``."""
    chosen = get_kernels()
    return None if chosen is numpy_backend else chosen
