"""The sBG model with a tenure profile: a log-odds shift of churn at the first renewals.

The plain shifted-beta-geometric model (:mod:`simlib.calibration.sbg`, Fader & Hardie 2007) has
a hazard that can only fall with tenure. Many subscription books churn *more* over the first
renewals (onboarding that did not take, trials ending). The model here is the simulator's
``tenure`` churn-odds term (:mod:`simlib.model.tenure`): an account with churn probability
``theta ~ Beta(alpha, beta)`` churns at renewal ``t`` with probability

    h_t(theta) = expit(logit(theta) + d_t),    d_t = d[t] for t < K,  d_t = 0 for t >= K

in ``K`` pieces (renewals 1, ..., K - 1 each with their own shift, renewal K and later the
reference, where Beta(alpha, beta) is the churn of a seasoned account). With
``s_t(theta) = prod_{n<=t} (1 - h_n(theta))``:

* ``S(t) = E[s_t(theta)]``, ``P(T = t) = E[s_{t-1}(theta) h_t(theta)]`` and the hazard
  ``P(T = t) / S(t - 1)``.

The expectations over the Beta are Gauss–Jacobi quadrature (:func:`beta_nodes`: nodes and
weights of Beta(alpha, beta) by Golub & Welsch 1969) with ``n`` = max(64, t/2 + 2) nodes for data
up to renewal ``t``. It is exact for polynomials of degree ``2n - 1`` in theta, so with every
``d_t = 0`` it returns the sBG closed forms to rounding; with shifts, ``s_t`` is a polynomial over a product of
``1 + theta (e^d - 1)``, smooth on [0, 1], where the quadrature converges geometrically.

:func:`fit_tenure_sbg` fits ``alpha, beta, d_1 .. d_{K-1}`` jointly by maximum likelihood (the
same data as :func:`~simlib.calibration.fitting.fit_sbg`); standard errors are the square
roots of the diagonal of the inverse observed information, whose Hessian is taken by central
differences of the exact log-likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import eigh_tridiagonal
from scipy.optimize import minimize

from ..errors import DataError
from .sbg import SBGFit, json_number

__all__ = [
    "TenureFit",
    "beta_nodes",
    "fit_tenure_sbg",
    "observed_hazard",
    "tenure_churn_probability",
    "tenure_hazard",
    "tenure_survival",
]

#: Quadrature nodes over the Beta distribution (at least; more for data longer than 126
#: renewals, so that the sBG closed forms stay exact, see :func:`nodes_for`).
NODES = 64


def nodes_for(t_max: int) -> int:
    """Nodes for survival up to renewal ``t_max``: exact for the sBG (degree ``t_max`` in
    theta) when ``2n - 1 >= t_max``, and never fewer than :data:`NODES`."""
    return max(NODES, t_max // 2 + 2)


#: Search bounds of alpha and beta (wider shapes: the fit is flagged) and of each shift.
_AB_BOUNDS = (1e-4, 1e6)
_D_BOUND = 15.0


@lru_cache(maxsize=16)
def beta_nodes(alpha: float, beta: float, n: int = NODES) -> tuple[NDArray, NDArray]:
    """Gauss–Jacobi nodes ``theta_j`` in (0, 1) and weights ``w_j`` (summing to 1) of
    Beta(alpha, beta): ``E[f(theta)] ~ sum_j w_j f(theta_j)``, exact for polynomials of degree
    ``2n - 1``. Golub–Welsch on the monic Jacobi recurrence for ``(1 - x)^A (1 + x)^B``,
    ``A = alpha - 1``, ``B = beta - 1``, ``theta = (1 - x) / 2``.
    """
    a, b = alpha - 1.0, beta - 1.0
    k = np.arange(n, dtype=np.float64)
    s = 2.0 * k + a + b
    diag = np.empty(n)
    diag[0] = (b - a) / (a + b + 2.0)
    diag[1:] = (b * b - a * a) / (s[1:] * (s[1:] + 2.0))
    j = np.arange(1, n, dtype=np.float64)
    sj = 2.0 * j + a + b
    off2 = np.empty(n - 1)
    # n = 1: (1 + A + B) cancels (it is 0 when alpha + beta = 1)
    off2[0] = 4.0 * (1 + a) * (1 + b) / ((2 + a + b) ** 2 * (3 + a + b))
    jj, ss = j[1:], sj[1:]
    off2[1:] = 4 * jj * (jj + a) * (jj + b) * (jj + a + b) / (ss**2 * (ss + 1) * (ss - 1))
    x, vec = eigh_tridiagonal(diag, np.sqrt(off2))
    w = vec[0] ** 2
    theta = np.clip((1.0 - x) / 2.0, 1e-300, 1.0 - 1e-16)
    w = w / w.sum()
    theta.flags.writeable = False  # cached (a fit asks again for the same shapes)
    w.flags.writeable = False
    return theta, w


def _shifts(profile: Any, t_max: int) -> NDArray[np.float64]:
    """``d_t`` for t = 1..t_max (0 past the profile)."""
    d = np.zeros(t_max)
    p = np.asarray(profile, dtype=np.float64)[:t_max]
    d[: p.size] = p
    return d


def _paths(alpha: float, beta: float, profile: Any, t_max: int) -> tuple[NDArray, NDArray, NDArray]:
    """Weights ``w_j``, survival ``s[j, t]`` (t = 0..t_max) and hazards ``h[j, t - 1]``."""
    theta, w = beta_nodes(float(alpha), float(beta), nodes_for(t_max))
    d = _shifts(profile, t_max)
    e = np.exp(d)[None, :]
    th = theta[:, None]
    h = th * e / (1.0 - th + th * e)  # expit(logit(theta) + d)
    log_keep = np.log1p(-th) - np.log1p(th * (e - 1.0))  # log(1 - h)
    s = np.exp(np.concatenate([np.zeros((theta.size, 1)), np.cumsum(log_keep, axis=1)], axis=1))
    return w, s, h


def tenure_survival(alpha: float, beta: float, profile: Any, t: Any) -> NDArray[np.float64]:
    """``S(t)``: share of a cohort alive after ``t`` renewals (t >= 0; see the module)."""
    t = np.asarray(t, dtype=np.int64)
    w, s, _ = _paths(alpha, beta, profile, int(t.max(initial=0)))
    return np.asarray(w @ s)[t]


def tenure_churn_probability(
    alpha: float, beta: float, profile: Any, t: Any
) -> NDArray[np.float64]:
    """``P(T = t)``: share of a cohort churning at renewal ``t`` (t >= 1)."""
    t = np.asarray(t, dtype=np.int64)
    w, s, h = _paths(alpha, beta, profile, int(t.max(initial=1)))
    return np.asarray(w @ (s[:, :-1] * h))[t - 1]


def tenure_hazard(alpha: float, beta: float, profile: Any, t: Any) -> NDArray[np.float64]:
    """Population hazard ``P(T = t) / S(t - 1)`` at renewal ``t`` (t >= 1)."""
    t = np.asarray(t, dtype=np.int64)
    w, s, h = _paths(alpha, beta, profile, int(t.max(initial=1)))
    return np.asarray((w @ (s[:, :-1] * h)) / (w @ s[:, :-1]))[t - 1]


def _discounted_sum(alpha: float, beta: float, profile: Any, z: float, start: int) -> float:
    """``sum_{t >= start} S(t) z^(t - start) / S(start)``: per node the terms past the profile
    are geometric, ``s_K(theta) (z (1 - theta))^k``, and summed in closed form."""
    k = max(len(profile), start) + 1
    wk, s, _ = _paths(alpha, beta, profile, k)
    theta, _ = beta_nodes(float(alpha), float(beta), nodes_for(k))
    head = sum(s[:, t] * z ** (t - start) for t in range(start, k))
    tail = s[:, k] * z ** (k - start) / (1.0 - z * (1.0 - theta))
    return float(wk @ (head + tail) / (wk @ s[:, start]))


@dataclass
class TenureFit(SBGFit):
    """A fitted sBG model with a tenure profile in ``pieces`` pieces (see the module).

    ``tenure_profile[i]``: log-odds added at renewal ``i + 1`` (renewals ``pieces`` and later:
    0); ``tenure_profile_se``: their standard errors; ``covariance``: of
    ``(alpha, beta, d_1, ..., d_{K-1})``. ``alpha``, ``beta`` describe a seasoned account.
    """

    tenure_profile: list[float] = field(default_factory=list)
    tenure_profile_se: list[float] = field(default_factory=list)
    pieces: int = 1

    @property
    def mean_churn(self) -> float:
        """Churn of a new account at renewal 1, ``P(T = 1)``."""
        return float(self.churn_probability(1))

    def survival(self, t: Any) -> NDArray[np.float64]:
        return tenure_survival(self.alpha, self.beta, self.tenure_profile, t)

    def churn_probability(self, t: Any) -> NDArray[np.float64]:
        return tenure_churn_probability(self.alpha, self.beta, self.tenure_profile, t)

    def retention_rate(self, t: Any) -> NDArray[np.float64]:
        return 1.0 - tenure_hazard(self.alpha, self.beta, self.tenure_profile, t)

    def hazard(self, t: Any) -> NDArray[np.float64]:
        """Population hazard at renewal ``t``."""
        return tenure_hazard(self.alpha, self.beta, self.tenure_profile, t)

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL = sum_t S(t) / (1 + d)^t (payments at acquisition and each renewal survived)."""
        return _discounted_sum(
            self.alpha, self.beta, self.tenure_profile, 1 / (1 + discount_rate), 0
        )

    def discounted_expected_residual_lifetime(self, discount_rate: float, renewal: int) -> float:
        """DERL = sum_{t >= n} [S(t) / S(n - 1)] / (1 + d)^(t - n), before renewal ``n``."""
        z = 1.0 / (1.0 + discount_rate)
        n = int(renewal)
        s_prev = float(self.survival(n - 1))
        return (
            _discounted_sum(self.alpha, self.beta, self.tenure_profile, z, n)
            * float(self.survival(n))
            / s_prev
        )

    def to_dict(self, annual_discount_rate: float = 0.1) -> dict[str, Any]:
        out = super().to_dict(annual_discount_rate)
        out["model"] = "sbg_tenure"
        out["tenure_pieces"] = int(self.pieces)
        out["tenure_profile"] = [json_number(v) for v in self.tenure_profile]
        out["tenure_profile_se"] = [json_number(v) for v in self.tenure_profile_se]
        return out


