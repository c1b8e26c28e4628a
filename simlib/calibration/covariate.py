"""The sBG churn model with the satisfaction level as a covariate of the churn odds.

The anchor is the covariate sBG of PyMC-Marketing (``ShiftedBetaGeoModel`` with
``dropout_covariate_cols``, after Fader & Hardie's note 019 on time-invariant covariates): there
each account's Beta is scaled, ``alpha_i = alpha exp(-x_i g_a)``, ``beta_i = beta exp(-x_i g_b)``,
and its renewals follow the sBG of ``Beta(alpha_i, beta_i)``. The simulator links satisfaction to
churn on the *odds* instead (:mod:`simlib.model.satisfaction`), so the model fitted here is the
simulator's own:

* each account draws ``theta ~ Beta(alpha, beta)`` once (``theta``: its risk at health ``r``);
* at renewal ``t`` an account of health ``s`` (0-1) churns with probability
  ``h_t(theta, s) = expit(logit(theta) + d_t + effect x (r - s))``, ``d_t`` the tenure profile
  (``d_t = 0`` from renewal K on; no profile: all 0) and ``r`` = ``churn.satisfaction_reference``;
* an account that churned at renewal ``T`` contributes
  ``log E_theta[prod_{t<T} (1 - h_t) h_T]``, one still active after ``T`` renewals
  ``log E_theta[prod_{t<=T} (1 - h_t)]``; the expectations over the Beta are Gauss–Jacobi
  quadrature (:func:`simlib.calibration.tenure.beta_nodes`, exact for the plain sBG).

The two agree to first order in the churn probability: for small ``theta`` the odds are
``theta`` and ``Beta(alpha, beta)`` scaled by ``c = exp(effect x (r - s))`` is close to
``Beta(alpha, beta / c)``, i.e. PyMC-Marketing's form with ``x = r - s``, ``g_a = 0`` and
``g_b = effect``. With ``effect = 0`` both are the plain sBG of Fader & Hardie (2007).

The health score is mapped from the data's range ``LO:HI`` to 0-1, ``s = (score - LO) / (HI -
LO)``, so ``effect`` is on the scenario's scale (``churn.satisfaction_effect``: log-odds per unit
of the 0-1 scale); the data's slope per score point is ``effect / (HI - LO)``. ``r`` is the mean
health of the accounts fitted (rounded to 4 decimals), so ``alpha, beta`` describe the risk of an
account at the average health, as the scenario's base churn with that reference. Groups share
``effect``, ``r`` and the profile (the scenario has one of each) and have their own Beta.

All parameters (``log alpha, log beta`` per group, ``effect``, ``d_1 .. d_{K-1}``) are fitted
jointly by maximum likelihood; standard errors are the square roots of the diagonal of the inverse
observed information (central-difference Hessian of the exact log-likelihood), mapped to
``alpha, beta`` by the delta method. ``link_test`` is the likelihood-ratio test of ``effect = 0``
(chi-squared, 1 degree of freedom).

:func:`validate_accounts` checks a fit on held-out accounts: per satisfaction band (K bands of
equal counts), the Kaplan–Meier curve with its Greenwood band beside the predicted survival
(the mean over the band's accounts of their model survival), and the one-sample log-rank test
(Breslow 1975): per band the observed churns ``O`` against their compensator ``E = sum_i sum_{t <=
T_i} H_i(t)``, ``H_i`` the account's model hazard, ``z = (O - E) / sqrt(sum H (1 - H))``, and
``sum z^2`` against chi-squared with K degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import chdtrc, log_expit, logit, logsumexp

from ..errors import DataError
from ..io.csv import CsvTable, as_table, group_rows, labels, parse_numbers
from ..survival import kaplan_meier
from .fitting import fit_sbg
from .readers import account_counts, read_accounts
from .sbg import json_number
from .tenure import TenureFit, _hessian, beta_nodes, nodes_for

__all__ = [
    "CovariateData",
    "CovariateFit",
    "calibrate_scores",
    "fit_satisfaction_accounts",
    "read_satisfaction_accounts",
    "satisfaction_survival",
    "validate_accounts",
]

_AB = (math.log(1e-4), math.log(1e6))
_EFFECT_BOUND = 50.0
_D_BOUND = 15.0
#: Level of the tests (the link test, the validation).
LEVEL = 0.05


@dataclass
class CovariateData:
    """One group's accounts: renewal ``periods`` (churned at, or passed), ``churned``, and the
    health ``score`` mapped to 0-1."""

    group: str | None
    periods: NDArray[np.int64]
    churned: NDArray[np.bool_]
    score: NDArray[np.float64]


def read_satisfaction_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    satisfaction: str,
    score_range: tuple[float, float],
    group: str | None = None,
    period_months: int = 1,
) -> list[CovariateData]:
    """:func:`~simlib.calibration.readers.read_accounts` plus the health column, mapped from
    ``score_range`` = (LO, HI) to 0-1; a blank score or one outside LO..HI is refused, naming
    the row and the column."""
    table = as_table(data, "a duration, a 0/1 event and a satisfaction (health) column")
    lo, hi = score_range
    if not hi > lo:
        raise DataError(f"--satisfaction-range: needs LO < HI, got {lo:g}:{hi:g}")
    table.require([satisfaction], f"the satisfaction column {satisfaction!r}")
    parts = read_accounts(table, duration, event, group, period_months)
    raw = parse_numbers(table, satisfaction)
    bad = np.flatnonzero((raw < lo) | (raw > hi))
    if bad.size:
        i = int(bad[0])
        raise table.error(
            f"a satisfaction score must lie in the range {lo:g}..{hi:g} (--satisfaction-range), "
            f"got {raw[i]:g}",
            i,
            satisfaction,
        )
    score = (raw - lo) / (hi - lo)
    rows = [r for _, r in group_rows(labels(table, group))] if group else [np.arange(len(table))]
    return [
        CovariateData(p.group, p.periods, p.churned, score[r])
        for p, r in zip(parts, rows, strict=True)
    ]


@dataclass
class CovariateFit(TenureFit):
    """A fitted sBG with the satisfaction covariate (see the module). ``alpha, beta``: the Beta
    of the risk at health ``satisfaction_reference``; ``satisfaction_effect``: log-odds of churn
    per unit (0-1 scale) that health lies below the reference."""

    satisfaction_effect: float = 0.0
    satisfaction_effect_se: float = float("nan")
    satisfaction_reference: float = 0.5
    satisfaction_range: tuple[float, float] = (0.0, 1.0)
    link_test: dict[str, Any] = field(default_factory=dict)
    #: measurement noise of the score (0-1 scale) corrected for, and the reliability used
    satisfaction_noise_sd: float = 0.0
    satisfaction_reliability: float = 1.0

    def to_dict(self, annual_discount_rate: float = 0.1) -> dict[str, Any]:
        out = super().to_dict(annual_discount_rate)
        out["model"] = "sbg_satisfaction" + ("_tenure" if self.pieces > 1 else "")
        if self.pieces <= 1:
            for key in ("tenure_pieces", "tenure_profile", "tenure_profile_se"):
                out.pop(key, None)
        lo, hi = self.satisfaction_range
        out |= {
            "satisfaction_effect": json_number(self.satisfaction_effect),
            "satisfaction_effect_se": json_number(self.satisfaction_effect_se),
            "satisfaction_reference": json_number(self.satisfaction_reference),
            "satisfaction_range": [lo, hi],
            "satisfaction_effect_per_point": json_number(self.satisfaction_effect / (hi - lo)),
            "link_test": self.link_test,
            "satisfaction_noise_sd": json_number(self.satisfaction_noise_sd * (hi - lo)),
            "satisfaction_reliability": json_number(self.satisfaction_reliability),
        }
        return out


def calibrate_scores(
    data: list[CovariateData],
    noise_sd: float,
    centre: tuple[float, float] | None = None,
) -> tuple[list[CovariateData], float, float]:
    """Regression calibration of noisy health scores (Carroll et al. 2006, ch. 4): each score
    ``w`` (0-1) becomes ``mu + lambda (w - mu)``, ``lambda = (Var(w) - noise_sd^2) / Var(w)``
    over the accounts of ``data`` (or ``centre`` = (mu, lambda) from the training data, for
    held-out accounts). Returns the data, ``mu`` and ``lambda``; a fit on the calibrated scores
    undoes the flattening of the link by the noise (regression dilution)."""
    if centre is None:
        w = np.concatenate([d.score for d in data])
        mu, var = float(w.mean()), float(w.var())
        lam = 1.0 if var <= 0 else (var - noise_sd**2) / var
        if lam <= 0.05:
            raise DataError(
                f"--satisfaction-noise: a noise sd of {noise_sd:.3g} (0-1 scale) is as large as "
                f"the scores' spread (sd {math.sqrt(var):.3g}); they carry no signal to fit"
            )
    else:
        mu, lam = centre
    out = [CovariateData(d.group, d.periods, d.churned, mu + lam * (d.score - mu)) for d in data]
    return out, mu, lam


# --------------------------------------------------------------------------------------------
# The likelihood


@dataclass
class _Layout:
    """Where each parameter sits in ``x``: per group (log alpha, log beta), then effect, then
    the profile shifts d_1..d_{K-1}."""

    groups: int
    pieces: int

    @property
    def effect(self) -> int:
        return 2 * self.groups

    @property
    def size(self) -> int:
        return 2 * self.groups + 1 + max(self.pieces - 1, 0)

    def shifts(self, x: NDArray) -> NDArray[np.float64]:
        return np.asarray(x[self.effect + 1 :], dtype=np.float64)


def _account_loglik(
    a: float, b: float, effect: float, shifts: NDArray, d: CovariateData, ref: float
) -> NDArray[np.float64]:
    """Each account's log-likelihood (see the module), by quadrature over Beta(a, b)."""
    t_max = int(d.periods.max(initial=1))
    theta, w = beta_nodes(float(a), float(b), nodes_for(t_max))
    lt = logit(theta)[None, :]
    g = (effect * (ref - d.score))[:, None]
    kept = (d.periods - d.churned).astype(np.float64)  # renewals survived
    k1 = shifts.size  # renewals 1..k1 have their own shift
    z_late = lt + g
    total = np.maximum(kept - k1, 0.0)[:, None] * log_expit(-z_late)
    for u in range(1, k1 + 1):
        on = (kept >= u)[:, None]
        total = total + np.where(on, log_expit(-(z_late + shifts[u - 1])), 0.0)
    if d.churned.any():
        pad = np.concatenate([shifts, [0.0]])
        d_at = pad[np.minimum(d.periods, k1 + 1) - 1] if k1 else np.zeros(d.periods.size)
        churn = log_expit(z_late + d_at[:, None])
        total = total + np.where(d.churned[:, None], churn, 0.0)
    return np.asarray(logsumexp(total + np.log(w)[None, :], axis=1), dtype=np.float64)


