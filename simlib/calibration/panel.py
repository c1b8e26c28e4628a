"""The satisfaction links fitted from an account-month panel (a CRM export; ``simlib calibrate
panel``).

The panel and its checks are :mod:`simlib.calibration.panel_read` (one row per account and month
alive: account, month, health score, churn flag, optionally the MRR, the contract, a group and
offers made/accepted per kind). What is fitted, with health ``x`` on 0-1 (``(score - LO) / (HI -
LO)``):

* **Churn** (:mod:`simlib.calibration.panel_churn`): ``theta ~ Beta(alpha, beta)`` per account
  (one Beta per contract, ``churn.monthly`` and ``churn.annual``, and per group with groups),
  churn at a renewal at the end of month ``m`` with ``expit(logit theta + effect x (r - x_m) +
  d_n)``, the simulator's link (:mod:`simlib.model.satisfaction`) and, with ``tenure_pieces``
  = K, the tenure profile ``d_n`` of monthly renewals 1..K-1 (:mod:`simlib.model.tenure`);
  annual accounts renew at the end of months 12, 24, ... of their tenure. ``r``
  (``churn.satisfaction_reference``) is the mean health of the rows, rounded to 4 decimals.
* **Offers** (where recorded): acceptance of an offer of kind ``K`` is logistic,
  ``P = expit(b_K + s x (x - 0.5))``, a binomial regression of accepted on made with one
  intercept per kind (``offers.kinds.K.base_intent``) and the shared slope
  ``offers.intent.satisfaction_to_intent``. The simulator adds relevance, moment and bonus terms;
  where they vary between accounts, the intercept is their average and the slope is somewhat
  flattened by them (a logistic model is not collapsible).

Groups (``group``, e.g. the segment) have their own Beta per contract
(``population.segments.G.churn.monthly|annual``, with each group's ``share`` of the accounts)
and share the link, the reference and the offer fit (the scenario has one of each); the tenure
profile is one for every group, or one per group where the scenario takes a profile per segment
(``population.segments.G.churn.tenure_profile``).

**Measurement noise** (:mod:`simlib.calibration.panel_noise`): the health score is replaced by
its regression calibration ``mu_g + lambda_g (w - mu_g)``, the noise sd given (``noise_sd``, on
the score's scale) or estimated from the variogram of the panel; the churn fit is then the SIMEX
of the calibrated fit (:mod:`simlib.calibration.panel_simex`: pseudo-panels with extra noise,
extrapolated back to none); the naive fit (``lambda = 1``) is reported beside it. **Standard errors**: a sandwich clustered by account that carries the
uncertainty of the calibration (see :mod:`simlib.calibration.panel_churn`), for the churn and
the offer fit alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import expit, log_expit, logit

from ..errors import DataError
from .fragments import segments_take_a_profile
from .panel_churn import (
    PanelChurnFit,
    fit_panel_churn,
    renewal_rows,
    robust_covariance,
)
from .panel_noise import Calibration, calibration, influence, noise_from_panel, noise_influence
from .panel_read import PanelData, read_panel
from .panel_simex import simex_churn
from .sbg import json_number
from .tenure import beta_nodes, nodes_for

__all__ = [
    "PanelData",
    "calibrated_health",
    "fit_panel",
    "hazard_by_health",
    "noise_from_panel",
    "panel_fragment",
    "panel_json",
    "panel_overrides",
    "predicted_hazard",
    "read_panel",
    "segments_take_a_profile",
]

#: How the standard errors are made (the JSON says so).
SE_METHOD = (
    "sandwich clustered by account, with the uncertainty of the noise correction (the churn "
    "link: the stacked estimating equations of SIMEX, the noise estimate included; the offer "
    "link: two-step M-estimation, delta method)"
)


#: How the offer link is corrected (the JSON says so).
OFFER_CORRECTION = "regression calibration (the logistic regression has no frailty)"


def calibrated_health(d: PanelData, noise_sd: float) -> tuple[NDArray[np.float64], float]:
    """``E[x | w] = mu_g + lambda_g (w - mu_g)`` (regression calibration, per group) for a noise
    sd ``noise_sd`` (0-1 scale), and the reliability (the rows' mean of ``lambda_g``)."""
    cal = calibration(d, noise_sd)
    return cal.health(d.health), float(np.mean(cal.phi[1::2][cal.group_of]))


# --------------------------------------------------------------------------------------------
# Offers


def _offer_design(d: PanelData) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray] | None:
    """Rows with offers: (row index, kind index, accepted, made, design without the slope)."""
    kinds = list(d.offers)
    if not kinds:
        return None
    idx, kind_of, ys, ns = [], [], [], []
    for j, kind in enumerate(kinds):
        made, took = d.offers[kind]
        sel = np.flatnonzero(made > 0)
        idx.append(sel)
        kind_of.append(np.full(sel.size, j))
        ys.append(took[sel])
        ns.append(made[sel])
    rows, code = np.concatenate(idx), np.concatenate(kind_of)
    design = np.zeros((rows.size, len(kinds) + 1))
    design[np.arange(rows.size), code] = 1.0
    return rows, code, np.concatenate(ys), np.concatenate(ns), design