# --------------------------------------------------------------------------------------------
# The fit


@dataclass
class _Data:
    churn: NDArray[np.float64]  # weight churning at t, t = 0..t_max (t = 0 unused)
    cens: NDArray[np.float64]  # weight censored after t renewals
    t_max: int


def _data(churn_t: Any, churn_w: Any, cens_t: Any, cens_w: Any) -> _Data:
    ct, cw = np.asarray(churn_t, dtype=np.int64), np.asarray(churn_w, dtype=np.float64)
    st, sw = np.asarray(cens_t, dtype=np.int64), np.asarray(cens_w, dtype=np.float64)
    t_max = int(max(ct.max(initial=0), st.max(initial=0)))
    churn, cens = np.zeros(t_max + 1), np.zeros(t_max + 1)
    np.add.at(churn, ct, cw)
    np.add.at(cens, st, sw)
    return _Data(churn, cens, t_max)


def _loglik(x: NDArray, d: _Data) -> float:
    """Log-likelihood at ``x = (log alpha, log beta, d_1..d_{K-1})``: the sum over t of
    ``churn[t] log P(T = t) + cens[t] log S(t)``."""
    a, b = math.exp(x[0]), math.exp(x[1])
    churn, cens = d.churn, d.cens
    w, s, h = _paths(a, b, x[2:], d.t_max)
    surv = w @ s
    p = np.concatenate([[1.0], w @ (s[:, :-1] * h)])
    with np.errstate(divide="ignore"):
        ll = np.sum(churn[churn > 0] * np.log(p[churn > 0]))
        ll += np.sum(cens[cens > 0] * np.log(surv[cens > 0]))
    return float(ll) if np.isfinite(ll) else -1e300