def _loglik(x: NDArray, layout: _Layout, data: list[CovariateData], ref: float) -> float:
    effect = float(x[layout.effect])
    shifts = layout.shifts(x)
    ll = 0.0
    for k, d in enumerate(data):
        a, b = math.exp(x[2 * k]), math.exp(x[2 * k + 1])
        ll += float(_account_loglik(a, b, effect, shifts, d, ref).sum())
    return ll if math.isfinite(ll) else -1e300


def _gradient(fun: Any, x: NDArray, free: NDArray[np.bool_], step: float = 1e-6) -> NDArray:
    g = np.zeros(x.size)
    for i in np.flatnonzero(free):
        e = np.zeros(x.size)
        e[i] = step
        g[i] = (fun(x + e) - fun(x - e)) / (2 * step)
    return g


def _start(layout: _Layout, data: list[CovariateData], period_months: int) -> NDArray:
    """Each group's plain sBG fit, no link, no shifts."""
    x = np.zeros(layout.size)
    for k, d in enumerate(data):
        plain = fit_sbg(*account_counts(_as_accounts(d)), period_months=period_months)
        x[2 * k : 2 * k + 2] = np.clip(np.log([plain.alpha, plain.beta]), _AB[0] + 1, _AB[1] - 1)
    return x


def _as_accounts(d: CovariateData) -> Any:
    from .readers import AccountData

    return AccountData(d.group, d.periods, d.churned)