def _offer_scores(
    d: PanelData, coef: NDArray, health: NDArray, parts: tuple[NDArray, ...]
) -> NDArray[np.float64]:
    """Each account's score of the offer regression (accounts x coefficients)."""
    rows, _, y, m, design = parts
    design = design.copy()
    design[:, -1] = health[rows] - 0.5
    resid = y - m * expit(design @ coef)
    out = np.zeros((d.accounts, coef.size))
    for j in range(coef.size):
        out[:, j] = np.bincount(d.account[rows], design[:, j] * resid, minlength=d.accounts)
    return out


def _fit_offers(
    d: PanelData,
    health: NDArray,
    health_of: Callable[[NDArray], NDArray] | None = None,
    cal: tuple[NDArray, NDArray] | None = None,
) -> dict[str, Any] | None:
    """Binomial logistic regression of accepted on made: an intercept per kind, one slope on
    ``health - 0.5`` (Newton's method). Standard errors: the sandwich clustered by account, with
    the calibration's uncertainty when ``health_of`` (phi -> health) and ``cal`` (phi, psi) are
    given (see :mod:`simlib.calibration.panel_churn`)."""
    parts = _offer_design(d)
    if parts is None:
        return None
    kinds = list(d.offers)
    rows, kind_of, y, m, design = parts
    design[:, -1] = health[rows] - 0.5
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
    u = _offer_scores(d, coef, health, parts)
    if health_of is not None and cal is not None:
        phi, psi = cal
        g = np.zeros((coef.size, phi.size))
        for j in range(phi.size):
            e = np.zeros(phi.size)
            e[j] = 1e-5 * max(1.0, abs(float(phi[j])))
            up = _offer_scores(d, coef, health_of(phi + e), parts).sum(0)
            down = _offer_scores(d, coef, health_of(phi - e), parts).sum(0)
            g[:, j] = (up - down) / (2 * e[j])
        u = u + psi @ g.T
    bread = np.linalg.inv(info)
    se = np.sqrt(np.diag(bread @ (u.T @ u) @ bread))
    return {
        "slope": (float(coef[-1]), float(se[-1])),
        "intercepts": {k: (float(coef[j]), float(se[j])) for j, k in enumerate(kinds)},
        "offers": {k: int(d.offers[k][0].sum()) for k in kinds},
        "accepted": {k: int(d.offers[k][1].sum()) for k in kinds},
    }


# --------------------------------------------------------------------------------------------
# The whole fit


def _prefix(group: str | None) -> str:
    return "churn" if group is None else f"population.segments.{group}.churn"


def _churn_keys(fit: PanelChurnFit, ref: float) -> dict[str, dict[str, Any]]:
    """The scenario keys of the churn fit, ``{KEY: {value, se}}``."""
    lay, x = fit.layout, fit.x
    keys: dict[str, dict[str, Any]] = {}
    for i, (g, contract) in enumerate(lay.blocks):
        for j, name in enumerate(("alpha", "beta")):
            keys[f"{_prefix(g)}.{contract}.{name}"] = _pair(
                (math.exp(x[2 * i + j]), fit.se(2 * i + j))
            )
    keys["churn.satisfaction_effect"] = _pair((float(x[lay.effect]), fit.se(lay.effect)))
    keys["churn.satisfaction_reference"] = {"value": ref, "se": None}
    k = lay.pieces - 1
    for j, owner in enumerate(lay.owners):
        start = lay.effect + 1 + j * k
        keys[f"{_prefix(owner)}.tenure_profile.monthly"] = {
            "value": [json_number(v) for v in x[start : start + k]],
            "se": [json_number(fit.se(i)) for i in range(start, start + k)],
        }
    return keys


