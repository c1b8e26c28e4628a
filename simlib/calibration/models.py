"""Fits that know their limits: the plain sBG beside the sBG with a tenure profile, checked.

Every ``simlib calibrate`` command fits two models to each group and sets them side by side:

* ``sbg``: the shifted-beta-geometric model (Fader & Hardie 2007), hazard falling with tenure;
* ``sbg_tenure``: the same with a tenure profile in K pieces (:mod:`.tenure`): renewals 1..K-1
  with their own log-odds shift. K is ``--tenure-profile K`` when given, else
  :data:`CHECK_PIECES` (fewer when the data are short; no check below K = 2).

:func:`model_checks` reports, per group:

* ``hazard``: for each renewal t, the accounts at risk, the churned, the observed hazard with a
  95 % Wilson interval, and each model's fitted hazard ``P(T = t) / S(t - 1)``;
* ``models``: each model's log-likelihood, parameter count, AIC and (with ``--holdout``) the
  mean and largest absolute gap between its projected and the observed survival;
* ``likelihood_ratio``: ``2 (LL_tenure - LL_sbg)`` against chi-squared with K - 1 degrees of
  freedom (the sBG is the profile model with every shift 0, an interior point, so Wilks'
  theorem applies), its p-value, and whether it rejects at :data:`LR_LEVEL`;
* ``recommended``: ``sbg_tenure`` when the test rejects, else ``sbg``;
* ``warnings`` in words: the plain Beta ran to a degenerate edge, or the hazard rises where the
  plain model cannot follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import chdtrc, ndtri

from ..errors import DataError
from ..io.csv import CsvTable
from .fitting import _BOUNDS, _HOMOGENEOUS, fit_sbg
from .readers import account_counts, read_accounts, read_retention, retention_counts
from .sbg import SBGFit, json_number
from .tenure import TenureFit, fit_tenure_sbg, observed_hazard

__all__ = [
    "CHECK_PIECES",
    "LR_LEVEL",
    "fit_accounts_models",
    "fit_counts_models",
    "fit_retention_models",
    "hazard_table",
    "model_checks",
    "model_table",
]

#: Churn times and counts, censored times and counts (as :func:`fit_sbg` takes them).
Counts = tuple[Any, Any, Any, Any]

#: Pieces of the tenure profile fitted as a check when ``--tenure-profile`` is not given.
CHECK_PIECES = 4
#: Level of the likelihood-ratio test behind ``recommended``.
LR_LEVEL = 0.05


def _wilson(k: NDArray, n: NDArray, level: float = 0.95) -> tuple[NDArray, NDArray]:
    """Wilson score interval of a binomial proportion k / n (Wilson 1927)."""
    z = float(ndtri(0.5 + level / 2))
    n1 = np.maximum(n, 1.0)
    p = k / n1
    centre = (p + z * z / (2 * n1)) / (1 + z * z / n1)
    half = z * np.sqrt(p * (1 - p) / n1 + z * z / (4 * n1 * n1)) / (1 + z * z / n1)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def _plain_hazard(fit: SBGFit, t: NDArray) -> NDArray[np.float64]:
    return np.asarray(1.0 - fit.retention_rate(t), dtype=np.float64)


def _hazard_rows(counts: Counts, plain: SBGFit, rich: TenureFit | None) -> list[dict[str, Any]]:
    t, at_risk, churned = observed_hazard(*counts)
    lo, hi = _wilson(churned, at_risk)
    fitted = {"sbg": _plain_hazard(plain, t)}
    if rich is not None:
        fitted["sbg_tenure"] = rich.hazard(t)
    rows = []
    for i, period in enumerate(t):
        row: dict[str, Any] = {
            "period": int(period),
            "at_risk": round(float(at_risk[i])),
            "churned": round(float(churned[i])),
            "observed": json_number(churned[i] / at_risk[i]) if at_risk[i] > 0 else None,
            "observed_ci_low": json_number(lo[i]),
            "observed_ci_high": json_number(hi[i]),
        }
        row |= {name: json_number(h[i]) for name, h in fitted.items()}
        rows.append(row)
    return rows


def _model_record(fit: SBGFit) -> dict[str, Any]:
    k = 2 + (len(fit.tenure_profile) if isinstance(fit, TenureFit) else 0)
    rec: dict[str, Any] = {
        "model": "sbg_tenure" if isinstance(fit, TenureFit) else "sbg",
        "parameters": k,
        "log_likelihood": json_number(fit.log_likelihood),
        "aic": json_number(2 * k - 2 * fit.log_likelihood),
        "alpha": json_number(fit.alpha),
        "beta": json_number(fit.beta),
    }
    if isinstance(fit, TenureFit):
        rec["tenure_pieces"] = fit.pieces
        rec["tenure_profile"] = [json_number(v) for v in fit.tenure_profile]
        rec["tenure_profile_se"] = [json_number(v) for v in fit.tenure_profile_se]
    return rec


def _degenerate(plain: SBGFit) -> str | None:
    """Words for a plain Beta at a degenerate edge, or None."""
    a, b = plain.alpha, plain.beta
    if a + b > _HOMOGENEOUS:
        return (
            f"alpha + beta = {a + b:.3g}: every account has nearly the same churn probability, "
            f"{a / (a + b):.3g} per period, and the hazard is flat"
        )
    edge = [
        n
        for n, v in (("alpha", a), ("beta", b))
        if v <= _BOUNDS[0] * 1.01 or v >= _BOUNDS[1] / 1.01
    ]
    if edge:
        return f"{' and '.join(edge)} at the search bound (alpha = {a:.3g}, beta = {b:.3g})"
    return None


def _rise(rows: list[dict[str, Any]], rich: TenureFit) -> tuple[int, int] | None:
    """Renewals (i, j), i < j <= K, where the fitted profile hazard is lowest then highest, when
    it rises between them; None when it never rises over the profile."""
    t = np.arange(1, min(rich.pieces, len(rows)) + 1)
    h = rich.hazard(t)
    if t.size < 2 or not np.any(np.diff(h) > 0):
        return None
    i = int(np.argmin(h[:-1]))
    j = i + 1 + int(np.argmax(h[i + 1 :]))
    return (int(t[i]), int(t[j])) if h[j] > h[i] else None


def _lr_test(plain: SBGFit, rich: TenureFit) -> dict[str, Any]:
    stat = max(2.0 * (rich.log_likelihood - plain.log_likelihood), 0.0)
    df = len(rich.tenure_profile)
    p = float(chdtrc(df, stat))
    return {
        "statistic": json_number(stat),
        "df": df,
        "p_value": json_number(p),
        "level": LR_LEVEL,
        "rejects_sbg": bool(p < LR_LEVEL),
    }


def _suggested_pieces(rows: list[dict[str, Any]], pieces: int) -> int:
    """K that covers the rise: one past the renewal of the highest observed hazard among the
    first 12 (and at least the K checked), within what the data can identify (K <= t_max - 1)."""
    t_max = len(rows)
    early = [r for r in rows[: min(12, max(t_max - 2, 1))] if r["observed"] is not None]
    peak = max(early, key=lambda r: r["observed"])["period"] if early else 1
    return int(min(max(pieces, peak + 1), max(t_max - 1, 2)))


def _warnings(
    rows: list[dict[str, Any]], plain: SBGFit, rich: TenureFit, lr: dict[str, Any]
) -> list[str]:
    out = []
    rise = _rise(rows, rich) if lr["rejects_sbg"] else None
    if rise is not None:
        i, j = rise
        obs = {r["period"]: r["observed"] for r in rows}
        sbg = {r["period"]: r["sbg"] for r in rows}
        out.append(
            f"the hazard rises with tenure: observed {100 * obs[i]:.1f} % at renewal {i} and "
            f"{100 * obs[j]:.1f} % at renewal {j}; the plain sBG hazard can only fall with "
            f"tenure (it gives {100 * sbg[i]:.1f} % and {100 * sbg[j]:.1f} %), so it cannot "
            f"follow the data; the tenure profile ({rich.pieces} pieces) fits significantly "
            f"better (likelihood ratio {lr['statistic']:.1f}, p = {lr['p_value']:.2g}); use "
            f"--tenure-profile {_suggested_pieces(rows, rich.pieces)}"
        )
    edge = _degenerate(plain)
    if edge is not None:
        why = ""
        if rise is not None:
            why = " because its flattest hazard is the nearest it comes to one that rises"
        out.append(f"the plain sBG's Beta ran to a degenerate edge{why}: {edge}")
    return out


def model_checks(
    counts: Counts, plain: SBGFit, rich: TenureFit | None, note: str | None = None
) -> dict[str, Any]:
    """The checks of one group (see the module): hazards, models, LR test, recommendation."""
    rows = _hazard_rows(counts, plain, rich)
    models = [_model_record(plain)] + ([_model_record(rich)] if rich is not None else [])
    out: dict[str, Any] = {"hazard": rows, "models": models}
    if rich is None:
        out |= {"likelihood_ratio": None, "recommended": "sbg", "warnings": []}
        if note:
            out["note"] = note
        return out
    lr = _lr_test(plain, rich)
    out["likelihood_ratio"] = lr
    out["recommended"] = "sbg_tenure" if lr["rejects_sbg"] else "sbg"
    out["warnings"] = _warnings(rows, plain, rich, lr)
    return out


def _pieces(t_max: int, requested: int | None) -> int | None:
    """K for the check: the request, else :data:`CHECK_PIECES` or fewer for short data."""
    if requested is not None:
        return requested
    k = min(CHECK_PIECES, t_max - 1)
    return k if k >= 2 else None


def fit_counts_models(
    counts: Counts,
    group: str | None = None,
    period_months: int = 1,
    tenure_pieces: int | None = None,
) -> tuple[SBGFit, SBGFit, TenureFit | None]:
    """``(chosen, plain, rich)`` for one group's counts (as :func:`fit_sbg` takes them).

    ``chosen`` is the profile fit when ``tenure_pieces`` is given, else the plain one; it
    carries the checks in ``.checks`` (their warnings are added to its ``warnings`` too).
    """
    plain = fit_sbg(*counts, group=group, period_months=period_months)
    t_max = plain.periods
    k = _pieces(t_max, tenure_pieces)
    rich, note = None, None
    if k is None:
        note = f"too few renewals observed ({t_max}) to check a tenure profile against the sBG"
    else:
        rich = fit_tenure_sbg(*counts, k, group=group, period_months=period_months, plain=plain)
    chosen: SBGFit = plain
    if tenure_pieces is not None:
        assert rich is not None
        chosen = rich
    chosen.checks = model_checks(counts, plain, rich, note)
    chosen.warnings.extend(chosen.checks["warnings"])  # also where every fit's warnings are
    return chosen, plain, rich


def _holdout_gaps(alive: NDArray, k: int, fits: Sequence[SBGFit]) -> list[dict[str, Any]]:
    """Each model's gap on periods k+1.. of a cohort: mean and largest |projected - observed|."""
    t = np.arange(k + 1, len(alive))
    observed = alive[t] / alive[0]
    out = []
    for f in fits:
        err = np.abs(np.asarray(f.survival(t)) - observed)
        out.append(
            {"mean_abs_error": json_number(err.mean()), "max_abs_error": json_number(err.max())}
        )
    return out


