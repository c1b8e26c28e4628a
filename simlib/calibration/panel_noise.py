"""The measurement noise of a panel's health score and its regression calibration.

A CRM records ``w = x + e`` with ``Var(e) = sigma^2``; using ``w`` for ``x`` flattens the slopes
toward zero (regression dilution, by about the reliability ``lambda = Var(x) / Var(w)``).
Regression calibration (Carroll, Ruppert, Stefanski & Crainiceanu 2006, *Measurement Error in
Nonlinear Models*, ch. 4) replaces ``x`` by its best linear prediction ``E[x | w] = mu_g + lambda_g
(w - mu_g)`` within each group ``g`` of the fit (one group without ``--group``), ``mu_g`` the mean
of ``w`` and ``lambda_g = (Var_g(w) - sigma^2) / Var_g(w)``.

``sigma`` is given (e.g. from the vendor's test-retest figures) or estimated from the panel
itself: within an account the mean squared change of the score over ``k`` months is ``D_k = 2
sigma^2 + 2 V (1 - rho^k)`` when the true health is a stationary AR(1) around the account's own
level (the simulator's drift, up to its logit scale), so ``2 sigma^2 = D_1 - (D_2 - D_1)^2 / (D_3
- D_2)`` (the nugget of the variogram; a straight line through lags 1 and 2 when there is no
curvature to read).

Every one of these is a smooth function of per-account sums (the squared changes and pairs at
each lag, the sum of ``w``, of ``w^2`` and the rows of each account), so :func:`influence` gives
each account's influence on ``phi = (mu_g, lambda_g)_g`` by the delta method, which
:mod:`simlib.calibration.panel_churn` carries into the standard errors of the fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import DataError
from .panel_read import PanelData

__all__ = ["Calibration", "calibration", "noise_from_panel", "noise_influence"]

#: Below this reliability the scores carry too little signal to fit.
MIN_RELIABILITY = 0.05


def _lag_sums(d: PanelData) -> NDArray[np.float64]:
    """Per account: the sum of squared changes and the number of pairs at lags 1, 2, 3
    (accounts x 6: A_1, N_1, A_2, N_2, A_3, N_3)."""
    out = np.zeros((d.accounts, 6))
    for k in (1, 2, 3):
        same = (d.account[k:] == d.account[:-k]) & (d.month[k:] - d.month[:-k] == k)
        diff = d.health[k:][same] - d.health[:-k][same]
        acc = d.account[k:][same]
        out[:, 2 * k - 2] = np.bincount(acc, diff**2, minlength=d.accounts)
        out[:, 2 * k - 1] = np.bincount(acc, minlength=d.accounts)
    return out


def _nugget(lags: NDArray[np.float64], linear: bool | None = None) -> tuple[float, bool]:
    """``sigma^2`` from the variogram ``(D_1, D_2, D_3)`` and whether the straight-line form
    was used (``linear`` forces the form, for derivatives at the estimate)."""
    d1, d2, d3 = (float(v) for v in lags)
    curved = d3 - d2 > 0 and d2 - d1 > 0 and (d3 - d2) < (d2 - d1)
    use_line = (not curved) if linear is None else linear
    two_var = 2 * d1 - d2 if use_line else d1 - (d2 - d1) ** 2 / (d3 - d2)
    return max(two_var, 0.0) / 2, use_line


def noise_from_panel(d: PanelData) -> dict[str, Any]:
    """The noise of the health score (0-1 scale) from the variogram of each account's scores
    (see the module): ``{"sd", "method", "lags": {k: D_k}}``."""
    sums = _lag_sums(d).sum(axis=0)
    pairs = sums[1::2]
    if not (pairs > 0).all():
        return {"sd": 0.0, "method": "too few months per account to estimate; none assumed"}
    lags = sums[0::2] / pairs
    var, linear = _nugget(lags)
    method = "variogram nugget, " + ("linear in the lag" if linear else "AR(1) health")
    return {
        "sd": math.sqrt(var),
        "method": method,
        "lags": {str(k): float(v) for k, v in zip((1, 2, 3), lags, strict=True)},
    }


@dataclass
class Calibration:
    """Regression calibration of a panel's health: ``phi = (mu_g, lambda_g)`` per group (in
    the order of ``d.groups``), ``group_of``: each row's group index."""

    phi: NDArray[np.float64]
    group_of: NDArray[np.int64]
    noise_sd: float  # 0-1 scale
    groups: list[str | None]

    def health(self, w: NDArray[np.float64], phi: NDArray | None = None) -> NDArray[np.float64]:
        """``mu_g + lambda_g (w - mu_g)`` row by row (at ``phi``, default the estimate)."""
        p = self.phi if phi is None else phi
        mu, lam = p[0::2][self.group_of], p[1::2][self.group_of]
        return np.asarray(mu + lam * (w - mu), dtype=np.float64)

    @property
    def reliability(self) -> dict[str | None, float]:
        return {g: float(v) for g, v in zip(self.groups, self.phi[1::2], strict=True)}


