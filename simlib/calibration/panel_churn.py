"""The churn part of ``simlib calibrate panel``: the covariate sBG with the health of every month,
a tenure profile and contracts that renew monthly or annually, and its standard errors.

**Renewals.** An account's tenure at the end of its ``k``-th month in the panel is ``tau = k``
(its first row is month 1 of its life: the panel starts where the account starts). A monthly
account renews at the end of every month (renewal number ``n = tau``), an annual one at the end of
months 12, 24, ... (``n = tau / 12``): the simulator's calendar (:mod:`simlib.model.renewal`,
:mod:`simlib.model.tenure`). Only renewals can end in churn, so the other months of an annual
account carry no churn term. When no account churns in the panel's last month, that month is
taken as *open* (its renewals not decided yet, as in ``simlib run --panel``, whose last month's
renewals lie beyond the horizon): its rows carry no churn term either.

**Churn.** Each account draws ``theta ~ Beta(alpha_b, beta_b)`` once, ``b`` its block (its group
and contract: the scenario's ``churn.monthly`` and ``churn.annual``, per segment with groups),
and at renewal ``n`` at the end of month ``m`` churns with

    h = expit(logit(theta) + effect x (r - x_m) + d_n)

``x_m`` the (calibrated) health of that month, ``r`` the reference health and ``d_n`` the tenure
profile of a monthly contract (``d_n`` for ``n < K``, 0 from renewal K on; annual renewals
none), shared by every group or one per group. An account's likelihood is
``E_theta[prod (1 - h)^(1 - c) h^c]`` over its renewals, by Gauss–Jacobi quadrature
(:func:`~simlib.calibration.tenure.beta_nodes`).

**Standard errors.** The estimate solves ``sum_i s_i(x; phi) = 0`` (``s_i``: account ``i``'s
score) with ``phi`` = (mu, lambda) of the regression calibration estimated from the same panel.
The covariance is the sandwich ``H^-1 (sum_i u_i u_i') H^-1`` (Huber 1967; White 1982) with
``H`` the observed information and ``u_i = s_i + G psi_i``, ``G = d(sum_i s_i) / d phi`` and
``psi_i`` account ``i``'s influence on ``phi`` (the delta method on the per-account sums that
``phi`` is made of): the two-step M-estimator's covariance (Newey & McFadden 1994, section 6;
Carroll et al. 2006, appendix B.3), clustered by account, the independent unit. Without
calibration (``psi`` = 0) it is the cluster-robust sandwich. Derivatives are central
differences of the exact log-likelihood.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import logit, logsumexp

from ..errors import DataError
from .covariate import _AB, _D_BOUND, _EFFECT_BOUND  # the same search box as the one-group fit
from .fitting import fit_sbg
from .panel_read import PanelData
from .tenure import beta_nodes, fit_tenure_sbg, nodes_for

__all__ = [
    "ChurnLayout",
    "PanelChurnFit",
    "account_influence",
    "account_scores",
    "fit_panel_churn",
    "last_month_open",
    "renewal_rows",
    "robust_covariance",
]

_ROWS_PER_CHUNK = 50_000
_STEP = 1e-5  # central-difference step of the scores (log alpha, log beta, effect, shifts)


def last_month_open(d: PanelData) -> bool:
    """Whether the panel's last month is open: no account churns in it (see the module)."""
    last = d.month == d.month.max(initial=0)
    return not bool(d.churned[last].any())


