"""The satisfaction links fitted from an account-month panel (a CRM export; ``simlib calibrate
panel``).

A panel has one row per account and month alive: the account, the month (whole numbers), the
health score the CRM recorded that month, a 0/1 churn flag (1 in the month at whose end the
account left) and optionally the MRR and, per offer kind ``K``, ``offers_made_K`` and
``offers_accepted_K`` (the columns of ``simlib run --panel``, :mod:`simlib.model.panel`). With a
``replication`` column, accounts are told apart by (replication, account). Each account's rows
must run month by month from its first month in the panel (its start: the churn risk is drawn
then), with no month twice or missing, at most one churn and nothing after it.

What is fitted, with health ``x`` on 0-1 (``(score - LO) / (HI - LO)``) and monthly renewals:

* **Churn**: ``theta ~ Beta(alpha, beta)`` per account, churn at the end of month ``m`` with
  ``expit(logit theta + effect x (r - x_m))``, the simulator's link
  (:mod:`simlib.model.satisfaction`); the likelihood of an account is
  ``E_theta[prod_m (1 - h_m)^(1 - c_m) h_m^(c_m)]`` by Gauss–Jacobi quadrature (the covariate
  sBG of :mod:`simlib.calibration.covariate`, with a health that changes month by month).
  ``r`` (``churn.satisfaction_reference``) is the mean health of the rows, rounded to 4 decimals.
* **Offers** (where recorded): acceptance of an offer of kind ``K`` is logistic,
  ``P = expit(b_K + s x (x - 0.5))``, a binomial regression of accepted on made with one
  intercept per kind (``offers.kinds.K.base_intent``) and the shared slope
  ``offers.intent.satisfaction_to_intent``. The simulator adds relevance, moment and bonus terms;
  where they vary between accounts, the intercept is their average and the slope is somewhat
  flattened by them (a logistic model is not collapsible).

**Measurement noise.** The score a CRM records is ``w = x + e`` with ``Var(e) = sigma^2``; using
``w`` for ``x`` flattens both slopes toward zero (regression dilution, by about the reliability
``lambda = Var(x) / Var(w)``). The fit uses regression calibration (Carroll, Ruppert, Stefanski
& Crainiceanu 2006, *Measurement Error in Nonlinear Models*, ch. 4): ``x`` is replaced by its best
linear prediction ``E[x | w] = mu + lambda (w - mu)``, ``mu`` the mean of ``w``, ``lambda = (Var(w)
- sigma^2) / Var(w)``. ``sigma`` is given (``noise_sd``, on the score's scale, e.g. from the
vendor's test-retest figures) or estimated from the panel itself: within an account the mean
squared change of the score over ``k`` months is ``D_k = 2 sigma^2 + 2 V (1 - rho^k)`` when the
true health is a stationary AR(1) around the account's own level (the simulator's drift, up to
its logit scale), so ``2 sigma^2 = D_1 - (D_2 - D_1)^2 / (D_3 - D_2)`` (the nugget of the
variogram). The standard errors are those of the fit on the calibrated health; they leave out
the uncertainty of ``lambda``. The naive fit (``lambda = 1``) is reported beside it.
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
from scipy.special import expit, log_expit, logit, logsumexp

from ..errors import DataError
from ..io.csv import CsvTable, as_table, parse_numbers, read_csv
from .sbg import json_number
from .tenure import _hessian, beta_nodes, nodes_for

__all__ = [
    "PanelData",
    "fit_panel",
    "hazard_by_health",
    "noise_from_panel",
    "panel_json",
    "predicted_hazard",
    "read_panel",
]

_AB = (math.log(1e-4), math.log(1e6))
_ROWS_PER_CHUNK = 200_000


@dataclass
class PanelData:
    """A validated panel, rows sorted by account then month. ``account``: 0-based account code
    per row; ``health``: 0-1; ``offers``: kind -> (made, accepted) per row."""

    source: str
    account: NDArray[np.int64]
    month: NDArray[np.int64]
    health: NDArray[np.float64]
    churned: NDArray[np.bool_]
    offers: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = field(default_factory=dict)
    score_range: tuple[float, float] = (0.0, 1.0)

    @property
    def accounts(self) -> int:
        return int(self.account.max(initial=-1)) + 1


def _load(data: str | Path | pd.DataFrame | CsvTable, expected: str) -> CsvTable:
    if isinstance(data, str | Path) and str(data).lower().endswith(".parquet"):
        try:
            frame = pd.read_parquet(data)
        except (OSError, ValueError) as exc:
            raise DataError(f"{data}: cannot read the parquet file ({exc})") from None
        if frame.empty:
            raise DataError(f"{data}: no data rows; expected {expected}")
        return CsvTable.from_frame(frame, str(data))
    if isinstance(data, str | Path):
        if not str(data).lower().endswith(".csv"):
            raise DataError(f"{data}: a panel is a .csv or a .parquet file")
        return read_csv(data, expected)
    return as_table(data, expected)


def read_panel(
    data: str | Path | pd.DataFrame | CsvTable,
    account: str = "account_id",
    month: str = "month",
    health: str = "health",
    churned: str = "churned",
    mrr: str = "mrr",
    score_range: tuple[float, float] = (0.0, 1.0),
) -> PanelData:
    """Validate a panel (see the module); every bad cell is named by file, row and column."""
    expected = f"columns {account}, {month}, {health}, {churned} (and optionally {mrr})"
    table = _load(data, expected)
    table.require([account, month, health, churned], expected)
    lo, hi = score_range
    m = parse_numbers(table, month)
    bad = np.flatnonzero((m < 0) | (m != np.floor(m)))
    if bad.size:
        i = int(bad[0])
        raise table.error(f"must be a whole month >= 0, got {table.cell(i, month)!r}", i, month)
    c = parse_numbers(table, churned)
    bad = np.flatnonzero((c != 0) & (c != 1))
    if bad.size:
        i = int(bad[0])
        raise table.error(
            f"must be 0 (stayed) or 1 (churned at the end of the month), got "
            f"{table.cell(i, churned)!r}",
            i,
            churned,
        )
    w = parse_numbers(table, health)
    _in_range(table, w, health, lo, hi, "--health-range")
    if mrr in table.header:
        money = parse_numbers(table, mrr)
        bad = np.flatnonzero(money < 0)
        if bad.size:
            raise table.error(f"MRR must be >= 0, got {money[bad[0]]:g}", int(bad[0]), mrr)
    ids = _account_ids(table, account)
    order = np.lexsort((m, ids))
    _check_sequences(table, ids, m, c, order, account, month, churned)
    code = np.unique(ids[order], return_inverse=True)[1].astype(np.int64)
    offers = _offers(table, order)
    return PanelData(
        table.source,
        code,
        m[order].astype(np.int64),
        (w[order] - lo) / (hi - lo),
        c[order] == 1,
        offers,
        (float(lo), float(hi)),
    )


def _in_range(table: CsvTable, x: NDArray, column: str, lo: float, hi: float, flag: str) -> None:
    bad = np.flatnonzero((x < lo) | (x > hi))
    if bad.size:
        i = int(bad[0])
        raise table.error(
            f"a health score must lie in the range {lo:g}..{hi:g} ({flag}), got {x[i]:g}",
            i,
            column,
        )


def _account_ids(table: CsvTable, account: str) -> NDArray[np.int64]:
    """An integer per (replication, account) (text labels allowed); a blank is refused."""
    names = table.text(account)
    blank = np.flatnonzero(names == "")
    if blank.size:
        raise table.error("empty cell; every row needs its account", int(blank[0]), account)
    code = np.unique(names, return_inverse=True)[1].astype(np.int64)
    if "replication" in table.header and account != "replication":
        rep = np.unique(table.text("replication"), return_inverse=True)[1].astype(np.int64)
        code = rep * (int(code.max(initial=0)) + 1) + code
    return code


def _check_sequences(
    table: CsvTable,
    ids: NDArray,
    m: NDArray,
    c: NDArray,
    order: NDArray,
    account: str,
    month: str,
    churned: str,
) -> None:
    """Per account, in month order: no month twice, no gap, one churn at most, none after."""
    same = ids[order][1:] == ids[order][:-1]
    step = np.diff(m[order])
    prev, cur = order[:-1], order[1:]
    twice = np.flatnonzero(same & (step == 0))
    after = np.flatnonzero(same & (c[prev] == 1))
    gap = np.flatnonzero(same & (step > 1))
    who = table.cell
    if twice.size:
        k = int(twice[0])
        raise table.error(
            f"account {who(int(cur[k]), account)!r} has month {m[cur[k]]:g} twice (also "
            f"{table.where(int(prev[k]))}); a panel has one row per account and month",
            int(cur[k]),
            month,
        )
    if after.size:
        k = int(after[0])
        again = c[cur[k]] == 1
        what = "churns a second time" if again else "is alive after churning"
        raise table.error(
            f"account {who(int(cur[k]), account)!r} {what} in month {m[cur[k]]:g} (it churned "
            f"at the end of month {m[prev[k]]:g}, {table.where(int(prev[k]))})",
            int(cur[k]),
            churned if again else month,
        )
    if gap.size:
        k = int(gap[0])
        raise table.error(
            f"account {who(int(cur[k]), account)!r}: months out of order, month "
            f"{m[prev[k]]:g} is followed by month {m[cur[k]]:g}; a panel needs every month an "
            "account is alive",
            int(cur[k]),
            month,
        )


def _offers(table: CsvTable, order: NDArray) -> dict[str, tuple[NDArray, NDArray]]:
    """``offers_made_K`` / ``offers_accepted_K`` pairs (whole, accepted <= made)."""
    out = {}
    for col in table.header:
        if not col.startswith("offers_made_"):
            continue
        kind = col[len("offers_made_") :]
        acc = f"offers_accepted_{kind}"
        if acc not in table.header:
            raise table.error(f"{col} needs its column {acc!r}", column=col)
        made, took = parse_numbers(table, col), parse_numbers(table, acc)
        bad = np.flatnonzero((made < 0) | (made != np.floor(made)))
        if bad.size:
            raise table.error("must be a whole count >= 0", int(bad[0]), col)
        bad = np.flatnonzero((took < 0) | (took != np.floor(took)) | (took > made))
        if bad.size:
            raise table.error("must be a whole count from 0 to the offers made", int(bad[0]), acc)
        if made.sum() > 0:
            out[kind] = (made[order], took[order])
    return out


# --------------------------------------------------------------------------------------------
# Measurement noise


def noise_from_panel(d: PanelData) -> dict[str, Any]:
    """The noise variance of the health score (0-1 scale) from the variogram of each account's
    scores (see the module): ``{"sd", "method", "lags": {k: D_k}}``."""
    lags: dict[int, float] = {}
    for k in (1, 2, 3):
        same = (d.account[k:] == d.account[:-k]) & (d.month[k:] - d.month[:-k] == k)
        diff = d.health[k:][same] - d.health[:-k][same]
        lags[k] = float(np.mean(diff**2)) if diff.size else float("nan")
    d1, d2, d3 = lags[1], lags[2], lags[3]
    method = "variogram nugget, AR(1) health"
    if not all(map(math.isfinite, (d1, d2, d3))):
        return {"sd": 0.0, "method": "too few months per account to estimate; none assumed"}
    if d3 - d2 > 0 and d2 - d1 > 0 and (d3 - d2) < (d2 - d1):
        two_var = d1 - (d2 - d1) ** 2 / (d3 - d2)
    else:  # no AR(1) curvature to read: a straight line through lags 1 and 2
        two_var, method = 2 * d1 - d2, "variogram nugget, linear in the lag"
    sd = math.sqrt(max(two_var, 0.0) / 2)
    return {"sd": sd, "method": method, "lags": {str(k): v for k, v in lags.items()}}


def calibrated_health(d: PanelData, noise_sd: float) -> tuple[NDArray[np.float64], float]:
    """``E[x | w] = mu + lambda (w - mu)`` (regression calibration) and ``lambda``."""
    mu = float(d.health.mean())
    var = float(d.health.var())
    lam = 1.0 if var <= 0 else max(0.0, (var - noise_sd**2) / var)
    if lam <= 0.05:
        raise DataError(
            f"{d.source}: the noise of the health score (sd {noise_sd:.3g} on 0-1) is as large "
            f"as its spread (sd {math.sqrt(var):.3g}); the scores carry no signal to fit"
        )
    return mu + lam * (d.health - mu), lam


# --------------------------------------------------------------------------------------------
# Churn


def _chunks(account: NDArray[np.int64]) -> list[slice]:
    """Row slices of whole accounts, about :data:`_ROWS_PER_CHUNK` rows each."""
    starts = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    out, a = [], 0
    for s in starts[1:]:
        if s - a >= _ROWS_PER_CHUNK:
            out.append(slice(a, int(s)))
            a = int(s)
    out.append(slice(a, account.size))
    return out


def _churn_loglik(x: NDArray, d: PanelData, health: NDArray, ref: float, t_max: int) -> float:
    a, b, effect = math.exp(x[0]), math.exp(x[1]), float(x[2])
    theta, w = beta_nodes(a, b, nodes_for(t_max))
    lt, lw = logit(theta)[None, :], np.log(w)[None, :]
    total = 0.0
    for part in _chunks(d.account):
        z = lt + (effect * (ref - health[part]))[:, None]
        c = d.churned[part][:, None]
        terms = np.where(c, log_expit(z), log_expit(-z))
        acc = d.account[part]
        starts = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]])
        per = np.add.reduceat(terms, starts, axis=0)
        total += float(logsumexp(per + lw, axis=1).sum())
    return total if math.isfinite(total) else -1e300


def _fit_churn(d: PanelData, health: NDArray, ref: float) -> dict[str, Any]:
    """(alpha, beta, effect) by maximum likelihood, standard errors from the observed
    information (delta method to alpha, beta)."""
    t_max = int(np.bincount(d.account).max())
    n = max(d.accounts, 1)
    rate = float(np.clip(d.churned.mean(), 1e-3, 0.5))
    x0 = np.array([math.log(1.0), math.log((1 - rate) / rate), 0.0])

    def fun(x: NDArray) -> float:
        return -_churn_loglik(x, d, health, ref, t_max) / n

    def grad(x: NDArray) -> NDArray:
        g = np.zeros(3)
        for i in range(3):
            e = np.zeros(3)
            e[i] = 1e-6
            g[i] = (fun(x + e) - fun(x - e)) / 2e-6
        return g

    bounds = [_AB, _AB, (-50.0, 50.0)]
    res = minimize(fun, x0, jac=grad, method="L-BFGS-B", bounds=bounds, options={"gtol": 1e-9})
    x = res.x
    info = -_hessian(lambda y: _churn_loglik(y, d, health, ref, t_max), x)
    cov = np.full((3, 3), np.nan)
    warnings = []
    if np.all(np.isfinite(info)) and np.linalg.eigvalsh(info).min() > 0:
        jac = np.array([math.exp(x[0]), math.exp(x[1]), 1.0])
        cov = np.linalg.inv(info) * np.outer(jac, jac)
    else:
        warnings.append("churn: the observed information is not positive definite")
    se = np.sqrt(np.diag(cov))
    return {
        "alpha": (math.exp(x[0]), float(se[0])),
        "beta": (math.exp(x[1]), float(se[1])),
        "effect": (float(x[2]), float(se[2])),
        "log_likelihood": -res.fun * n,
        "warnings": warnings,
    }


# --------------------------------------------------------------------------------------------
# Offers


def _fit_offers(d: PanelData, health: NDArray) -> dict[str, Any] | None:
    """Binomial logistic regression of accepted on made: an intercept per kind, one slope on
    ``health - 0.5`` (Newton's method; standard errors from the inverse Fisher information)."""
    kinds = list(d.offers)
    if not kinds:
        return None
    cols, ys, ns, xs = [], [], [], []
    for j, kind in enumerate(kinds):
        made, took = d.offers[kind]
        sel = made > 0
        cols.append(np.full(int(sel.sum()), j))
        ys.append(took[sel])
        ns.append(made[sel])
        xs.append(health[sel] - 0.5)
    kind_of = np.concatenate(cols)
    y, m, x = np.concatenate(ys), np.concatenate(ns), np.concatenate(xs)
    design = np.zeros((x.size, len(kinds) + 1))
    design[np.arange(x.size), kind_of] = 1.0
    design[:, -1] = x
    coef = np.zeros(len(kinds) + 1)
    for j in range(len(kinds)):
        share = (y[kind_of == j].sum() + 0.5) / (m[kind_of == j].sum() + 1.0)
        coef[j] = logit(share)
    for _ in range(50):
        p = expit(design @ coef)
        info = design.T @ (design * (m * p * (1 - p))[:, None])
        step = np.linalg.solve(info, design.T @ (y - m * p))
        coef += step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = expit(design @ coef)
    info = design.T @ (design * (m * p * (1 - p))[:, None])
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return {
        "slope": (float(coef[-1]), float(se[-1])),
        "intercepts": {k: (float(coef[j]), float(se[j])) for j, k in enumerate(kinds)},
        "offers": {k: int(d.offers[k][0].sum()) for k in kinds},
        "accepted": {k: int(d.offers[k][1].sum()) for k in kinds},
    }


# --------------------------------------------------------------------------------------------
# The whole fit


def fit_panel(d: PanelData, noise_sd: float | None = None) -> dict[str, Any]:
    """Both links from a validated panel (see the module). ``noise_sd``: the measurement
    noise of the score on its own scale (None: estimated from the panel; 0: no correction).
    Returns the JSON object of ``simlib calibrate panel`` (without ``source``)."""
    lo, hi = d.score_range
    if noise_sd is None:
        noise = noise_from_panel(d)
    else:
        noise = {"sd": noise_sd / (hi - lo), "method": "given (--health-noise)"}
    x, lam = calibrated_health(d, float(noise["sd"]))
    if not d.churned.any():
        raise DataError(f"{d.source}: no account churned; there is nothing to fit")
    ref = round(float(d.health.mean()), 4)
    churn = _fit_churn(d, x, ref)
    offers = _fit_offers(d, x)
    naive = None
    if lam < 1.0:
        naive_churn = _fit_churn(d, d.health, ref)
        naive_offers = _fit_offers(d, d.health)
        naive = {"churn.satisfaction_effect": _pair(naive_churn["effect"])}
        if naive_offers is not None:
            naive["offers.intent.satisfaction_to_intent"] = _pair(naive_offers["slope"])
    keys = {
        "churn.monthly.alpha": _pair(churn["alpha"]),
        "churn.monthly.beta": _pair(churn["beta"]),
        "churn.satisfaction_effect": _pair(churn["effect"]),
        "churn.satisfaction_reference": {"value": ref, "se": None},
    }
    if offers is not None:
        keys["offers.intent.satisfaction_to_intent"] = _pair(offers["slope"])
        for kind, pair in offers["intercepts"].items():
            keys[f"offers.kinds.{kind}.base_intent"] = _pair(pair)
    return {
        "scenario_keys": keys,
        "measurement": {
            "noise_sd": json_number(float(noise["sd"]) * (hi - lo)),
            "noise_sd_01": json_number(float(noise["sd"])),
            "method": noise["method"],
            "reliability": json_number(lam),
            "health_range": [lo, hi],
        }
        | ({"variogram": noise["lags"]} if "lags" in noise else {}),
        "naive": naive,
        "accounts": d.accounts,
        "rows": int(d.account.size),
        "churned": int(d.churned.sum()),
        "log_likelihood": json_number(churn["log_likelihood"]),
        "offers": None
        if offers is None
        else {"made": offers["offers"], "accepted": offers["accepted"]},
        "warnings": churn["warnings"] + _warnings(keys),
    }


def _pair(p: tuple[float, float]) -> dict[str, float | None]:
    return {"value": json_number(p[0]), "se": json_number(p[1])}


def _warnings(keys: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for key in ("churn.satisfaction_effect", "offers.intent.satisfaction_to_intent"):
        v = keys.get(key, {}).get("value")
        if v is not None and v < 0:
            out.append(
                f"{key} is negative ({v:.3g}); the scenario key must be >= 0, so the fragment "
                "holds 0 for it: check the direction of the health score"
            )
    return out


def panel_json(fit: dict[str, Any], source: str) -> dict[str, Any]:
    """The printed object: the fit, its source and the ``--set`` overrides."""
    return {"source": source} | fit | {"overrides": panel_overrides(fit)}


def _rounded(key: str, value: float) -> float:
    if key in ("churn.satisfaction_effect", "offers.intent.satisfaction_to_intent"):
        value = max(value, 0.0)
    return float(f"{value:.6g}")


def panel_overrides(fit: dict[str, Any]) -> list[str]:
    """``KEY=VALUE`` strings of the fitted keys (rounded to six significant digits)."""
    return [
        f"{k}={_rounded(k, v['value'])!r}"
        for k, v in fit["scenario_keys"].items()
        if v["value"] is not None
    ]


def panel_fragment(fit: dict[str, Any], source: str) -> str:
    """The fitted keys as a scenario fragment (YAML), with the estimates in comments."""
    import yaml

    doc: dict[str, Any] = {}
    for k, v in fit["scenario_keys"].items():
        if v["value"] is None:
            continue
        node = doc
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _rounded(k, v["value"])
    m = fit["measurement"]
    lines = [
        f"# Satisfaction links fitted by simlib calibrate panel from {source}.",
        f"# health noise sd {m['noise_sd']:.3g} ({m['method']}), reliability "
        f"{m['reliability']:.3g} (regression calibration)",
    ]
    for k, v in fit["scenario_keys"].items():
        if v["se"] is not None:
            lines.append(f"# {k}: {v['value']:.4g} (se {v['se']:.2g})")
    return "\n".join(lines) + "\n" + yaml.safe_dump(doc, sort_keys=False, width=100)


# --------------------------------------------------------------------------------------------
# Fit against data


def predicted_hazard(d: PanelData, fit: dict[str, Any]) -> NDArray[np.float64]:
    """The fitted model's churn probability of each row given the account survived to it:
    ``sum_j w_j S_j h_j / sum_j w_j S_j`` over the Beta's nodes, ``S_j`` the node's survival
    over the account's earlier months (with the calibrated health of ``fit``)."""
    keys = fit["scenario_keys"]
    a, b = keys["churn.monthly.alpha"]["value"], keys["churn.monthly.beta"]["value"]
    effect = keys["churn.satisfaction_effect"]["value"]
    ref = keys["churn.satisfaction_reference"]["value"]
    x, _ = calibrated_health(d, float(fit["measurement"]["noise_sd_01"]))
    theta, w = beta_nodes(float(a), float(b), nodes_for(int(np.bincount(d.account).max())))
    z = logit(theta)[None, :] + (effect * (ref - x))[:, None]
    keep = log_expit(-z)
    cum = np.cumsum(keep, axis=0)
    first = np.flatnonzero(np.r_[True, d.account[1:] != d.account[:-1]])
    base = np.repeat(cum[first] - keep[first], np.diff(np.r_[first, d.account.size]), axis=0)
    prior = np.exp(cum - keep - base) * w[None, :]  # survival to the row's month, per node
    return np.asarray((prior * expit(z)).sum(1) / prior.sum(1), dtype=np.float64)


def hazard_by_health(d: PanelData, fit: dict[str, Any], bands: int = 10) -> pd.DataFrame:
    """Observed monthly churn (with a 95 % Wilson interval) beside the fitted model's, per band
    of recorded health (equal counts of rows): ``band, health_low, health_high, rows, churned,
    observed, observed_ci_low, observed_ci_high, predicted``."""
    from .models import _wilson

    pred = predicted_hazard(d, fit)
    cut = pd.qcut(d.health, bands, labels=False, duplicates="drop")
    frame = pd.DataFrame({"band": cut + 1, "health": d.health, "c": d.churned, "p": pred})
    out = frame.groupby("band").agg(
        health_low=("health", "min"),
        health_high=("health", "max"),
        rows=("c", "size"),
        churned=("c", "sum"),
        predicted=("p", "mean"),
    )
    out["observed"] = out["churned"] / out["rows"]
    lo, hi = _wilson(out["churned"].to_numpy(float), out["rows"].to_numpy(float))
    out["observed_ci_low"], out["observed_ci_high"] = lo, hi
    cols = ["health_low", "health_high", "rows", "churned", "observed"]
    return out[[*cols, "observed_ci_low", "observed_ci_high", "predicted"]].reset_index()
