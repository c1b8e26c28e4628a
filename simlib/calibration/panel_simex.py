"""SIMEX of the regression-calibrated churn fit of ``simlib calibrate panel``.

Regression calibration (:mod:`simlib.calibration.panel_noise`) is a first-order correction: on
a panel with a Beta frailty it leaves the link biased low (about 8 % at noise sd 0.08, 16 % at
0.15 on the demo book, whatever the panel's size). Simulation-extrapolation (SIMEX; Cook &
Stefanski 1994, *JASA* 89:1314; Carroll, Ruppert, Stefanski & Crainiceanu 2006, *Measurement
Error in Nonlinear Models*, ch. 5) removes most of what is left: for each ``lambda`` in
:data:`LAMBDAS`, :data:`REPLICATES` pseudo-panels get extra noise ``sqrt(lambda) sigma eps``
(``eps ~ N(0, 1)`` from ``numpy.random.default_rng(SEED)``, so the fit is deterministic), each
is regression-calibrated for its total noise ``sigma^2 (1 + lambda)`` and refitted: two Newton
steps from the fit on the data with its information (Le Cam's one-step estimator, iterated
once; the pseudo-panels' estimates lie within sampling error of the fit on the data). The mean
estimate per ``lambda``, with the fit on the data at ``lambda = 0``, is extrapolated back to
``lambda = -1`` (no noise, where calibration is the identity and the fit the error-free MLE) by a
least-squares quadratic in ``lambda`` (:data:`DEGREE`; the standard extrapolant). SIMEX of the
calibrated estimator, rather than of the naive one, leaves only the calibration's residual bias
to extrapolate: the naive fit falls steeply with ``lambda`` and its quadratic extrapolant falls
short at low reliability (as for a linear regression: 0.85 of the truth at reliability 0.6).

The extrapolated estimate is a fixed linear combination ``sum_k c_k mean_b x_kb`` of M-estimates
whose data per account are its rows and its pseudo-errors, so its covariance is the sandwich of
the stacked estimating equations (Carroll et al. 2006, appendix B.4): each account's influence
is ``sum_k c_k mean_b H^-1 u_kb,i`` with ``u = s + G psi`` as in
:func:`simlib.calibration.panel_churn.robust_covariance` (the calibration's mean and reliability
of the pseudo-panel; the ``G psi`` part of each ``lambda`` from its first pseudo-panel), plus
``d x / d sigma`` times the account's influence on an estimated ``sigma``
(:func:`simlib.calibration.panel_noise.noise_influence`). It carries the sampling, the Monte
Carlo of the pseudo-noise and the noise estimate's uncertainty.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .panel_churn import (
    PanelChurnFit,
    _edge_warnings,
    account_influence,
    account_scores,
    fit_panel_churn,
)
from .panel_noise import Calibration, calibration, influence
from .panel_read import PanelData

__all__ = [
    "DEGREE",
    "IN_SD",
    "LAMBDAS",
    "REPLICATES",
    "SEED",
    "extrapolate",
    "extrapolation_weights",
    "simex_churn",
    "simex_replicates",
]

#: Extra noise variances, in units of ``sigma^2`` (Cook & Stefanski 1994 use 0.5 to 2).
LAMBDAS = (0.5, 1.0, 1.5, 2.0)
#: Pseudo-panels per ``lambda``.
REPLICATES = 8
#: Seed of the pseudo-noise (the year of Cook & Stefanski's paper: a fixed, documented constant).
SEED = 1994
#: Degree of the extrapolant.
DEGREE = 2
#: Whether the extrapolant is a polynomial in the noise sd ``sqrt(1 + lambda)`` (else in
#: ``lambda``, the noise variance).
IN_SD = False


def extrapolation_weights(
    lambdas: tuple[float, ...], degree: int, in_sd: bool = False
) -> NDArray[np.float64]:
    """``c`` with ``sum_k c_k y_k`` = the least-squares polynomial of ``degree`` through ``(0,
    *lambdas)`` and ``y`` evaluated at no noise: in ``lambda`` at ``lambda = -1`` or, with
    ``in_sd``, in the noise sd ``sqrt(1 + lambda)`` (units of ``sigma``) at 0."""
    grid: NDArray[np.float64] = np.r_[0.0, lambdas]
    at = np.zeros(degree + 1) if in_sd else (-1.0) ** np.arange(degree + 1)
    if in_sd:
        grid = np.sqrt(1.0 + grid)
        at[0] = 1.0
    design = np.vander(grid, degree + 1, increasing=True)
    return np.asarray(at @ np.linalg.pinv(design), dtype=np.float64)


def _calibrated(
    d: PanelData, extra: NDArray, lam: float, s: float
) -> tuple[PanelData, Calibration]:
    """The pseudo-panel ``w + sqrt(lam) s extra`` and its calibration for ``s^2 (1 + lam)``."""
    dd = dataclasses.replace(d, health=d.health + math.sqrt(lam) * s * extra) if lam else d
    return dd, calibration(dd, s * math.sqrt(1.0 + lam))


def _step_influence(
    fit: PanelChurnFit,
    ref: float,
    d: PanelData,
    extra: NDArray,
    lam: float,
    sigma: float,
    psi_sigma: NDArray | None,
) -> NDArray[np.float64]:
    """The influence on ``fit.x`` of the calibration of pseudo-panel ``(extra, lam)`` and of an
    estimated ``sigma`` (accounts x parameters): ``H^-1 G psi`` (see the module)."""
    dd, cal = _calibrated(d, extra, lam, sigma)
    parts: list[tuple[Callable[[NDArray], NDArray], NDArray, NDArray]] = [
        (lambda phi: cal.health(dd.health, phi), cal.phi, influence(dd, cal, estimated=False))
    ]
    if psi_sigma is not None:

        def of_sigma(p: NDArray) -> NDArray:
            d2, c2 = _calibrated(d, extra, lam, float(p[0]))
            return c2.health(d2.health)

        parts.append((of_sigma, np.array([sigma]), psi_sigma[:, None]))
    health = cal.health(dd.health)
    total = account_influence(fit, dd, ref, health, parts)
    own = account_influence(fit, dd, ref, health, [])
    return np.asarray(total - own, dtype=np.float64)


def _replicate(
    base: PanelChurnFit, ref: float, d: PanelData, extra: NDArray, lam: float, sigma: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A pseudo-panel's estimate, two Newton steps from the fit on the data with its
    information (Le Cam's one-step estimator, iterated once: the pseudo-panels' estimates lie
    within sampling error of it), and each account's ``H^-1 s_i`` at that estimate."""
    dd, cal = _calibrated(d, extra, lam, sigma)
    health = cal.health(dd.health)
    bread = np.linalg.inv(base.info)
    fit = dataclasses.replace(base, x=base.x.copy())
    for _ in range(2):
        fit.x = fit.x + bread @ account_scores(fit, dd, health, ref).sum(axis=0)
    return fit.x, account_scores(fit, dd, health, ref) @ bread


