"""Inverse distribution functions for draws by inversion (common random numbers).

Drawing by inversion, ``x = F^-1(u)``, keeps draws comonotone across scenarios: the same uniform
gives the same quantile, so changing a distribution's parameters moves each account's draw
smoothly instead of re-drawing it.

``scipy.special.betaincinv`` costs about 2.5 microseconds a value; :func:`beta_ppf` tabulates it
once per (alpha, beta) on a grid of 2^14 + 1 probabilities and interpolates linearly, computing
the outermost two grid cells at each end exactly (where the quantile function is steepest).
Shapes below 0.25 (quantile functions too steep for a table) are computed exactly throughout.
The test suite bounds the error |F(F^-1(u)) - u| by 2e-5 over a range of shapes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv

__all__ = ["beta_ppf"]

_GRID_BITS = 14
_GRID = np.linspace(0.0, 1.0, (1 << _GRID_BITS) + 1)
_EXACT_TAIL = 2.0 / (1 << _GRID_BITS)
_MIN_TABLE_SHAPE = 0.25
#: A table costs as much as this many exact values: below it (counted per shape in this
#: process), draws are computed exactly; from it on, the table is built once and reused.
_TABLE_BREAK_EVEN = 1 << _GRID_BITS
_drawn: dict[tuple[float, float], int] = {}


@lru_cache(maxsize=256)
def _beta_table(alpha: float, beta: float) -> NDArray[np.float64]:
    table = betaincinv(alpha, beta, _GRID)
    table.setflags(write=False)
    return table


def beta_ppf(u: NDArray[np.float64], alpha: float, beta: float) -> NDArray[np.float64]:
    """Quantiles of Beta(alpha, beta) at probabilities ``u`` in (0, 1)."""
    u = np.asarray(u, dtype=np.float64)
    key = (float(alpha), float(beta))
    if min(key) < _MIN_TABLE_SHAPE:
        return betaincinv(alpha, beta, u)
    drawn = _drawn.get(key, 0) + u.size
    _drawn[key] = drawn
    if drawn < _TABLE_BREAK_EVEN:
        return betaincinv(alpha, beta, u)
    out = np.interp(u, _GRID, _beta_table(*key))
    tail = (u < _EXACT_TAIL) | (u > 1.0 - _EXACT_TAIL)
    if tail.any():
        out[tail] = betaincinv(alpha, beta, u[tail])
    return out
