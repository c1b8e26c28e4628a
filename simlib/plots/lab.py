"""Charts of the hypothesis lab (:mod:`simlib.lab`): one function per chart, each a Figure.

* :func:`dose_response`: the paired effect of raising satisfaction against the dose, one panel
  per figure, 95 % intervals as bars;
* :func:`decomposition_bars`: for each condition, the change in revenue per opening account split
  into retention, expansion within segments and segment mix (stacked), with the interval of the
  total;
* :func:`naive_vs_causal`: the CRM's regression slope beside the intervention's causal slope;
* :func:`churn_floor`: marginal revenue of one point less churn against one point more
  expansion as churn falls, simulated with the closed form beside it, and what cutting churn to
  zero could still add against what the expansion push adds.

Money is in the scenario's currency (revenue per opening account over the horizon, or currency
per month for ARPA), satisfaction on the 0-1 scale, churn in % per month.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..metrics import metric_label, metric_unit

__all__ = ["churn_floor", "decomposition_bars", "dose_response", "naive_vs_causal"]

_LABELS = {
    "revenue_per_opening_account": "revenue per opening account",
    "retention": "retention (accounts staying longer)",
    "within": "expansion within segments (paying more)",
    "mix": "segment mix of survivors",
}


def _fig(nrows: int, ncols: int, size: tuple[float, float], **kw: Any):
    from . import _figure

    return _figure(nrows, ncols, size=size, **kw)


def _money_axis(ax: Any, axis: str = "y") -> None:
    from . import _money

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(_money("USD"))


def _dose_ticks(ax: Any, doses: np.ndarray) -> None:
    """Ticks at the doses run (at most six, evenly picked), each written once (``0.05``), so
    labels never run together."""
    ticks = np.unique(np.round(doses, 6))
    if ticks.size > 6:
        ticks = ticks[np.linspace(0, ticks.size - 1, 6).round().astype(int)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])


def dose_response(
    table: pd.DataFrame, metrics: Sequence[str] | None = None, currency: str = "USD"
) -> Figure:
    """Effect against dose: ``table`` is :attr:`simlib.lab.DoseResponse.table` (dose, metric,
    difference, ci_low, ci_high); the zero dose is the baseline (no effect by definition)."""
    chosen = list(metrics) if metrics else list(pd.unique(table["metric"]))
    n = len(chosen)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig, axes = _fig(nrows, ncols, (10, 3.2 * nrows + 0.6), squeeze=False)
    for ax, metric in zip(axes.ravel(), chosen, strict=False):
        part = table[table["metric"] == metric].sort_values("dose")
        x = np.concatenate([[0.0], part["dose"].to_numpy(dtype=float)])
        y = np.concatenate([[0.0], part["difference"].to_numpy(dtype=float)])
        lo = np.concatenate([[0.0], part["ci_low"].to_numpy(dtype=float)])
        hi = np.concatenate([[0.0], part["ci_high"].to_numpy(dtype=float)])
        ax.fill_between(x, lo, hi, alpha=0.2)
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o-", capsize=4)
        ax.axhline(0, color="black", lw=1)
        label = _LABELS.get(metric, metric_label(metric))
        ax.set_title(f"Δ {label}", fontsize=11, loc="left")
        unit = metric_unit(metric) or ("money" if "revenue" in metric else "")
        if unit == "share":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
        elif unit.startswith("money"):
            _money_axis(ax)
            ax.set_ylabel(currency + ("/month" if unit == "money_month" else ""))
        ax.set_xlabel("satisfaction raised by (0-1 scale)")
        _dose_ticks(ax, x)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle("Dose-response: paired effect of raising satisfaction (95 % intervals)")
    return fig


def decomposition_bars(
    conditions: pd.DataFrame, currency: str = "USD", relative: bool = True
) -> Figure:
    """Stacked parts of the change in revenue per opening account for each condition, the
    total's 95 % interval as an error bar. ``conditions``: :func:`simlib.lab.run_conditions`
    (``condition, part, mean, ci_low, ci_high, baseline_revenue``). ``relative``: in % of each
    condition's baseline revenue per opening account, so that books with very different prices
    share one axis; otherwise in currency."""
    labels = list(pd.unique(conditions["condition"]))
    parts = ("retention", "within", "mix")
    from . import _colors

    colors = _colors(list(parts))
    fig, ax = _fig(1, 1, (10, 0.55 * len(labels) + 2.2))
    y = np.arange(len(labels))
    pos = np.zeros(len(labels))
    neg = np.zeros(len(labels))
    table = conditions.set_index(["condition", "part"])
    scale = np.ones(len(labels))
    if relative:
        scale = np.array([float(table.loc[(c, "total"), "baseline_revenue"]) for c in labels])

    def values(part: str, col: str = "mean") -> np.ndarray:
        return np.array([float(table.loc[(c, part), col]) for c in labels]) / scale

    for part in parts:
        vals = values(part)
        left = np.where(vals >= 0, pos, neg)
        ax.barh(y, vals, left=left, color=colors[part], label=_LABELS[part], height=0.6)
        pos += np.where(vals >= 0, vals, 0)
        neg += np.where(vals < 0, vals, 0)
    tot, lo, hi = values("total"), values("total", "ci_low"), values("total", "ci_high")
    ax.errorbar(tot, y, xerr=[tot - lo, hi - tot], fmt="D", color="black", capsize=4, label="total")
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    if relative:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.set_xlabel("change in revenue per opening account (% of the baseline's)")
    else:
        _money_axis(ax, "x")
        ax.set_xlabel(f"change in revenue per opening account ({currency}, over the horizon)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=9)
    ax.set_title(
        "Where satisfaction turns into ARPU, and where only into retention", pad=48, loc="left"
    )
    return fig


def naive_vs_causal(table: pd.DataFrame, currency: str = "USD") -> Figure:
    """The CRM regression's slope beside the intervention's causal slope (currency per month
    per unit of satisfaction), 95 % intervals; ``table``: :func:`simlib.lab.naive_vs_causal`."""
    rows = table.set_index("estimate")
    names = [("naive", "CRM regression (survivors)")]
    if "within_segment" in rows.index:
        names.append(("within_segment", "CRM regression within segments"))
    names.append(("causal", "intervention (causal, per account)"))
    fig, ax = _fig(1, 1, (9, 2.6))
    for i, (key, _label) in enumerate(names):
        r = rows.loc[key]
        err = None
        if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]):
            err = [[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]]
        ax.errorbar(r["mean"], i, xerr=err, fmt="o", capsize=5, ms=8)
    ax.set_yticks(range(len(names)), [n[1] for n in names])
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=1)
    _money_axis(ax, "x")
    ax.set_xlabel(f"ARPA per unit of satisfaction ({currency}/month per unit, 0-1 scale)")
    ax.set_title("What the CRM would show, and what raising satisfaction does", loc="left")
    return fig


def churn_floor(curve: pd.DataFrame, currency: str | None = None) -> Figure:
    """Left: revenue per opening account bought by one point less monthly churn and by one
    point more monthly expansion, simulated (95 % intervals) with the closed form beside it.
    Right: what cutting churn to zero could still add (closed form) against what the
    expansion push adds (simulated). ``curve``: :func:`simlib.lab.churn_floor_curve`."""
    cur = currency or str(curve.attrs.get("currency", "USD"))
    fig, (left, right) = _fig(1, 2, (12, 4.6))
    c = curve.sort_values("churn")
    x = 100 * c["churn"].to_numpy()
    between = 100 * (c["churn"] + c["churn_next"]).to_numpy() / 2  # a step to the next level
    for col, label, style in (
        ("per_point_churn", "one point less churn", "o-"),
        ("per_point_expansion", "one point more expansion", "s-"),
    ):
        xs = between if col == "per_point_churn" else x
        y = c[col].to_numpy(dtype=float)
        lo, hi = c[f"{col}_low"].to_numpy(dtype=float), c[f"{col}_high"].to_numpy(dtype=float)
        ok = np.isfinite(y)
        yerr = [np.where(np.isfinite(lo), y - lo, 0)[ok], np.where(np.isfinite(hi), hi - y, 0)[ok]]
        line = left.errorbar(
            xs[ok], y[ok], yerr=yerr, fmt=style, capsize=4, label=f"{label} (simulated)"
        )
        left.plot(
            xs,
            c[f"closed_{col}"],
            ls="--",
            color=line[0].get_color(),
            label=f"{label} (closed form)",
        )
    left.set_xlabel("monthly logo churn (%)")
    left.set_ylabel(f"{cur} per opening account")
    _money_axis(left)
    left.invert_xaxis()
    left.set_title("Marginal revenue per point", fontsize=11, loc="left")
    left.legend(fontsize=8)
    right.plot(x, c["retention_headroom"], "o--", label="cutting churn to zero could add")
    push = c["push_gain"].to_numpy(dtype=float)
    right.errorbar(
        x,
        push,
        yerr=[push - c["push_gain_low"].to_numpy(), c["push_gain_high"].to_numpy() - push],
        fmt="s-",
        capsize=4,
        label="the expansion push adds (simulated)",
    )
    right.axvline(1.0, color="grey", ls=":", lw=1)
    right.set_xlabel("monthly logo churn (%)")
    right.set_ylabel(f"{cur} per opening account")
    _money_axis(right)
    right.invert_xaxis()
    right.set_title("What is left to win", fontsize=11, loc="left")
    right.legend(fontsize=8)
    fig.suptitle("The churn floor: retention against expansion as churn falls")
    return fig