def _hessian(fun: Any, x: NDArray, step: float = 1e-4) -> NDArray[np.float64]:
    """Central-difference Hessian of ``fun`` at ``x``."""
    k = x.size
    hess = np.empty((k, k))
    f0 = fun(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = step
        hess[i, i] = (fun(x + ei) - 2 * f0 + fun(x - ei)) / step**2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = step
            v = fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            hess[i, j] = hess[j, i] = v / (4 * step**2)
    return hess


def observed_hazard(churn_t: Any, churn_w: Any, cens_t: Any, cens_w: Any) -> tuple:
    """``(periods, at_risk, churned)``: accounts facing renewal t (churned at t or later, or
    censored after t or more renewals) and those who churned there, t = 1..t_max."""
    d = _data(churn_t, churn_w, cens_t, cens_w)
    later = np.cumsum((d.churn + d.cens)[::-1])[::-1]  # churned or censored at >= t
    return np.arange(1, d.t_max + 1), later[1:], d.churn[1:]


def _starts(d: _Data, pieces: int, plain: SBGFit | None) -> list[NDArray]:
    """Starting points: the plain fit (clipped) with no shifts, and one from the observed
    hazards (shifts = their logits against the hazard at renewal K, Beta of mean churn there)."""
    _, at_risk, churned = observed_hazard(
        np.arange(d.t_max + 1), d.churn, np.arange(d.t_max + 1), d.cens
    )
    haz = np.clip(churned / np.maximum(at_risk, 1.0), 1e-3, 0.9)
    ref = haz[pieces - 1]
    lo, hi = math.log(_AB_BOUNDS[0] * 10), math.log(_AB_BOUNDS[1] / 10)
    starts = []
    if plain is not None:
        ab = np.clip(np.log([plain.alpha, plain.beta]), lo, hi)
        starts.append(np.concatenate([ab, np.zeros(pieces - 1)]))
    d0 = np.log(haz[: pieces - 1] / (1 - haz[: pieces - 1])) - math.log(ref / (1 - ref))
    for a0 in (0.5, 2.0):
        ab = np.clip(np.log([a0, a0 * (1 - ref) / ref]), lo, hi)
        starts.append(np.concatenate([ab, np.clip(d0, -5, 5)]))
    return starts


def fit_tenure_sbg(
    churn_times: Any,
    churn_counts: Any,
    censored_times: Any,
    censored_counts: Any,
    pieces: int,
    group: str | None = None,
    period_months: int = 1,
    plain: SBGFit | None = None,
) -> TenureFit:
    """Maximum-likelihood fit of the sBG model with a ``pieces``-piece tenure profile.

    Counts as :func:`~simlib.calibration.fitting.fit_sbg`. ``pieces`` = K >= 2: renewals
    1..K-1 get their own log-odds shift, renewals K and later none; the data must reach
    renewal K + 1 (two renewals past the profile tell alpha from beta). ``plain``: the plain
    sBG fit of the same data, a starting point (so the fit is at least as likely).
    """
    d = _data(churn_times, churn_counts, censored_times, censored_counts)
    if pieces < 2:
        raise DataError(f"a tenure profile needs K >= 2 pieces, got {pieces}")
    if d.t_max < pieces + 1:
        raise DataError(
            f"a tenure profile of {pieces} pieces needs data up to renewal {pieces + 1} "
            f"(two renewals past the profile); the data reach renewal {d.t_max}"
        )
    total = max(float(d.churn.sum() + d.cens.sum()), 1.0)

    def objective(x: NDArray) -> float:
        return -_loglik(x, d) / total

    ab = (math.log(_AB_BOUNDS[0]), math.log(_AB_BOUNDS[1]))
    bounds = [ab, ab] + [(-_D_BOUND, _D_BOUND)] * (pieces - 1)
    x0 = min(_starts(d, pieces, plain), key=objective)  # the best start (>= the plain fit)
    best = minimize(
        objective,
        x0,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 3000},
    )
    assert best is not None
    return _tenure_fit(best.x, d, pieces, group, period_months, bounds)