def fit_retention_models(
    data: str | Path | pd.DataFrame | CsvTable,
    period_months: int = 1,
    fit_periods: int | None = None,
    tenure_pieces: int | None = None,
) -> list[SBGFit]:
    """:func:`~simlib.calibration.fitting.fit_retention` with the checks (``.checks``) and,
    with ``tenure_pieces`` = K, the tenure-profile model as the fit of each segment. With
    ``fit_periods`` the checks' ``models`` carry each model's holdout gap."""
    from .fitting import _check_fit_periods

    fits = []
    for d in read_retention(data):
        if fit_periods is not None:
            _check_fit_periods(d, fit_periods, data)
        counts = retention_counts(d, fit_periods)
        _need_periods(counts, tenure_pieces, d.group, data)
        chosen, plain, rich = fit_counts_models(counts, d.group, period_months, tenure_pieces)
        if fit_periods is not None and chosen.checks is not None:
            tried = [f for f in (plain, rich) if f is not None]
            for rec, gap in zip(
                chosen.checks["models"], _holdout_gaps(d.alive, fit_periods, tried), strict=True
            ):
                rec["holdout"] = gap
        fits.append(chosen)
    return fits


def fit_accounts_models(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
    tenure_pieces: int | None = None,
) -> list[SBGFit]:
    """:func:`~simlib.calibration.fitting.fit_accounts` with the checks and, with
    ``tenure_pieces`` = K, the tenure-profile model as the fit of each group."""
    fits = []
    for d in read_accounts(data, duration, event, group, period_months):
        counts = account_counts(d)
        _need_periods(counts, tenure_pieces, d.group, data)
        fits.append(fit_counts_models(counts, d.group, period_months, tenure_pieces)[0])
    return fits