def _noise(d: PanelData, noise_sd: float | None) -> dict[str, Any]:
    lo, hi = d.score_range
    if noise_sd is None:
        return noise_from_panel(d)
    return {"sd": noise_sd / (hi - lo), "method": "given (--health-noise)"}


def _fit_churn_with_se(
    d: PanelData,
    cal: Calibration | None,
    psi: NDArray | None,
    ref: float,
    pieces: int,
    per_group: bool,
    start: NDArray | None = None,
) -> PanelChurnFit:
    """The churn fit on the calibrated health (``cal``; None: the raw scores), with the robust
    covariance."""
    if cal is None:
        fit = fit_panel_churn(d, d.health, ref, pieces, per_group, start=start)
        fit.cov = robust_covariance(fit, d, ref, lambda _: d.health, np.zeros(0), None)
        return fit
    fit = fit_panel_churn(d, cal.health(d.health), ref, pieces, per_group, start=start)
    fit.cov = robust_covariance(fit, d, ref, lambda phi: cal.health(d.health, phi), cal.phi, psi)
    return fit


def fit_panel(
    d: PanelData,
    noise_sd: float | None = None,
    tenure_pieces: int | None = None,
    profile_by_group: bool | None = None,
    reference: float | None = None,
) -> dict[str, Any]:
    """Both links from a validated panel (see the module). ``noise_sd``: the measurement
    noise of the score on its own scale (None: estimated from the panel; 0: no correction);
    ``tenure_pieces`` = K: the tenure profile of monthly renewals in K pieces;
    ``profile_by_group``: one profile per group (None: when the scenario takes one per segment,
    :func:`segments_take_a_profile`); ``reference``: the reference health (0-1; None: the mean
    health of the rows, rounded to 4 decimals). Returns the JSON object of ``simlib calibrate
    panel`` (without ``source``)."""
    noise = _noise(d, noise_sd)
    if not d.churned.any():
        raise DataError(f"{d.source}: no account churned; there is nothing to fit")
    cal = calibration(d, float(noise["sd"]))
    psi = influence(d, cal, estimated=noise_sd is None)
    ref = round(float(d.health.mean()), 4) if reference is None else float(reference)
    pieces = tenure_pieces or 1
    per_group = segments_take_a_profile() if profile_by_group is None else profile_by_group
    if float(noise["sd"]) > 0:
        psi_sigma = noise_influence(d) if noise_sd is None else None
        churn, correction = simex_churn(d, float(noise["sd"]), psi_sigma, ref, pieces, per_group)
    else:
        churn = _fit_churn_with_se(d, cal, psi, ref, pieces, per_group)
        correction = {"method": "none (noise sd 0)"}
    health = cal.health(d.health)
    offers = _fit_offers(d, health, lambda phi: cal.health(d.health, phi), (cal.phi, psi))
    naive = None
    if (cal.phi[1::2] < 1.0).any():
        start = churn.x.copy()  # near the naive fit: the link flattened by the reliability
        start[churn.layout.effect] *= float(np.mean(cal.phi[1::2]))
        naive_churn = _fit_churn_with_se(d, None, None, ref, pieces, per_group, start)
        naive = {"churn.satisfaction_effect": _churn_keys(naive_churn, ref)[
            "churn.satisfaction_effect"]}  # fmt: skip
        naive_offers = _fit_offers(d, d.health)
        if naive_offers is not None:
            naive["offers.intent.satisfaction_to_intent"] = _pair(naive_offers["slope"])
    keys = _group_shares(d) | _churn_keys(churn, ref) | _offer_keys(offers)
    return {
        "scenario_keys": keys,
        "measurement": _measurement(d, noise, cal),
        "noise_correction": correction | {"offers": OFFER_CORRECTION},
        "naive": naive,
        "accounts": d.accounts,
        "rows": int(d.account.size),
        "churned": int(d.churned.sum()),
        "log_likelihood": json_number(churn.log_likelihood),
        "standard_errors": SE_METHOD,
        "last_month": _last_month(d, churn.open_last),
        "blocks": _blocks(churn),
        "groups": _groups(d, churn, keys),
        "offers": None
        if offers is None
        else {"made": offers["offers"], "accepted": offers["accepted"]},
        "warnings": churn.warnings + _warnings(keys),
    }