def renewal_rows(d: PanelData, open_last: bool) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows at which a renewal was decided, and the renewal number of each (see the module)."""
    tau = d.tenure
    annual = d.annual if d.annual is not None else np.zeros(tau.size, dtype=bool)
    renew = ~annual | (tau % 12 == 0)
    if open_last:
        renew &= ~((d.month == d.month.max(initial=0)) & ~d.churned)
    rows = np.flatnonzero(renew)
    return rows, np.where(annual, tau // 12, tau)[rows]


@dataclass
class ChurnLayout:
    """Where each parameter sits: per block (log alpha, log beta), the effect, then per profile
    owner the shifts d_1..d_{K-1}. ``blocks``: (group, contract); ``owners``: the groups with
    a profile of their own ([None]: one shared profile; []: no profile)."""

    blocks: list[tuple[str | None, str]]
    pieces: int = 1
    owners: list[str | None] = field(default_factory=list)

    @property
    def effect(self) -> int:
        return 2 * len(self.blocks)

    @property
    def shifts(self) -> int:
        return len(self.owners) * max(self.pieces - 1, 0)

    @property
    def size(self) -> int:
        return self.effect + 1 + self.shifts

    def profile(self, x: NDArray, owner: str | None) -> NDArray[np.float64]:
        k = self.pieces - 1
        j = self.owners.index(owner)
        start = self.effect + 1 + j * k
        return np.asarray(x[start : start + k], dtype=np.float64)


@dataclass
class _Block:
    """One block's renewals, sorted by account: the account, panel row, churn flag, renewal
    number and shift index (into the shifts; -1: none) of each, and chunks of whole accounts
    ``(slice, reduceat starts, accounts)``."""

    account: NDArray[np.int64]
    rows: NDArray[np.int64]
    churned: NDArray[np.bool_]
    number: NDArray[np.int64]
    shift: NDArray[np.int64]
    chunks: list[tuple[slice, NDArray[np.int64], NDArray[np.int64]]]

    @property
    def t_max(self) -> int:
        return int(self.number.max(initial=1))

    def counts(self) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """sBG counts (as :func:`~simlib.calibration.fitting.fit_sbg` takes them): per account
        the renewals it faced, churned at the last or censored after it."""
        starts = np.flatnonzero(np.r_[True, self.account[1:] != self.account[:-1]])
        faced = np.diff(np.r_[starts, self.account.size])
        left = (
            np.add.reduceat(self.churned.astype(np.int64), starts) > 0 if starts.size else faced > 0
        )
        ones = np.ones(faced.size)
        return faced[left], ones[left], faced[~left], ones[~left]

    def summary(self) -> dict[str, int]:
        return {
            "accounts": int(np.unique(self.account).size),
            "renewals": int(self.account.size),
            "churned": int(self.churned.sum()),
        }


def _chunks(account: NDArray[np.int64]) -> list[tuple[slice, NDArray[np.int64], NDArray]]:
    """Slices of whole accounts, about :data:`_ROWS_PER_CHUNK` renewals each."""
    starts = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    cuts = [0]
    for s in starts[1:]:
        if s - cuts[-1] >= _ROWS_PER_CHUNK:
            cuts.append(int(s))
    cuts.append(int(account.size))
    out = []
    for a, b in itertools.pairwise(cuts):
        st = starts[(starts >= a) & (starts < b)] - a
        out.append((slice(a, b), st.astype(np.int64), account[a + st]))
    return out


def _blocks(d: PanelData, layout: ChurnLayout, open_last: bool) -> list[_Block]:
    rows, number = renewal_rows(d, open_last)
    annual = d.annual[rows] if d.annual is not None else np.zeros(rows.size, dtype=bool)
    group = d.group[rows] if d.group is not None else None
    k = max(layout.pieces - 1, 0)
    out = []
    for g, contract in layout.blocks:
        sel = annual == (contract == "annual")
        if group is not None:
            sel &= group == g
        r, n = rows[sel], number[sel]
        shift = np.full(r.size, -1, dtype=np.int64)
        if k and contract == "monthly":
            j = layout.owners.index(g if layout.owners != [None] else None)
            early = n <= k
            shift[early] = j * k + n[early] - 1
        acc = d.account[r]
        out.append(_Block(acc, r, d.churned[r], n, shift, _chunks(acc)))
    return out


def _account_loglik(
    x: NDArray,
    layout: ChurnLayout,
    blocks: list[_Block],
    health: NDArray,
    ref: float,
    n: int,
    grad: bool = False,
    only: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Each account's log-likelihood (0 for an account without a renewal, or outside block
    ``only`` when given) and, with ``grad``, its exact derivatives in the effect and the shifts
    (accounts x (1 + shifts)): with ``P_ij`` account i's posterior weight of node j,
    ``d log L_i / d z_r = c_r - sum_j P_ij h_rj``."""
    out = np.zeros(n)
    dz = np.zeros((n, 1 + layout.shifts)) if grad else None
    effect = float(x[layout.effect])
    shifts = np.concatenate([x[layout.effect + 1 :], [0.0]])  # index -1: no shift
    for k, b in enumerate(blocks):
        if only is not None and k != only:
            continue
        theta, w = beta_nodes(math.exp(x[2 * k]), math.exp(x[2 * k + 1]), nodes_for(b.t_max))
        lt, lw = logit(theta)[None, :], np.log(w)[None, :]
        for part, starts, accounts in b.chunks:
            gap = ref - health[b.rows[part]]
            z = lt + (effect * gap + shifts[b.shift[part]])[:, None]
            c = b.churned[part]
            ez = np.exp(z)  # |z| < 110 within the search bounds: no overflow
            terms = -np.log1p(ez)  # log(1 - h); a churn adds z: log h = z + log(1 - h)
            terms[c] += z[c]
            per = np.add.reduceat(terms, starts, axis=0) + lw
            ll = logsumexp(per, axis=1)
            out[accounts] = ll
            if dz is not None:
                post = np.exp(per - ll[:, None])
                owner = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, c.size]))
                resid = c - np.einsum("rj,rj->r", post[owner], ez / (1.0 + ez))
                dz[accounts, 0] = np.add.reduceat(resid * gap, starts)
                on = b.shift[part] >= 0
                if on.any():
                    np.add.at(dz, (accounts[owner[on]], 1 + b.shift[part][on]), resid[on])
    return out, dz