def _search(
    x0: NDArray, layout: _Layout, data: list[CovariateData], ref: float, fixed_effect: bool
) -> NDArray:
    """L-BFGS-B on the free parameters (the effect held where ``fixed_effect``)."""
    n = max(sum(d.periods.size for d in data), 1)
    free = np.ones(layout.size, dtype=bool)
    if fixed_effect:
        free[layout.effect] = False

    def full(y: NDArray) -> NDArray:
        x = x0.copy()
        x[free] = y
        return x

    def objective(y: NDArray) -> tuple[float, NDArray]:
        x = full(y)
        fun = lambda z: -_loglik(z, layout, data, ref) / n  # noqa: E731
        return fun(x), _gradient(fun, x, free)[free]

    bounds = [_AB, _AB] * layout.groups + [(-_EFFECT_BOUND, _EFFECT_BOUND)]
    bounds += [(-_D_BOUND, _D_BOUND)] * (layout.size - len(bounds))
    res = minimize(
        objective,
        x0[free],
        jac=True,
        method="L-BFGS-B",
        bounds=[b for b, f in zip(bounds, free, strict=True) if f],
        options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 3000},
    )
    return full(res.x)


def fit_satisfaction_accounts(
    data: list[CovariateData],
    score_range: tuple[float, float] = (0.0, 1.0),
    period_months: int = 1,
    tenure_pieces: int | None = None,
    fixed_effect: float | None = None,
) -> list[CovariateFit]:
    """Joint maximum-likelihood fit of the model (see the module) to groups of accounts.

    ``tenure_pieces`` = K adds the profile ``d_1..d_{K-1}`` (shared by the groups; the data must
    reach renewal K + 1). ``fixed_effect``: hold the link at this value (0 drops it) instead of
    fitting it. Returns one fit per group, each carrying the shared effect and its standard error.
    """
    if not data:
        raise DataError("no accounts to fit")
    pieces = tenure_pieces or 1
    t_max = max(int(d.periods.max(initial=0)) for d in data)
    if tenure_pieces is not None and (pieces < 2 or t_max < pieces + 1):
        raise DataError(
            f"--tenure-profile {pieces}: a profile of K pieces needs 2 <= K and data up to "
            f"renewal K + 1; the data reach renewal {t_max}, so K <= {max(t_max - 1, 1)}"
        )
    ref = round(float(np.mean(np.concatenate([d.score for d in data]))), 4)
    layout = _Layout(len(data), pieces)
    x0 = _start(layout, data, period_months)
    x0[layout.effect] = 0.0 if fixed_effect is None else fixed_effect
    null = _search(x0, layout, data, ref, fixed_effect=True) if fixed_effect is None else None
    x = _search(null if null is not None else x0, layout, data, ref, fixed_effect is not None)
    ll = _loglik(x, layout, data, ref)
    test: dict[str, Any] = {}
    if null is not None:
        stat = max(2.0 * (ll - _loglik(null, layout, data, ref)), 0.0)
        p = float(chdtrc(1, stat))
        test = {
            "statistic": json_number(stat),
            "df": 1,
            "p_value": json_number(p),
            "level": LEVEL,
            "rejects_no_link": bool(p < LEVEL),
        }
    return _fits(x, layout, data, ref, score_range, period_months, ll, test, fixed_effect)