def _blocks(churn: PanelChurnFit) -> list[dict[str, Any]]:
    """Each block (group x contract): its accounts, renewals, churns and mean churn per
    renewal at the reference health (with its standard error)."""
    out = []
    for k, rec in enumerate(churn.blocks):
        mean, se = churn.mean_churn(k)
        out.append(rec | {"mean_churn": json_number(mean), "mean_churn_se": json_number(se)})
    return out


def _offer_keys(offers: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if offers is None:
        return {}
    keys = {"offers.intent.satisfaction_to_intent": _pair(offers["slope"])}
    for kind, pair in offers["intercepts"].items():
        keys[f"offers.kinds.{kind}.base_intent"] = _pair(pair)
    return keys


def _group_shares(d: PanelData) -> dict[str, dict[str, Any]]:
    """``population.segments.G.share`` of each group: its share of the accounts (se null)."""
    if d.group is None:
        return {}
    first = d.group[d.starts]
    names = d.groups
    counts = np.array([np.sum(first == g) for g in names], dtype=np.float64)
    shares = [round(float(c / counts.sum()), 6) for c in counts]
    shares[-1] = round(1.0 - sum(shares[:-1]), 9)
    return {
        f"population.segments.{g}.share": {"value": s, "se": None}
        for g, s in zip(names, shares, strict=True)
    }


def _groups(d: PanelData, churn: PanelChurnFit, keys: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per group: its accounts, rows, churns, renewals by contract and its keys."""
    out = []
    first = d.group[d.starts] if d.group is not None else None
    for g in d.groups:
        rows = np.ones(d.account.size, dtype=bool) if d.group is None else d.group == g
        mine = f"population.segments.{g}." if g is not None else "churn."
        out.append(
            {
                "group": g,
                "accounts": int(d.accounts if first is None else np.sum(first == g)),
                "rows": int(rows.sum()),
                "churned": int(d.churned[rows].sum()),
                "contracts": {
                    b["contract"]: {k: b[k] for k in ("accounts", "renewals", "churned")}
                    for b in churn.blocks
                    if b["group"] == g
                },
                "scenario_keys": {k: v for k, v in keys.items() if k.startswith(mine)},
            }
        )
    return out


def _measurement(d: PanelData, noise: dict[str, Any], cal: Calibration) -> dict[str, Any]:
    lo, hi = d.score_range
    rel = cal.reliability
    out = {
        "noise_sd": json_number(float(noise["sd"]) * (hi - lo)),
        "noise_sd_01": json_number(float(noise["sd"])),
        "method": noise["method"],
        "reliability": json_number(float(np.mean(cal.phi[1::2][cal.group_of]))),
        "health_range": [lo, hi],
    }
    if d.group is not None:
        out["reliability_by_group"] = {str(g): json_number(v) for g, v in rel.items()}
    return out | ({"variogram": noise["lags"]} if "lags" in noise else {})


def _last_month(d: PanelData, open_last: bool) -> dict[str, Any]:
    month = int(d.month.max(initial=0))
    note = (
        "no account churns in the last month: its renewals are taken as not decided yet (as "
        "simlib run --panel writes the last month), so it carries no churn term"
        if open_last
        else "accounts churn in the last month: its renewals are taken as decided"
    )
    return {"month": month, "open": bool(open_last), "note": note}


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


def _rounded(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return [float(f"{v:.6g}") for v in value]
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


def _se_text(v: dict[str, Any]) -> str:
    if isinstance(v["value"], list):
        return ", ".join(f"{a:.4g} (se {b:.2g})" for a, b in zip(v["value"], v["se"], strict=True))
    return f"{v['value']:.4g} (se {v['se']:.2g})"


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
        f"{m['reliability']:.3g} (churn: {fit['noise_correction']['method']}; offers: "
        "regression calibration)",
    ]
    for k, v in fit["scenario_keys"].items():
        if v["se"] is not None:
            lines.append(f"# {k}: {_se_text(v)}")
    return "\n".join(lines) + "\n" + yaml.safe_dump(doc, sort_keys=False, width=100)


# --------------------------------------------------------------------------------------------
# Fit against data


def _value(keys: dict[str, Any], key: str, default: Any = None) -> Any:
    rec = keys.get(key)
    return default if rec is None else rec["value"]


def predicted_hazard(d: PanelData, fit: dict[str, Any]) -> NDArray[np.float64]:
    """The fitted model's churn probability of each row given the account survived to it:
    ``sum_j w_j S_j h_j / sum_j w_j S_j`` over the Beta's nodes, ``S_j`` the node's survival
    over the account's earlier renewals (with the calibrated health of ``fit``); 0 in the
    months of an annual account that hold no renewal."""
    keys = fit["scenario_keys"]
    effect = _value(keys, "churn.satisfaction_effect")
    ref = _value(keys, "churn.satisfaction_reference")
    x, _ = calibrated_health(d, float(fit["measurement"]["noise_sd_01"]))
    rows, number = renewal_rows(d, open_last=False)
    annual = d.annual[rows] if d.annual is not None else np.zeros(rows.size, dtype=bool)
    group = d.group[rows] if d.group is not None else None
    out = np.zeros(d.account.size)
    for g in d.groups:
        for contract in ("monthly", "annual"):
            sel = annual == (contract == "annual")
            if group is not None:
                sel &= group == g
            if not sel.any():
                continue
            a = _value(keys, f"{_prefix(g)}.{contract}.alpha")
            b = _value(keys, f"{_prefix(g)}.{contract}.beta")
            prof = _value(keys, f"{_prefix(g)}.tenure_profile.monthly")
            if prof is None:
                prof = _value(keys, "churn.tenure_profile.monthly", [])
            d_n = np.zeros(int(number[sel].max()) + 1)
            if contract == "monthly" and prof:
                k = min(len(prof), d_n.size - 1)
                d_n[1 : k + 1] = prof[:k]
            r = rows[sel]
            z_shift = effect * (ref - x[r]) + d_n[number[sel]]
            out[r] = _conditional_hazard(float(a), float(b), z_shift, d.account[r], int(d_n.size))
    return out


def _conditional_hazard(
    a: float, b: float, shift: NDArray, account: NDArray, t_max: int
) -> NDArray[np.float64]:
    """Per renewal (sorted by account), the hazard given survival of the account's earlier
    renewals, with log-odds ``logit(theta) + shift``, theta ~ Beta(a, b)."""
    theta, w = beta_nodes(a, b, nodes_for(t_max))
    z = logit(theta)[None, :] + shift[:, None]
    keep = log_expit(-z)
    cum = np.cumsum(keep, axis=0)
    first = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    base = np.repeat(cum[first] - keep[first], np.diff(np.r_[first, account.size]), axis=0)
    prior = np.exp(cum - keep - base) * w[None, :]  # survival to the renewal, per node
    return np.asarray((prior * expit(z)).sum(1) / prior.sum(1), dtype=np.float64)


def hazard_by_health(d: PanelData, fit: dict[str, Any], bands: int = 10) -> pd.DataFrame:
    """Observed churn per renewal (with a 95 % Wilson interval) beside the fitted model's, per
    band of recorded health (equal counts of renewals decided): ``band, health_low,
    health_high, rows, churned, observed, observed_ci_low, observed_ci_high, predicted``."""
    from .models import _wilson

    pred = predicted_hazard(d, fit)
    open_last = bool(fit.get("last_month", {}).get("open", False))
    rows, _ = renewal_rows(d, open_last)
    health = d.health[rows]
    cut = pd.qcut(health, bands, labels=False, duplicates="drop")
    frame = pd.DataFrame({"band": cut + 1, "health": health, "c": d.churned[rows], "p": pred[rows]})
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
