"""Charts of a calibration (:mod:`simlib.calibrate`): one function per chart, each a Figure.

* :func:`retention_fit`: observed cohort survival against the fitted shifted-beta-geometric
  curve S(t) = B(alpha, beta + t) / B(alpha, beta) (Fader & Hardie 2007), the periods left out of
  the fit (the holdout) shaded, where the curve is a projection;
* :func:`km_vs_simulated`: the Kaplan–Meier curve of the data with its 95 % Greenwood band
  against the survival of accounts simulated with the fitted parameters;
* :func:`hazard_fit`: the observed churn hazard by renewal (95 % Wilson band) beside each fitted
  model's (the plain sBG, whose hazard can only fall, and the sBG with a tenure profile), so a
  reader sees why one model is recommended;
* :func:`churn_by_health`: a CRM panel's observed monthly churn by band of recorded health
  (95 % Wilson intervals) beside the fitted model's (``simlib calibrate panel``).

Time is in renewal periods since the cohort started (months for monthly contracts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

__all__ = ["churn_by_health", "hazard_fit", "km_vs_simulated", "retention_fit"]


def _figure(size: tuple[float, float]) -> tuple[Figure, Any]:
    """A chart of the kit's theme that describes itself (alt text) and whose data a report
    writes beside it (:func:`simlib.plots.chart_data`)."""
    from . import _figure as figure

    return figure(size=size)


def _time_label(period_months: int) -> str:
    if period_months == 1:
        return "months since the cohort started (monthly renewals)"
    if period_months == 12:
        return "years since the cohort started (annual renewals)"
    return f"renewal periods of {period_months} months since the cohort started"


def _colors(names: list[str]) -> dict[str, Any]:
    return dict(zip(names, sns.color_palette("colorblind", max(len(names), 1)), strict=False))


def _name(group: Any) -> str:
    return "all" if group is None or (isinstance(group, float) and np.isnan(group)) else str(group)


def retention_fit(holdout: pd.DataFrame, title: str | None = None) -> Figure:
    """Observed survival (dots) vs the fitted sBG curve (line), holdout periods shaded.

    ``holdout``: the table of :func:`simlib.calibrate.holdout_table` (columns ``group, period,
    period_months, observed_survival, fitted_survival, part, fit_periods``). Survival is the share of
    the cohort still subscribed after t renewals.
    """
    fig, ax = _figure((9, 5))
    table = holdout.assign(group=holdout["group"].map(_name))
    names = list(pd.unique(table["group"]))
    colors = _colors(names)
    for name in names:
        part = table[table["group"] == name]
        color = colors[name]
        fitted = part[part["part"] == "fit"]
        ax.plot(
            part["period"], part["observed_survival"], "o", ms=4, color=color, label=f"{name}: data"
        )
        ax.plot(fitted["period"], fitted["fitted_survival"], "-", lw=2, color=color)
        later = part[part["period"] >= fitted["period"].max()]
        if len(later) > 1:
            ax.plot(later["period"], later["fitted_survival"], "--", lw=2, color=color)
    k = int(table["fit_periods"].min())
    last = int(table["period"].max())
    if k < last:
        ax.axvspan(k, last, color="0.85", alpha=0.5, lw=0, label="holdout (projected)")
        ax.axvline(k, color="0.4", lw=1, ls=":")
    ax.plot([], [], "-", color="0.3", lw=2, label="fit (sBG)")
    ax.plot([], [], "--", color="0.3", lw=2, label="projection")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(_time_label(int(table["period_months"].iloc[0])))
    ax.set_ylabel("share of the cohort still subscribed")
    ax.set_title(title or f"Retention: data vs shifted-beta-geometric fit on periods 0-{k}")
    ax.legend(ncols=2, fontsize=9)
    return fig


def km_vs_simulated(
    observed: pd.DataFrame,
    simulated: pd.DataFrame,
    period_months: int = 1,
    title: str | None = None,
) -> Figure:
    """The data's Kaplan–Meier curve with its band (steps) vs simulated survival (dashed).

    Both tables have the columns of :func:`simlib.survival.kaplan_meier` (``group, time,
    survival, ci_low, ci_high``), time in renewal periods: ``observed`` from
    :func:`simlib.calibrate.kaplan_meier_retention` or ``kaplan_meier_accounts``, ``simulated``
    from the accounts of a simulation with the fitted parameters.
    """
    fig, ax = _figure((9, 5))
    names = list(dict.fromkeys([*map(str, observed["group"]), *map(str, simulated["group"])]))
    colors = _colors(names)
    for name in names:
        color = colors[name]
        obs = observed[observed["group"].astype(str) == name]
        if len(obs):
            ax.step(
                obs["time"], obs["survival"], where="post", color=color, lw=2, label=f"{name}: data"
            )
            ax.fill_between(
                obs["time"],
                obs["ci_low"],
                obs["ci_high"],
                step="post",
                color=color,
                alpha=0.2,
                lw=0,
            )
        sim = simulated[simulated["group"].astype(str) == name]
        if len(sim):
            ax.step(
                sim["time"],
                sim["survival"],
                where="post",
                color=color,
                lw=1.5,
                ls="--",
                label=f"{name}: simulated",
            )
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(_time_label(period_months))
    ax.set_ylabel("share still subscribed")
    ax.set_title(title or "Kaplan–Meier of the data (95 % Greenwood band) vs simulated survival")
    ax.legend(ncols=2, fontsize=9)
    return fig


#: Line style and legend label of each model in :func:`hazard_fit`.
_MODELS = {"sbg": ("--", "plain sBG"), "sbg_tenure": ("-", "sBG + tenure profile")}


def hazard_fit(hazard: pd.DataFrame, title: str | None = None) -> Figure:
    """Observed hazard by renewal (dots, 95 % Wilson band) vs each fitted model's (lines).

    ``hazard``: the table of :func:`simlib.calibrate.hazard_table` (columns ``group, period,
    period_months, observed, observed_ci_low, observed_ci_high, recommended`` and one column
    per model: ``sbg``, ``sbg_tenure``). One panel per group; the hazard at renewal t is the
    share of the accounts facing renewal t who churned there. The recommended model is named
    in each panel's title.
    """
    table = hazard.assign(group=hazard["group"].map(_name))
    names = list(pd.unique(table["group"]))
    from . import _figure as figure

    fig, axes = figure(1, len(names), size=(5.5 * len(names), 4.5), squeeze=False)
    colors = _colors([m for m in _MODELS if m in table.columns])
    for ax, name in zip(axes[0], names, strict=True):
        part = table[table["group"] == name].sort_values("period")
        t = part["period"].to_numpy()
        obs = part["observed"].to_numpy(dtype=np.float64)
        err = np.vstack(
            [obs - part["observed_ci_low"].to_numpy(), part["observed_ci_high"].to_numpy() - obs]
        )
        ax.errorbar(t, obs, yerr=err, fmt="o", ms=4, color="0.2", capsize=2, label="data")
        for model, (style, label) in _MODELS.items():
            if model in part.columns:
                ax.plot(t, part[model], style, lw=2, color=colors[model], label=label)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(bottom=0)
        ax.set_xlabel(_time_label(int(part["period_months"].iloc[0])).split(" since")[0])
        ax.set_ylabel("churn at this renewal (hazard)")
        best = _MODELS.get(str(part["recommended"].iloc[0]), ("", "?"))[1]
        ax.set_title(f"{name}: recommended {best}", fontsize=11)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def churn_by_health(bands: pd.DataFrame, title: str | None = None) -> Figure:
    """Observed monthly churn by band of recorded health (dots, 95 % Wilson intervals) against
    the fitted model's (line). ``bands``: :func:`simlib.calibration.panel.hazard_by_health`
    (``health_low, health_high, observed, observed_ci_low, observed_ci_high, predicted``);
    health on the 0-1 scale, churn a share of the accounts of the band per month."""
    fig, ax = _figure((7, 4))
    mid = ((bands["health_low"] + bands["health_high"]) / 2).to_numpy(dtype=np.float64)
    obs = bands["observed"].to_numpy(dtype=np.float64)
    err = np.vstack(
        [obs - bands["observed_ci_low"].to_numpy(), bands["observed_ci_high"].to_numpy() - obs]
    )
    ax.errorbar(mid, obs, yerr=err, fmt="o", capsize=3, label="observed (95 % Wilson)")
    ax.plot(mid, bands["predicted"], "-", lw=2, label="fitted model")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("recorded health (0-1)")
    ax.set_ylabel("monthly churn")
    ax.set_title(title or "Churn by health: the CRM panel against the fit")
    ax.legend()
    return fig