def _layout(d: PanelData, pieces: int, per_group_profile: bool, open_last: bool) -> ChurnLayout:
    """The blocks present (group x contract with a renewal) and the profile owners."""
    rows, _ = renewal_rows(d, open_last)
    annual = d.annual[rows] if d.annual is not None else np.zeros(rows.size, dtype=bool)
    blocks: list[tuple[str | None, str]] = []
    for g in d.groups:
        in_g = np.ones(rows.size, dtype=bool) if d.group is None else d.group[rows] == g
        for contract, on in (("monthly", ~annual), ("annual", annual)):
            if (in_g & on).any():
                blocks.append((g, contract))
    if not blocks:
        raise DataError(f"{d.source}: no renewal was decided in the panel; nothing to fit")
    owners: list[str | None] = []
    if pieces > 1:
        monthly_groups = [g for g, c in blocks if c == "monthly"]
        if not monthly_groups:
            raise DataError(
                f"{d.source}: --tenure-profile: the profile is fitted on monthly renewals, and "
                "no account of the panel renews monthly"
            )
        owners = list(monthly_groups) if per_group_profile and d.group is not None else [None]
    return ChurnLayout(blocks, pieces, owners)


# --------------------------------------------------------------------------------------------
# The fit


@dataclass
class PanelChurnFit:
    """The churn fit: parameters ``x`` (see :class:`ChurnLayout`), the log-likelihood, the
    observed information ``info`` and the covariance of ``x``: ``cov_information`` (its
    inverse) and ``cov`` (the robust one of :func:`robust_covariance`, once set)."""

    x: NDArray[np.float64]
    layout: ChurnLayout
    log_likelihood: float
    info: NDArray[np.float64]
    cov_information: NDArray[np.float64]
    cov: NDArray[np.float64]
    blocks: list[dict[str, Any]]
    open_last: bool
    warnings: list[str] = field(default_factory=list)

    def se(self, i: int) -> float:
        """Standard error of parameter ``i`` (alpha, beta: delta method from the log scale)."""
        v = float(self.cov[i, i])
        scale = math.exp(self.x[i]) if i < self.layout.effect else 1.0
        return math.sqrt(v) * scale if v >= 0 else float("nan")

    def mean_churn(self, k: int) -> tuple[float, float]:
        """Block ``k``'s mean churn per renewal at the reference health, ``alpha / (alpha +
        beta)``, and its standard error (delta method: the derivatives in log alpha and log
        beta are ``+-alpha beta / (alpha + beta)^2``)."""
        a, b = math.exp(self.x[2 * k]), math.exp(self.x[2 * k + 1])
        g = np.array([1.0, -1.0]) * a * b / (a + b) ** 2
        v = float(g @ self.cov[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] @ g)
        return a / (a + b), math.sqrt(v) if v >= 0 else float("nan")


def _starts(layout: ChurnLayout, blocks: list[_Block], d: PanelData) -> NDArray[np.float64]:
    """Each block's plain sBG (and, with a profile, the tenure fit of its monthly renewals)."""
    x = np.zeros(layout.size)
    k = layout.pieces - 1
    for i, ((g, contract), b) in enumerate(zip(layout.blocks, blocks, strict=True)):
        counts = b.counts()
        plain = fit_sbg(*counts)
        ab = np.log([plain.alpha, plain.beta])
        if k > 0 and contract == "monthly":
            if b.t_max < layout.pieces + 1:
                raise DataError(
                    f"{d.source}: --tenure-profile {layout.pieces}: a profile of K pieces needs "
                    f"renewals up to K + 1; the monthly accounts"
                    f"{'' if g is None else f' of group {g!r}'} reach renewal {b.t_max}, so "
                    f"K <= {max(b.t_max - 1, 1)}"
                )
            rich = fit_tenure_sbg(*counts, layout.pieces, plain=plain)
            ab = np.log([rich.alpha, rich.beta])
            owner = g if layout.owners != [None] else None
            j = layout.owners.index(owner)
            if owner is not None or not x[layout.effect + 1 :].any():
                x[layout.effect + 1 + j * k : layout.effect + 1 + (j + 1) * k] = rich.tenure_profile
        x[2 * i : 2 * i + 2] = np.clip(ab, _AB[0] + 1, _AB[1] - 1)
    return x