def _need_periods(counts: Counts, pieces: int | None, group: str | None, data: Any) -> None:
    """A profile of K pieces needs renewals up to K + 1 observed (a clear error otherwise,
    naming the source and the option)."""
    if pieces is None:
        return
    source = data.source if isinstance(data, CsvTable) else str(data)
    if isinstance(data, pd.DataFrame):
        source = "<table>"
    t_max = int(max(np.max(counts[0], initial=0), np.max(counts[2], initial=0)))
    label = f"group {group!r}: " if group is not None else ""
    if pieces < 2 or t_max < pieces + 1:
        raise DataError(
            f"{source}: --tenure-profile {pieces}: {label}a profile of K pieces needs 2 <= K and data "
            f"up to renewal K + 1 (two renewals past the profile); the data reach renewal "
            f"{t_max}, so K <= {max(t_max - 1, 1)}"
        )


def hazard_table(fits: Sequence[SBGFit]) -> pd.DataFrame:
    """The checks' hazards of checked fits, tidy: one row per (group, period) with ``at_risk,
    churned, observed, observed_ci_low, observed_ci_high`` and a column per model tried
    (``sbg``, ``sbg_tenure``), plus ``period_months`` and ``recommended``."""
    frames = []
    for f in fits:
        if f.checks is None:
            raise ValueError("hazard_table needs fits with checks (fit_*_models)")
        frame = pd.DataFrame(f.checks["hazard"])
        frame.insert(0, "group", f.group)
        frame["period_months"] = f.period_months
        frame["recommended"] = f.checks["recommended"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def model_table(fits: Sequence[SBGFit]) -> pd.DataFrame:
    """One row per (group, model tried): log-likelihood, parameters, AIC, the
    likelihood-ratio p-value of the profile against the sBG, the holdout gaps (when there was a
    holdout) and whether it is the recommended model."""
    rows = []
    for f in fits:
        if f.checks is None:
            raise ValueError("model_table needs fits with checks (fit_*_models)")
        lr = f.checks["likelihood_ratio"] or {}
        for m in f.checks["models"]:
            gap = m.get("holdout") or {}
            rows.append(
                {
                    "group": f.group,
                    "model": m["model"],
                    "parameters": m["parameters"],
                    "log_likelihood": m["log_likelihood"],
                    "aic": m["aic"],
                    "lr_p_value": lr.get("p_value")
                    if m["model"] == lr.get("model", "sbg_tenure")
                    else None,
                    "holdout_mean_abs_error": gap.get("mean_abs_error"),
                    "holdout_max_abs_error": gap.get("max_abs_error"),
                    "recommended": m["model"] == f.checks["recommended"],
                }
            )
    return pd.DataFrame(rows)
