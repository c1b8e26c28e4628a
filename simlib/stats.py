"""Small statistics used across the kit: t-intervals across replications, paired differences.

Replications are independent and identically distributed, so a figure's mean across ``n``
replications has the Student-t interval ``mean +- t_{n-1, 1 - (1 - level)/2} x sd / sqrt(n)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import stdtrit

__all__ = ["Interval", "mean_ci"]


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval; ``half_width`` is NaN with fewer than 2 values."""

    mean: float
    low: float
    high: float
    half_width: float
    n: int
    level: float = 0.95


def mean_ci(values: ArrayLike, level: float = 0.95) -> Interval:
    """Student-t confidence interval for the mean of i.i.d. ``values`` (NaNs are dropped)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, nan, 0, level)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), float("nan"), n, level)
    sd = float(x.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + level / 2) * sd / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, half, n, level)
