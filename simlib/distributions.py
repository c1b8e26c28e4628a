"""Inverse distribution functions for draws by inversion (common random numbers).

Drawing by inversion, ``x = F^-1(u)``, keeps draws comonotone across scenarios: the same uniform
gives the same quantile, so changing a distribution's parameters moves each account's draw
smoothly instead of re-drawing it.

``scipy.special.betaincinv`` costs about 2.5 microseconds a value; :func:`beta_ppf` tabulates it
once per (alpha, beta) at 1,025 probabilities on a cosine grid (dense near 0 and 1, where the
quantile function is steepest; about 2 ms a table) and interpolates linearly; probabilities
within 0.001 of 0 or 1 are computed exactly, and so are shapes below 0.5, whose quantile
functions are too steep for a table. A draw is a pure function of (u, alpha, beta): it never
depends on what else a process has drawn before. The test suite bounds |F(F^-1(u)) - u| by 1e-5.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv

__all__ = ["beta_ppf"]

_GRID_POINTS = 1024
_GRID = (1.0 - np.cos(np.pi * np.arange(_GRID_POINTS + 1) / _GRID_POINTS)) / 2.0
_EXACT_TAIL = 1e-3
_MIN_TABLE_SHAPE = 0.5


@lru_cache(maxsize=1024)
def _beta_table(alpha: float, beta: float) -> NDArray[np.float64]:
    table = betaincinv(alpha, beta, _GRID)
    table.setflags(write=False)
    return table


def beta_ppf(u: NDArray[np.float64], alpha: float, beta: float) -> NDArray[np.float64]:
    """Quantiles of Beta(alpha, beta) at probabilities ``u`` in (0, 1)."""
    u = np.asarray(u, dtype=np.float64)
    alpha, beta = float(alpha), float(beta)
    if min(alpha, beta) < _MIN_TABLE_SHAPE:
        return betaincinv(alpha, beta, u)
    out = np.interp(u, _GRID, _beta_table(alpha, beta))
    tail = (u < _EXACT_TAIL) | (u > 1.0 - _EXACT_TAIL)
    if tail.any():
        out[tail] = betaincinv(alpha, beta, u[tail])
    return out