def _fits(
    x: NDArray,
    layout: _Layout,
    data: list[CovariateData],
    ref: float,
    score_range: tuple[float, float],
    period_months: int,
    ll: float,
    test: dict[str, Any],
    fixed_effect: float | None,
) -> list[CovariateFit]:
    """The fits at ``x``: covariance from the observed information (delta method to alpha,
    beta), warnings at the search bounds."""
    free = np.ones(layout.size, dtype=bool)
    if fixed_effect is not None:
        free[layout.effect] = False
    idx = np.flatnonzero(free)
    info = -_hessian(lambda y: _loglik(_put(x, idx, y), layout, data, ref), x[idx])
    cov = np.full((layout.size, layout.size), np.nan)
    warnings: list[str] = []
    if np.all(np.isfinite(info)) and np.linalg.eigvalsh(info).min() > 0:
        sub = np.linalg.inv(info)
        cov[np.ix_(idx, idx)] = sub
    else:
        warnings.append("the observed information is not positive definite: no standard errors")
    jac = np.ones(layout.size)
    jac[: 2 * layout.groups] = np.exp(x[: 2 * layout.groups])
    cov = cov * np.outer(jac, jac)
    se = np.sqrt(np.diag(cov))
    effect = float(x[layout.effect])
    if abs(effect) >= _EFFECT_BOUND - 1e-3:
        warnings.append("the satisfaction effect reached the search bound; it is not identified")
    shifts = layout.shifts(x)
    e = layout.effect
    out = []
    for k, d in enumerate(data):
        keep = [2 * k, 2 * k + 1, *range(e + 1, layout.size)]
        out.append(
            CovariateFit(
                group=d.group,
                alpha=math.exp(x[2 * k]),
                beta=math.exp(x[2 * k + 1]),
                alpha_se=float(se[2 * k]),
                beta_se=float(se[2 * k + 1]),
                covariance=cov[np.ix_(keep, keep)],
                log_likelihood=ll,
                n=int(d.periods.size),
                churned=int(d.churned.sum()),
                periods=int(d.periods.max(initial=0)),
                period_months=int(period_months),
                converged=not warnings,
                warnings=list(warnings),
                tenure_profile=[float(v) for v in shifts],
                tenure_profile_se=[float(v) for v in se[e + 1 :]],
                pieces=layout.pieces,
                satisfaction_effect=effect,
                satisfaction_effect_se=float(se[e]) if fixed_effect is None else 0.0,
                satisfaction_reference=ref,
                satisfaction_range=(float(score_range[0]), float(score_range[1])),
                link_test=dict(test),
            )
        )
    return out


