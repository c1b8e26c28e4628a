"""Maximum-likelihood fits of the sBG churn model (:mod:`simlib.calibration.sbg`).

Two kinds of data are fitted by maximum likelihood on ``log(alpha), log(beta)``:

* a cohort retention table (columns ``period, alive``, optionally ``segment``; period 0 is the
  cohort size): ``LL = sum_t (alive(t-1) - alive(t)) log P(T=t) + alive(last) log S(last)``;
* account-level tenure data with right-censoring (a duration and a 0/1 churn event per account):
  an account that churned at renewal ``t`` contributes ``log P(T=t)``, one still active after
  ``t`` renewals contributes ``log S(t)``.

Every term is ``betaln(alpha + c, beta + e) - betaln(alpha, beta)`` with whole shifts ``c, e``,
so the gradient and the Hessian are exact in digamma / trigamma functions. Standard errors come
from the inverse of the observed information (minus the Hessian of the log-likelihood at the
maximum). :func:`fit_sbg` fits from counts; :func:`fit_retention` and :func:`fit_accounts` from
the tables :mod:`simlib.calibration.readers` validates; :func:`holdout_table` sets the fit
beside the data (and a projection of periods held out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, polygamma

from ..errors import DataError
from ..io.csv import CsvTable
from .readers import (
    RetentionData,
    account_counts,
    read_accounts,
    read_retention,
    retention_counts,
)
from .sbg import SBGFit

__all__ = ["fit_accounts", "fit_retention", "fit_sbg", "holdout_table"]

#: Bounds of alpha and beta during the search; a fit that ends on one is flagged in ``warnings``.
_BOUNDS = (1e-5, 1e8)
#: Beyond this alpha + beta the churn probabilities of accounts hardly differ (their standard
#: deviation is below 0.3 % of the mean's scale): the fit is flagged as showing no heterogeneity.
_HOMOGENEOUS = 1e5

# --------------------------------------------------------------------------------------------
# The likelihood and the search


@dataclass
class _Counts:
    """Sufficient statistics: churn counts at each renewal t >= 1, survivors censored after t."""

    churn_t: NDArray[np.float64]
    churn_w: NDArray[np.float64]
    cens_t: NDArray[np.float64]
    cens_w: NDArray[np.float64]

    def terms(self) -> tuple[NDArray, NDArray, NDArray]:
        """Shifts (c, e) and weights of the terms betaln(alpha + c, beta + e) - betaln(alpha, beta)."""
        c = np.concatenate([np.ones_like(self.churn_t), np.zeros_like(self.cens_t)])
        e = np.concatenate([self.churn_t - 1.0, self.cens_t])
        w = np.concatenate([self.churn_w, self.cens_w])
        keep = (w > 0) & ~((c == 0) & (e == 0))  # S(0) = 1 carries no information
        return c[keep], e[keep], w[keep]


def _loglik(a: float, b: float, c: NDArray, e: NDArray, w: NDArray) -> float:
    return float(np.sum(w * (betaln(a + c, b + e) - betaln(a, b))))


def _gradient(a: float, b: float, c: NDArray, e: NDArray, w: NDArray) -> NDArray[np.float64]:
    total = w.sum()
    s = digamma(a + b + c + e)
    ab = digamma(a + b)
    ga = np.sum(w * (digamma(a + c) - s)) + total * (ab - digamma(a))
    gb = np.sum(w * (digamma(b + e) - s)) + total * (ab - digamma(b))
    return np.array([ga, gb])


def _hessian(a: float, b: float, c: NDArray, e: NDArray, w: NDArray) -> NDArray[np.float64]:
    total = w.sum()
    s = polygamma(1, a + b + c + e)
    ab = float(polygamma(1, a + b))
    haa = np.sum(w * (polygamma(1, a + c) - s)) + total * (ab - float(polygamma(1, a)))
    hab = np.sum(w * -s) + total * ab
    hbb = np.sum(w * (polygamma(1, b + e) - s)) + total * (ab - float(polygamma(1, b)))
    return np.array([[haa, hab], [hab, hbb]])


def fit_sbg(
    churn_times: Sequence[float] | NDArray,
    churn_counts: Sequence[float] | NDArray,
    censored_times: Sequence[float] | NDArray,
    censored_counts: Sequence[float] | NDArray,
    group: str | None = None,
    period_months: int = 1,
) -> SBGFit:
    """Maximum-likelihood sBG fit from counts (Fader & Hardie 2007).

    ``churn_counts[i]`` accounts churned at renewal ``churn_times[i]`` (periods, >= 1);
    ``censored_counts[i]`` are still active after ``censored_times[i]`` renewals (periods, >= 0).
    The search runs on ``log(alpha), log(beta)`` (L-BFGS-B with the exact gradient, then Newton
    steps with the exact Hessian); standard errors are the square roots of the diagonal of the
    inverse observed information in (alpha, beta).
    """
    counts = _Counts(
        np.asarray(churn_times, dtype=np.float64),
        np.asarray(churn_counts, dtype=np.float64),
        np.asarray(censored_times, dtype=np.float64),
        np.asarray(censored_counts, dtype=np.float64),
    )
    c, e, w = counts.terms()
    total = float(w.sum())
    scale = max(total, 1.0)
    bounds = [(math.log(_BOUNDS[0]), math.log(_BOUNDS[1]))] * 2
    x = _search(counts, c, e, w, bounds, scale)
    x = _newton_polish(x, c, e, w, bounds)
    a, b = (float(v) for v in np.exp(x))
    converged, warnings = _diagnose(x, a, b, c, e, w, bounds, scale)
    cov = _covariance(a, b, c, e, w, warnings)
    return SBGFit(
        group=group,
        alpha=a,
        beta=b,
        alpha_se=float(np.sqrt(cov[0, 0])),
        beta_se=float(np.sqrt(cov[1, 1])),
        covariance=cov,
        log_likelihood=_loglik(a, b, c, e, w),
        n=round(float(counts.churn_w.sum() + counts.cens_w.sum())),
        churned=round(float(counts.churn_w.sum())),
        periods=int(max(counts.churn_t.max(initial=0), counts.cens_t.max(initial=0))),
        period_months=int(period_months),
        converged=converged,
        warnings=warnings,
    )


def _search(
    counts: _Counts,
    c: NDArray,
    e: NDArray,
    w: NDArray,
    bounds: list[tuple[float, float]],
    scale: float,
) -> NDArray:
    """L-BFGS-B on (log alpha, log beta) from three starts at the mean churn at renewal 1."""

    def objective(x: NDArray) -> tuple[float, NDArray]:
        a, b = np.exp(x)
        ll = _loglik(a, b, c, e, w)
        g = _gradient(a, b, c, e, w) * np.array([a, b])
        return -ll / scale, -g / scale

    total = float(w.sum())
    at_first = counts.churn_w[counts.churn_t == 1].sum()
    exposed = total - counts.cens_w[counts.cens_t == 0].sum()
    p1 = float(np.clip(at_first / exposed if exposed > 0 else 0.1, 1e-4, 0.9))
    best = None
    for a0 in (0.3, 1.0, 3.0):
        b0 = a0 * (1.0 - p1) / p1
        x0 = np.log(np.clip([a0, b0], _BOUNDS[0] * 10, _BOUNDS[1] / 10))
        res = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    return np.clip(best.x, bounds[0][0], bounds[0][1])


def _diagnose(
    x: NDArray,
    a: float,
    b: float,
    c: NDArray,
    e: NDArray,
    w: NDArray,
    bounds: list[tuple[float, float]],
    scale: float,
) -> tuple[bool, list[str]]:
    """Whether the search converged, and warnings on a fit at a bound or without heterogeneity."""
    warnings: list[str] = []
    grad_x = _gradient(a, b, c, e, w) * np.array([a, b]) / scale
    on_bound = [
        name
        for name, v in zip(("alpha", "beta"), x, strict=True)
        if v <= bounds[0][0] + 1e-3 or v >= bounds[0][1] - 1e-3
    ]
    homogeneous = a + b > _HOMOGENEOUS
    converged = bool(np.max(np.abs(grad_x)) < 1e-6) and not on_bound and not homogeneous
    if homogeneous and not (on_bound and min(a, b) <= _BOUNDS[0] * 1.01):
        warnings.append(
            f"the data show no sign of heterogeneity: alpha + beta grows without limit "
            f"(reached {a + b:.3g}) at a nearly constant churn probability of "
            f"{a / (a + b):.4g} per period; a constant churn rate fits as well, and the "
            "standard errors are unreliable"
        )
    elif on_bound:
        warnings.append(
            f"{' and '.join(on_bound)} reached the search bound {_BOUNDS}; the standard errors "
            "are unreliable"
        )
    elif not converged:
        warnings.append(f"the search stopped with gradient {grad_x.tolist()}")
    return converged, warnings


def _covariance(
    a: float, b: float, c: NDArray, e: NDArray, w: NDArray, warnings: list[str]
) -> NDArray[np.float64]:
    """Inverse observed information in (alpha, beta); NaN (and a warning) where it is singular."""
    hess = _hessian(a, b, c, e, w)
    info = -hess
    cov = np.full((2, 2), np.nan)
    if np.all(np.isfinite(info)) and np.linalg.eigvalsh(info).min() > 0:
        cov = np.linalg.inv(info)
    else:
        warnings.append("the observed information is not positive definite: no standard errors")
    return cov


def _newton_polish(
    x: NDArray, c: NDArray, e: NDArray, w: NDArray, bounds: list[tuple[float, float]]
) -> NDArray:
    """Newton steps on (log alpha, log beta) with the exact Hessian, each one an improvement."""
    lo, hi = bounds[0]
    for _ in range(30):
        a, b = np.exp(x)
        g = _gradient(a, b, c, e, w)
        h = _hessian(a, b, c, e, w)
        d = np.array([a, b])
        gx = g * d
        hx = h * np.outer(d, d) + np.diag(gx)
        if not np.all(np.isfinite(hx)) or np.linalg.eigvalsh(hx).max() >= 0:
            break
        step = -np.linalg.solve(hx, gx)
        ll0 = _loglik(a, b, c, e, w)
        for _ in range(20):
            x1 = np.clip(x + step, lo, hi)
            a1, b1 = np.exp(x1)
            if _loglik(a1, b1, c, e, w) >= ll0:
                break
            step /= 2
        else:
            break
        done = np.max(np.abs(x1 - x)) < 1e-12
        x = x1
        if done:
            break
    return x


# --------------------------------------------------------------------------------------------
# Fits of tables


def fit_retention(
    data: str | Path | pd.DataFrame | CsvTable,
    period_months: int = 1,
    fit_periods: int | None = None,
) -> list[SBGFit]:
    """sBG fit per segment of a cohort retention table (see :func:`read_retention`).

    ``fit_periods`` = K fits on periods 0..K only (a holdout check); None uses every period.
    ``period_months``: months per renewal period (1 monthly, 12 annual).
    """
    groups = read_retention(data)
    fits = []
    for d in groups:
        if fit_periods is not None:
            _check_fit_periods(d, fit_periods, data)
        fits.append(
            fit_sbg(*retention_counts(d, fit_periods), group=d.group, period_months=period_months)
        )
    return fits


def _check_fit_periods(d: RetentionData, k: int, data: Any) -> None:
    label = f"segment {d.group!r}: " if d.group is not None else ""
    source = data.source if isinstance(data, CsvTable) else str(data)
    if isinstance(data, pd.DataFrame):
        source = "<table>"
    if k < 2 or k >= d.periods:
        raise DataError(
            f"{source}: {label}a holdout needs 2 <= K < {d.periods} (the last period), got K = {k}"
        )
    if d.alive[k] == d.alive[0]:
        raise DataError(f"{source}: {label}no account churned in periods 1..{k}; nothing to fit")


def holdout_table(
    data: str | Path | pd.DataFrame | CsvTable,
    fit_periods: int | None = None,
    period_months: int = 1,
    fits: list[SBGFit] | None = None,
) -> pd.DataFrame:
    """Observed vs fitted (and projected) survival of a cohort retention table, tidy.

    Fits on periods 0..``fit_periods`` (every period when None) unless ``fits`` are given, and
    returns one row per (group, period) with ``months`` (= period x ``period_months``),
    ``observed_alive``, ``observed_survival``,
    ``fitted_survival`` (S(t) of the fit), ``expected_alive`` (cohort size x S(t)) and ``part``:
    ``"fit"`` for periods used in the fit, ``"holdout"`` for periods projected.
    """
    groups = read_retention(data)
    if fits is None:
        fits = fit_retention(data, period_months=period_months, fit_periods=fit_periods)
    by_group = {f.group: f for f in fits}
    frames = []
    for d in groups:
        f = by_group[d.group]
        t = np.arange(len(d.alive))
        s = f.survival(t)
        k = d.periods if fit_periods is None else fit_periods
        frames.append(
            pd.DataFrame(
                {
                    "group": d.group,
                    "period": t,
                    "months": t * f.period_months,
                    "period_months": f.period_months,
                    "observed_alive": d.alive,
                    "observed_survival": d.alive / d.alive[0],
                    "fitted_survival": s,
                    "expected_alive": d.alive[0] * s,
                    "part": np.where(t <= k, "fit", "holdout"),
                    "fit_periods": k,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def fit_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
) -> list[SBGFit]:
    """sBG fit per group from right-censored account-level data (see :func:`read_accounts`)."""
    return [
        fit_sbg(*account_counts(d), group=d.group, period_months=period_months)
        for d in read_accounts(data, duration, event, group, period_months)
    ]