def _tenure_fit(
    x: NDArray, d: _Data, pieces: int, group: str | None, period_months: int, bounds: list
) -> TenureFit:
    """The fit at ``x``: covariance from the observed information, warnings at the bounds."""
    a, b = math.exp(x[0]), math.exp(x[1])
    ll = _loglik(x, d)
    warnings: list[str] = []
    info = -_hessian(lambda y: _loglik(y, d), x)
    jac = np.diag(np.concatenate([[a, b], np.ones(pieces - 1)]))
    cov = np.full((pieces + 1, pieces + 1), np.nan)
    if np.all(np.isfinite(info)) and np.linalg.eigvalsh(info).min() > 0:
        cov = jac @ np.linalg.inv(info) @ jac
    else:
        warnings.append("the observed information is not positive definite: no standard errors")
    edge = [
        name
        for name, v, (lo, hi) in zip(
            ["alpha", "beta"] + [f"d{i}" for i in range(1, pieces)], x, bounds, strict=True
        )
        if v <= lo + 1e-3 or v >= hi - 1e-3
    ]
    if edge:
        warnings.append(
            f"{', '.join(edge)} reached the search bound; the standard errors are unreliable"
        )
    se = np.sqrt(np.diag(cov))
    return TenureFit(
        group=group,
        alpha=a,
        beta=b,
        alpha_se=float(se[0]),
        beta_se=float(se[1]),
        covariance=cov,
        log_likelihood=ll,
        n=round(float(d.churn.sum() + d.cens.sum())),
        churned=round(float(d.churn.sum())),
        periods=d.t_max,
        period_months=int(period_months),
        converged=not edge and bool(np.isfinite(se).all()),
        warnings=warnings,
        tenure_profile=[float(v) for v in x[2:]],
        tenure_profile_se=[float(v) for v in se[2:]],
        pieces=pieces,
    )