def _put(x: NDArray, idx: NDArray, y: NDArray) -> NDArray:
    z = x.copy()
    z[idx] = y
    return z


# --------------------------------------------------------------------------------------------
# Prediction and validation


def satisfaction_survival(fit: CovariateFit, score: Any, t_max: int) -> NDArray[np.float64]:
    """``S_i(t)``, t = 0..t_max, of accounts with health ``score`` (0-1) under ``fit``:
    an array (accounts, t_max + 1)."""
    theta, w = beta_nodes(float(fit.alpha), float(fit.beta), nodes_for(t_max))
    s = np.asarray(score, dtype=np.float64)
    z = (
        logit(theta)[None, :]
        + (fit.satisfaction_effect * (fit.satisfaction_reference - s))[:, None]
    )
    d = np.zeros(t_max)
    prof = np.asarray(fit.tenure_profile, dtype=np.float64)[:t_max]
    d[: prof.size] = prof
    keep = log_expit(-(z[:, :, None] + d[None, None, :]))  # (accounts, nodes, t)
    paths = np.exp(np.concatenate([np.zeros((*keep.shape[:2], 1)), np.cumsum(keep, 2)], 2))
    return np.asarray(np.einsum("j,ijt->it", w, paths), dtype=np.float64)


def _bands(score: NDArray, k: int) -> tuple[NDArray[np.int64], NDArray]:
    """Band 1..k of each score (equal counts by rank; ties of a score stay in one band) and
    the edges."""
    order = np.argsort(score, kind="stable")
    band = np.empty(score.size, dtype=np.int64)
    band[order] = np.arange(score.size) * k // max(score.size, 1) + 1
    for b in range(2, k + 1):  # a score on a boundary goes with the lower band
        low = score[band == b - 1]
        if low.size:
            band[(band == b) & (score <= low.max())] = b - 1
    edges = np.array(
        [
            [score[band == b].min(), score[band == b].max()] if (band == b).any() else [np.nan] * 2
            for b in range(1, k + 1)
        ]
    )
    return band, edges