def _bounds(layout: ChurnLayout) -> list[tuple[float, float]]:
    out = [_AB, _AB] * len(layout.blocks) + [(-_EFFECT_BOUND, _EFFECT_BOUND)]
    return out + [(-_D_BOUND, _D_BOUND)] * layout.shifts


def fit_panel_churn(
    d: PanelData,
    health: NDArray[np.float64],
    ref: float,
    pieces: int = 1,
    per_group_profile: bool = False,
    open_last: bool | None = None,
    start: NDArray[np.float64] | None = None,
) -> PanelChurnFit:
    """Maximum-likelihood fit of the churn model (see the module) on the calibrated ``health``
    (0-1 per row). ``pieces`` = K > 1 adds the tenure profile of monthly renewals (one per group
    with ``per_group_profile``); ``open_last`` None: :func:`last_month_open`; ``start``: a
    starting point (default: each block's sBG fit). ``cov`` is the inverse information until
    :func:`robust_covariance` replaces it."""
    if open_last is None:
        open_last = last_month_open(d)
    layout = _layout(d, pieces, per_group_profile, open_last)
    blocks = _blocks(d, layout, open_last)
    if not any(b.churned.any() for b in blocks):
        raise DataError(f"{d.source}: no account churned; there is nothing to fit")
    n_acc, scale = d.accounts, max(d.accounts, 1)

    def block_total(x: NDArray, k: int) -> float:
        ll = float(_account_loglik(x, layout, blocks, health, ref, n_acc, only=k)[0].sum())
        return ll if math.isfinite(ll) else -1e300

    def objective(x: NDArray) -> tuple[float, NDArray]:
        ll, dz = _account_loglik(x, layout, blocks, health, ref, n_acc, grad=True)
        assert dz is not None
        g = np.zeros(x.size)
        g[layout.effect :] = dz.sum(axis=0)
        for i in range(layout.effect):  # log alpha, log beta move the nodes: differences
            e = np.zeros(x.size)
            e[i] = 1e-6
            g[i] = (block_total(x + e, i // 2) - block_total(x - e, i // 2)) / 2e-6
        value = float(ll.sum())
        if not math.isfinite(value):
            return 1e300, np.zeros(x.size)
        return -value / scale, -g / scale

    res = minimize(
        objective, _starts(layout, blocks, d) if start is None else start, jac=True, method="L-BFGS-B", bounds=_bounds(layout),
        options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 3000},
    )  # fmt: skip
    x = np.asarray(res.x, dtype=np.float64)
    info = -_block_hessian(block_total, x, layout)
    cov = np.full((x.size, x.size), np.nan)
    warnings = []
    if np.all(np.isfinite(info)) and np.linalg.eigvalsh(info).min() > 0:
        cov = np.linalg.inv(info)
    else:
        warnings.append("churn: the observed information is not positive definite")
    warnings += _edge_warnings(x, layout)
    summaries = [
        {"group": g, "contract": c} | b.summary()
        for (g, c), b in zip(layout.blocks, blocks, strict=True)
    ]
    return PanelChurnFit(
        x, layout, -float(res.fun) * scale, info, cov, cov.copy(), summaries, open_last, warnings
    )


def _block_hessian(
    block_total: Callable[[NDArray, int], float],
    x: NDArray,
    layout: ChurnLayout,
    step: float = 1e-4,
) -> NDArray[np.float64]:
    """Central-difference Hessian of ``sum_k block_total(x, k)``, evaluating only the blocks a
    pair of parameters touches (a block's alpha and beta touch that block alone, so pairs from
    two blocks are 0)."""
    size, nb = x.size, len(layout.blocks)
    touch = [{i // 2} if i < layout.effect else set(range(nb)) for i in range(size)]
    base = [block_total(x, k) for k in range(nb)]

    def f(y: NDArray, ks: set[int]) -> float:
        return sum(block_total(y, k) for k in ks)

    hess = np.zeros((size, size))
    for i in range(size):
        ei = np.zeros(size)
        ei[i] = step
        ks = touch[i]
        f0 = sum(base[k] for k in ks)
        hess[i, i] = (f(x + ei, ks) - 2 * f0 + f(x - ei, ks)) / step**2
        for j in range(i):
            both = touch[i] & touch[j]
            if not both:
                continue
            ej = np.zeros(size)
            ej[j] = step
            v = f(x + ei + ej, both) - f(x + ei - ej, both) - f(x - ei + ej, both)
            hess[i, j] = hess[j, i] = (v + f(x - ei - ej, both)) / (4 * step**2)
    return hess


def _edge_warnings(x: NDArray, layout: ChurnLayout) -> list[str]:
    names = [f"{p} of {c} accounts{'' if g is None else f' of group {g!r}'}"
             for g, c in layout.blocks for p in ("alpha", "beta")]  # fmt: skip
    names += ["the satisfaction effect"] + [f"tenure shift {i + 1}" for i in range(layout.shifts)]
    edge = [
        name
        for name, v, (lo, hi) in zip(names, x, _bounds(layout), strict=True)
        if v <= lo + 1e-3 or v >= hi - 1e-3
    ]
    if not edge:
        return []
    return [
        f"churn: {', '.join(edge)} reached the search bound; the standard errors are unreliable"
    ]


# --------------------------------------------------------------------------------------------
# Standard errors


def account_scores(
    fit: PanelChurnFit, d: PanelData, health: NDArray, ref: float
) -> NDArray[np.float64]:
    """Each account's score, ``d log L_i / d x`` (accounts x parameters), by central
    differences."""
    layout = fit.layout
    blocks = _blocks(d, layout, fit.open_last)
    out = np.zeros((d.accounts, fit.x.size))
    _, dz = _account_loglik(fit.x, layout, blocks, health, ref, d.accounts, grad=True)
    out[:, layout.effect :] = dz
    for i in range(layout.effect):
        e = np.zeros(fit.x.size)
        e[i] = _STEP
        up = _account_loglik(fit.x + e, layout, blocks, health, ref, d.accounts, only=i // 2)[0]
        down = _account_loglik(fit.x - e, layout, blocks, health, ref, d.accounts, only=i // 2)[0]
        out[:, i] = (up - down) / (2 * _STEP)
    return out


def account_influence(
    fit: PanelChurnFit,
    d: PanelData,
    ref: float,
    health: NDArray,
    parts: list[tuple[Callable[[NDArray], NDArray], NDArray, NDArray]],
) -> NDArray[np.float64]:
    """Each account's influence on ``x`` (accounts x parameters), ``H^-1 u_i`` with ``u_i = s_i
    + sum_j G_j psi_ij`` (see the module): ``parts`` holds, per estimated step, ``(health_of,
    phi, psi)``, the health as a function of that step's parameters ``phi`` and each account's
    influence ``psi`` (accounts x len(phi)) on them; NaN when the information is singular."""
    u = account_scores(fit, d, health, ref)
    for health_of, phi, psi in parts:
        if psi is None or not psi.size:
            continue
        g = np.zeros((fit.x.size, phi.size))
        for j in range(phi.size):
            h = 1e-5 * max(1.0, abs(float(phi[j])))
            e = np.zeros(phi.size)
            e[j] = h
            up = account_scores(fit, d, health_of(phi + e), ref).sum(axis=0)
            down = account_scores(fit, d, health_of(phi - e), ref).sum(axis=0)
            g[:, j] = (up - down) / (2 * h)
        u = u + psi @ g.T
    if not np.all(np.isfinite(fit.info)) or np.linalg.eigvalsh(fit.info).min() <= 0:
        return np.full_like(u, np.nan)
    return np.asarray(u @ np.linalg.inv(fit.info), dtype=np.float64)


def robust_covariance(
    fit: PanelChurnFit,
    d: PanelData,
    ref: float,
    health_of: Callable[[NDArray], NDArray],
    phi: NDArray[np.float64],
    psi: NDArray[np.float64] | None,
) -> NDArray[np.float64]:
    """The sandwich covariance of ``x`` clustered by account, with the calibration step's
    uncertainty (see the module): ``health_of(phi)`` the calibrated health for calibration
    parameters ``phi``, ``psi`` (accounts x len(phi)) each account's influence on ``phi``
    (None: ``phi`` known)."""
    parts = [] if psi is None else [(health_of, phi, psi)]
    infl = account_influence(fit, d, ref, health_of(phi), parts)
    return np.asarray(infl.T @ infl, dtype=np.float64)