def simex_replicates(
    d: PanelData,
    sigma: float,
    psi_sigma: NDArray | None,
    fit_args: tuple[float, int, bool],
    lambdas: tuple[float, ...] = LAMBDAS,
    replicates: int = REPLICATES,
) -> tuple[PanelChurnFit, NDArray, NDArray]:
    """The calibrated fit on the data (``lambda = 0``), the mean estimate per ``lambda`` (``(1 +
    len(lambdas))`` x parameters) and each account's mean influence per ``lambda`` (``(1 +
    len(lambdas))`` x accounts x parameters); the calibration's share of the influence of a
    ``lambda`` is that of its first pseudo-panel."""
    ref, pieces, per_group = fit_args
    _, cal = _calibrated(d, np.zeros(0), 0.0, sigma)
    base = fit_panel_churn(d, cal.health(d.health), ref, pieces, per_group)
    k = 1 + len(lambdas)
    if not np.all(np.isfinite(base.info)) or np.linalg.eigvalsh(base.info).min() <= 0:
        nan = np.full((k, d.accounts, base.x.size), np.nan)
        return base, np.tile(base.x, (k, 1)), nan
    zero = np.zeros(d.health.size)
    own = account_scores(base, d, cal.health(d.health), ref) @ np.linalg.inv(base.info)
    means = [base.x.copy()]
    infl = [own + _step_influence(base, ref, d, zero, 0.0, sigma, psi_sigma)]
    rng = np.random.default_rng(SEED)
    for lam in lambdas:
        xs, us, step = [], [], None
        for _ in range(replicates):
            extra = rng.standard_normal(d.health.size)
            x, u = _replicate(base, ref, d, extra, lam, sigma)
            xs.append(x)
            us.append(u)
            if step is None:
                step = _step_influence(base, ref, d, extra, lam, sigma, psi_sigma)
        means.append(np.mean(xs, axis=0))
        infl.append(np.mean(us, axis=0) + step)
    return base, np.asarray(means), np.asarray(infl)


def extrapolate(
    means: NDArray, infl: NDArray, lambdas: tuple[float, ...], degree: int, in_sd: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The extrapolated parameters and their covariance (the stacked sandwich, see the
    module)."""
    c = extrapolation_weights(tuple(lambdas), degree, in_sd)
    total = np.einsum("k,kip->ip", c, infl)
    return np.einsum("k,kp->p", c, means), np.asarray(total.T @ total, dtype=np.float64)


def simex_churn(
    d: PanelData,
    sigma: float,
    psi_sigma: NDArray | None,
    ref: float,
    pieces: int = 1,
    per_group: bool = False,
    lambdas: tuple[float, ...] = LAMBDAS,
    replicates: int = REPLICATES,
    degree: int = DEGREE,
    in_sd: bool = IN_SD,
) -> tuple[PanelChurnFit, dict[str, Any]]:
    """The SIMEX churn fit (see the module) for noise sd ``sigma`` (0-1 scale), ``psi_sigma``
    each account's influence on an estimated ``sigma`` (None: given). Returns the fit (``x`` and
    ``cov`` extrapolated; the rest, e.g. the log-likelihood, of the calibrated fit at ``lambda =
    0``) and the record for the JSON (the mean link per ``lambda`` included)."""
    base, means, infl = simex_replicates(
        d, sigma, psi_sigma, (ref, pieces, per_group), lambdas, replicates
    )
    x, cov = extrapolate(means, infl, lambdas, degree, in_sd)
    out = dataclasses.replace(
        base, x=x, cov=cov, warnings=base.warnings + _edge_warnings(x, base.layout)
    )
    record = {
        "method": "SIMEX of the regression-calibrated fit (Cook & Stefanski 1994)",
        "lambdas": [0.0, *lambdas],
        "replicates": replicates,
        "extrapolant": {1: "linear", 2: "quadratic"}.get(degree, f"degree {degree}")
        + (" in the noise sd sqrt(1 + lambda), to 0" if in_sd else " in lambda, to -1"),
        "standard_errors": "sandwich of the stacked estimating equations (sampling, pseudo-noise "
        "and the noise estimate)",
        "seed": SEED,
        "effect_by_lambda": [float(m[base.layout.effect]) for m in means],
    }
    return out, record