def validate_accounts(
    fits: list[CovariateFit], test: list[CovariateData], bands: int = 3
) -> dict[str, Any]:
    """Predicted survival against the Kaplan–Meier curve of held-out accounts, per band of
    health (see the module): ``{"validation": rows, "bands": [...], "test": {...}}``."""
    by_group = {f.group: f for f in fits}
    missing = [d.group for d in test if d.group not in by_group]
    if missing:
        raise DataError(f"--validate: group(s) {missing} have no fit in the training data")
    t_max = max(int(d.periods.max(initial=0)) for d in test)
    score = np.concatenate([d.score for d in test])
    periods = np.concatenate([d.periods for d in test])
    churned = np.concatenate([d.churned for d in test])
    surv = np.concatenate([satisfaction_survival(by_group[d.group], d.score, t_max) for d in test])
    if score.size < bands:
        raise DataError(f"--bands {bands}: the held-out data have only {score.size} accounts")
    band, edges = _bands(score, bands)
    rows: list[dict[str, Any]] = []
    summary = []
    for b in range(1, bands + 1):
        sel = band == b
        if not sel.any():
            continue
        rows += _band_rows(b, periods[sel], churned[sel], surv[sel])
        summary.append(_band_test(b, edges[b - 1], periods[sel], churned[sel], surv[sel]))
    stat = float(sum(s["z"] ** 2 for s in summary))
    p = float(chdtrc(len(summary), stat))
    return {
        "validation": rows,
        "validation_bands": summary,
        "validation_test": {
            "test": "one-sample log-rank per band (Breslow 1975)",
            "statistic": json_number(stat),
            "df": len(summary),
            "p_value": json_number(p),
            "level": LEVEL,
            "passes": bool(p >= LEVEL),
        },
    }


def _band_rows(b: int, periods: NDArray, churned: NDArray, surv: NDArray) -> list[dict[str, Any]]:
    km = kaplan_meier(periods, churned)
    times = km["time"].to_numpy(dtype=np.float64)
    last = int(periods.max(initial=0))
    rows = []
    for t in range(0, last + 1):
        i = int(np.searchsorted(times, t, side="right") - 1)
        rows.append(
            {
                "band": b,
                "period": t,
                "at_risk": int(np.sum(periods >= t)),
                "observed": json_number(km["survival"].iloc[i]) if i >= 0 else 1.0,
                "observed_ci_low": json_number(km["ci_low"].iloc[i]) if i >= 0 else 1.0,
                "observed_ci_high": json_number(km["ci_high"].iloc[i]) if i >= 0 else 1.0,
                "predicted": json_number(surv[:, t].mean()),
            }
        )
    return rows


def _band_test(
    b: int, edge: NDArray, periods: NDArray, churned: NDArray, surv: NDArray
) -> dict[str, Any]:
    """The one-sample log-rank test of one band: observed churns against their compensator."""
    prev, cur = surv[:, :-1], surv[:, 1:]
    hazard = np.where(prev > 0, 1.0 - cur / np.where(prev > 0, prev, 1.0), 0.0)
    t = np.arange(1, surv.shape[1])[None, :]
    exposed = t <= periods[:, None]
    expected = float(np.sum(hazard * exposed))
    var = float(np.sum(hazard * (1 - hazard) * exposed))
    observed = int(churned.sum())
    z = (observed - expected) / math.sqrt(var) if var > 0 else 0.0
    return {
        "band": b,
        "health_low": json_number(edge[0]),
        "health_high": json_number(edge[1]),
        "accounts": int(periods.size),
        "observed_churn": observed,
        "expected_churn": json_number(expected),
        "z": float(z),
    }