def _group_index(d: PanelData) -> NDArray[np.int64]:
    if d.group is None:
        return np.zeros(d.account.size, dtype=np.int64)
    return np.unique(d.group, return_inverse=True)[1].astype(np.int64)


def calibration(d: PanelData, noise_sd: float) -> Calibration:
    """The calibration of ``d`` for a noise sd ``noise_sd`` (0-1 scale); refused when the
    noise is as large as the scores' spread in a group."""
    gi = _group_index(d)
    phi = []
    for j, g in enumerate(d.groups):
        w = d.health[gi == j]
        mu, var = float(w.mean()), float(w.var())
        lam = 1.0 if var <= 0 else max(0.0, (var - noise_sd**2) / var)
        if lam <= MIN_RELIABILITY:
            where = "" if g is None else f" in group {g!r}"
            raise DataError(
                f"{d.source}: the noise of the health score (sd {noise_sd:.3g} on 0-1) is as "
                f"large as its spread{where} (sd {math.sqrt(var):.3g}); the scores carry no "
                "signal to fit"
            )
        phi += [mu, lam]
    return Calibration(np.asarray(phi), gi, float(noise_sd), list(d.groups))


def influence(d: PanelData, cal: Calibration, estimated: bool) -> NDArray[np.float64]:
    """Each account's influence on ``phi`` (accounts x len(phi)): ``phi_hat - phi ~ sum_i
    psi_i``, by the delta method on the per-account sums (see the module). ``estimated``:
    the noise sd was estimated from the panel (else it is known)."""
    groups = len(cal.groups)
    cols = []
    for j in range(groups):  # sum of w, of w^2, rows, per account of the group
        on = cal.group_of == j
        for v in (d.health, d.health**2, np.ones_like(d.health)):
            cols.append(np.bincount(d.account[on], v[on], minlength=d.accounts))
    totals = np.column_stack(cols)
    linear = None
    if estimated:
        lag = _lag_sums(d)
        totals = np.column_stack([totals, lag])
        linear = _nugget(lag.sum(0)[0::2] / lag.sum(0)[1::2])[1]
    sigma2 = cal.noise_sd**2

    def phi_of(mean: NDArray) -> NDArray:
        s2 = sigma2
        if estimated:
            lag_means = mean[3 * groups :]
            s2 = _nugget(lag_means[0::2] / lag_means[1::2], linear)[0]
        out = []
        for j in range(groups):
            sw, sww, rows = mean[3 * j : 3 * j + 3]
            mu = sw / rows
            var = sww / rows - mu * mu
            out += [mu, (var - s2) / var]
        return np.asarray(out)

    mean = totals.mean(axis=0)
    jac = np.zeros((2 * groups, mean.size))
    for k in range(mean.size):
        h = 1e-6 * max(abs(mean[k]), 1e-12)
        e = np.zeros(mean.size)
        e[k] = h
        jac[:, k] = (phi_of(mean + e) - phi_of(mean - e)) / (2 * h)
    return np.asarray((totals - mean) @ jac.T / d.accounts, dtype=np.float64)


def noise_influence(d: PanelData) -> NDArray[np.float64]:
    """Each account's influence on the estimated noise sd (0-1 scale) of
    :func:`noise_from_panel`: ``sigma_hat - sigma ~ sum_i psi_i``, the delta method on the
    per-account lag sums of the variogram."""
    lag = _lag_sums(d)
    mean = lag.mean(axis=0)
    linear = _nugget(mean[0::2] / mean[1::2])[1]

    def sd_of(m: NDArray) -> float:
        return math.sqrt(max(_nugget(m[0::2] / m[1::2], linear)[0], 0.0))

    jac = np.zeros(mean.size)
    for k in range(mean.size):
        h = 1e-6 * max(abs(mean[k]), 1e-12)
        e = np.zeros(mean.size)
        e[k] = h
        jac[k] = (sd_of(mean + e) - sd_of(mean - e)) / (2 * h)
    return np.asarray((lag - mean) @ jac / d.accounts, dtype=np.float64)
