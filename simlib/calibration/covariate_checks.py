"""The model checks of ``calibrate accounts --satisfaction``: the satisfaction model beside the
plain sBG and the sBG with a tenure profile (:mod:`simlib.calibration.models`), in the same JSON
shape as the other calibrate commands' ``checks``.

Per group, :func:`~simlib.calibration.models.model_checks` sets the plain sBG and the tenure
check (K = ``--tenure-profile`` or :data:`~simlib.calibration.models.CHECK_PIECES`) beside the
observed hazard. To that this adds the fitted satisfaction model (``sbg_satisfaction``, or
``sbg_satisfaction_tenure`` with a profile):

* ``hazard``: its fitted hazard at renewal t, the mean over the accounts at risk there of each
  account's own hazard ``1 - S_i(t) / S_i(t - 1)`` (with its health; the compensator of the
  churns observed, so that censoring does not tilt it);
* ``models``: its record (log-likelihood: the group's share of the joint fit, parameters,
  AIC, the Beta, the effect and the profile);
* ``likelihood_ratio``: ``2 (LL_satisfaction - LL_sbg)`` against chi-squared with ``1 + (K -
  1)`` degrees of freedom (the effect and the profile; the plain sBG is the model with every
  one at 0, an interior point, so Wilks' theorem applies); with groups the joint fit against
  every group's plain sBG (the effect and the profile are shared); ``model`` names the richer
  model. The tenure check's test stays as ``tenure_likelihood_ratio``.
* ``recommended``: the satisfaction model when its test rejects at the 5 % level (with
  ``_tenure`` added when it has no profile and the tenure check rejects too), else the tenure
  check's choice;
* ``warnings``: the tenure check's (a rising hazard, the plain Beta at a degenerate edge) and
  the satisfaction model's Beta at a degenerate edge.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import chdtrc

from .covariate import CovariateData, CovariateFit, _account_loglik, satisfaction_survival
from .fitting import fit_sbg
from .models import LR_LEVEL, _degenerate, _pieces, model_checks
from .readers import AccountData, account_counts
from .sbg import json_number
from .tenure import fit_tenure_sbg

__all__ = ["satisfaction_checks"]


def _name(fit: CovariateFit) -> str:
    return "sbg_satisfaction" + ("_tenure" if fit.pieces > 1 else "")


def _group_loglik(fit: CovariateFit, d: CovariateData) -> float:
    """The group's share of the joint log-likelihood at the fit."""
    shifts = np.asarray(fit.tenure_profile, dtype=np.float64)
    ll = _account_loglik(
        fit.alpha, fit.beta, fit.satisfaction_effect, shifts, d, fit.satisfaction_reference
    )
    return float(ll.sum())


def _at_risk_hazard(fit: CovariateFit, d: CovariateData, t_max: int) -> np.ndarray:
    """The fitted hazard at renewals 1..t_max: the mean over the accounts at risk of their own."""
    surv = satisfaction_survival(fit, d.score, t_max)
    prev = surv[:, :-1]
    hazard = np.where(prev > 0, 1.0 - surv[:, 1:] / np.where(prev > 0, prev, 1.0), 0.0)
    at_risk = d.periods[:, None] >= np.arange(1, t_max + 1)[None, :]
    n = at_risk.sum(axis=0)
    return np.where(n > 0, (hazard * at_risk).sum(axis=0) / np.maximum(n, 1), np.nan)


def _record(fit: CovariateFit, ll: float) -> dict[str, Any]:
    k = 3 + len(fit.tenure_profile)
    rec: dict[str, Any] = {
        "model": _name(fit),
        "parameters": k,
        "log_likelihood": json_number(ll),
        "aic": json_number(2 * k - 2 * ll),
        "alpha": json_number(fit.alpha),
        "beta": json_number(fit.beta),
        "satisfaction_effect": json_number(fit.satisfaction_effect),
    }
    if fit.pieces > 1:
        rec["tenure_pieces"] = fit.pieces
        rec["tenure_profile"] = [json_number(v) for v in fit.tenure_profile]
        rec["tenure_profile_se"] = [json_number(v) for v in fit.tenure_profile_se]
    return rec


def _lr(fits: list[CovariateFit], ll_sat: float, ll_sbg: float) -> dict[str, Any]:
    stat = max(2.0 * (ll_sat - ll_sbg), 0.0)
    df = 1 + len(fits[0].tenure_profile)
    p = float(chdtrc(df, stat))
    out = {
        "model": _name(fits[0]),
        "against": "sbg",
        "statistic": json_number(stat),
        "df": df,
        "p_value": json_number(p),
        "level": LR_LEVEL,
        "rejects_sbg": bool(p < LR_LEVEL),
    }
    if len(fits) > 1:
        out["scope"] = "all groups (the effect and the profile are shared)"
    return out


def satisfaction_checks(
    fits: list[CovariateFit],
    data: list[CovariateData],
    period_months: int = 1,
    tenure_pieces: int | None = None,
) -> None:
    """Set ``checks`` on each fit (see the module) and add their warnings to the fit's."""
    per_group = []
    for fit, d in zip(fits, data, strict=True):
        counts = account_counts(AccountData(d.group, d.periods, d.churned))
        plain = fit_sbg(*counts, group=d.group, period_months=period_months)
        k = _pieces(plain.periods, tenure_pieces)
        rich, note = None, None
        if k is None:
            note = f"too few renewals observed ({plain.periods}) to check a tenure profile"
        else:
            rich = fit_tenure_sbg(
                *counts, k, group=d.group, period_months=period_months, plain=plain
            )
        checks = model_checks(counts, plain, rich, note)
        ll = _group_loglik(fit, d)
        hazard = _at_risk_hazard(fit, d, len(checks["hazard"]))
        for row, h in zip(checks["hazard"], hazard, strict=True):
            row[_name(fit)] = json_number(h)
        checks["models"].append(_record(fit, ll))
        per_group.append((fit, checks, ll, plain.log_likelihood))
    lr = _lr(fits, sum(g[2] for g in per_group), sum(g[3] for g in per_group))
    for fit, checks, _, _ in per_group:
        checks["tenure_likelihood_ratio"] = checks["likelihood_ratio"]
        checks["likelihood_ratio"] = lr
        checks["recommended"] = _recommended(fit, checks)
        edge = _degenerate(fit)
        if edge is not None:
            checks["warnings"].append(
                f"the satisfaction model's Beta ran to a degenerate edge: {edge}"
            )
        fit.checks = checks
        fit.warnings.extend(checks["warnings"])


def _recommended(fit: CovariateFit, checks: dict[str, Any]) -> str:
    tenure = checks["tenure_likelihood_ratio"] or {}
    tenure_rejects = bool(tenure.get("rejects_sbg"))
    if checks["likelihood_ratio"]["rejects_sbg"]:
        name = _name(fit)
        return name + "_tenure" if fit.pieces <= 1 and tenure_rejects else name
    return "sbg_tenure" if tenure_rejects else "sbg"
