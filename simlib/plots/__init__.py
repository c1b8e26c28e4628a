"""Charts of simulation results: one function per chart, each returning a matplotlib Figure.

Every chart uses one theme (:func:`set_theme`, applied on first use), labels its axes with units
(money in the scenario's currency, time in months since the start of the simulation or since
the account started, rates in % per month) and draws 95 % intervals as bands or bars:
across replications for time series (Student-t, as :func:`simlib.mean_ci`), Greenwood for
survival curves (:mod:`simlib.survival`), paired for differences between scenarios.

Functions accept the tidy tables of :class:`simlib.SimulationResult` (``monthly``,
``accounts``, ``summary``) or the comparison table of ``simlib.compare``; several scenarios in
one table are drawn side by side (hue = scenario).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, PercentFormatter
from scipy.special import stdtrit

from ..metrics import metric_label, metric_unit
from ..survival import account_survival
from .data import chart_data

__all__ = [
    "ReportFigure",
    "active_accounts_and_arpa",
    "chart_data",
    "cohort_retention_heatmap",
    "cost_vs_value",
    "csm_headcount",
    "describe_figure",
    "drawn_figures",
    "forest_plot",
    "ltv_distribution",
    "metric_bars",
    "mrr_waterfall",
    "overlaid_mrr",
    "overlaid_survival",
    "satisfaction_distribution",
    "sensitivity_indices",
    "set_theme",
    "survival_by",
    "survival_curves",
    "tornado",
]

_THEMED = False
PALETTE = "colorblind"


#: Families that draw Japanese (and other CJK) scenario names, in order of preference.
CJK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "IPAPGothic",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
)


def _font_families() -> list[str]:
    """DejaVu Sans, then every installed family of :data:`CJK_FAMILIES`: matplotlib falls back
    along a list of concrete families glyph by glyph, but not along a generic family's list,
    and it warns about a listed family that is not installed."""
    from matplotlib import font_manager

    # CJK fonts often lack a bold face; matplotlib then uses the regular one, which is fine,
    # but logs a line per title that would clutter every report
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(f for f in CJK_FAMILIES if f in installed)]


def set_theme() -> None:
    """The kit's one chart theme: seaborn whitegrid, colour-blind palette, readable sizes."""
    global _THEMED
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=PALETTE,
        rc={
            "figure.dpi": 100,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "legend.frameon": False,
            # the first family draws Latin text; the installed CJK ones draw what it lacks
            "font.family": _font_families(),
            "figure.autolayout": False,
        },
    )
    _THEMED = True


_GLYPH_WARNED = False
_MISSING_GLYPH = "missing from font"


class ReportFigure(Figure):
    """A Figure that describes itself in words: its ``repr`` (the text a notebook shows beside
    the image) is :func:`describe_figure`, which reports use as the image's alt text. Drawing
    it turns matplotlib's warning per missing glyph into one warning, in words, per session."""

    chart_number = 0

    def __repr__(self) -> str:
        return describe_figure(self)

    def draw(self, renderer: Any) -> None:
        global _GLYPH_WARNED
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            super().draw(renderer)
        for w in caught:
            if _MISSING_GLYPH in str(w.message):
                if not _GLYPH_WARNED:
                    _GLYPH_WARNED = True
                    warnings.warn(
                        "some chart labels use a script that no installed font draws; those "
                        "characters show as empty boxes (install a font that covers it, e.g. "
                        "Debian's fonts-noto-core or fonts-noto-cjk)",
                        UserWarning,
                        stacklevel=2,
                    )
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


#: Every chart drawn in this session, in order (what :func:`chart_data` writes beside a report).
_DRAWN: list[Figure] = []


def drawn_figures() -> list[Figure]:
    """The charts drawn so far in this session (this process), in order."""
    return list(_DRAWN)


def describe_figure(fig: Figure) -> str:
    """A chart in words (alt text): its title, and each panel's title and axis labels."""
    title = fig.get_suptitle()
    parts = []
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        bits = [t for t in (ax.get_title(), ax.get_title("left")) if t]
        x, y = ax.get_xlabel(), ax.get_ylabel()
        if x:
            bits.append(f"x: {x}")
        if y:
            bits.append(f"y: {y}")
        if bits:
            parts.append("; ".join(bits))
    head = title or (parts[0].split(";")[0] if parts else "chart")
    text = f"Chart: {head}." + (" Panels: " + " | ".join(parts) + "." if parts else "")
    number = getattr(fig, "chart_number", 0)
    return text + (f" Its data: charts/chart-{number:02d}.csv." if number else "")


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (9, 5), **kw: Any):
    if not _THEMED:
        set_theme()
    fig, axes = plt.subplots(
        nrows, ncols, figsize=size, layout="constrained", FigureClass=ReportFigure, **kw
    )
    _DRAWN.append(fig)
    fig.chart_number = len(_DRAWN)
    return fig, axes


class _Money(Formatter):
    """Money ticks in one unit (plain, k, M or B, from the largest tick), all with the same
    number of decimals: the fewest that show every tick exactly (22.5k, not 22k), so distinct
    ticks never share a label; negative ticks with the minus sign U+2212."""

    _UNITS = ((1e9, "B"), (1e6, "M"), (1e4, "k"))
    _MAX_DECIMALS = 6

    @classmethod
    def _unit(cls, largest: float) -> tuple[float, str]:
        for scale, suffix in cls._UNITS:
            if largest >= scale:
                return (1e3 if suffix == "k" else scale), suffix
        return 1.0, ""

    def format_ticks(self, values: Any) -> list[str]:
        values = [float(v) for v in values]
        largest = max((abs(v) for v in values), default=0.0)
        scale, suffix = self._unit(largest)
        tol = 1e-9 * max(largest / scale, 1e-300)  # floating-point noise of the tick values
        scaled = [0.0 if abs(v / scale) <= tol else v / scale for v in values]
        decimals = 0
        while decimals < self._MAX_DECIMALS and (
            any(abs(round(x, decimals) - x) > tol for x in scaled)
            or len({round(x, decimals) for x in scaled}) < len(set(scaled))
        ):
            decimals += 1
        return [f"{x:,.{decimals}f}{suffix}".replace("-", "\u2212") for x in scaled]

    def __call__(self, x: float, pos: int | None = None) -> str:
        scale, suffix = self._unit(abs(x))
        return f"{x / scale:,.{1 if suffix in ('M', 'B') else 0}f}{suffix}".replace("-", "\u2212")


def _money(currency: str) -> _Money:
    return _Money()


class _LogMoney(Formatter):
    """Money ticks of a log axis: each decade in its own unit (10, 100, 1k, 10k, 1M), so a
    wide range never reads ``0.000010M``; ticks between decades are left unlabelled."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if x <= 0 or abs(np.log10(x) - round(np.log10(x))) > 1e-9:
            return ""
        for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if x >= scale:
                return f"{x / scale:,.0f}{suffix}"
        return f"{x:,.0f}" if x >= 1 else f"{x:g}"


def _currency(table: pd.DataFrame, currency: str | None) -> str:
    return currency or str(table.attrs.get("currency", "USD"))


def _band(frame: pd.DataFrame, by: list[str], value: str, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t interval of ``value`` across replications for each ``by`` group."""
    g = frame.groupby(by, observed=True, sort=True)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    t = stdtrit(np.maximum(out["count"] - 1, 1), 0.5 + level / 2)
    half = np.where(out["count"] > 1, t * out["std"] / np.sqrt(out["count"]), 0.0)
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    return out


def _scenarios(table: pd.DataFrame) -> list[str]:
    if "scenario" not in table.columns:
        return ["scenario"]
    return list(pd.unique(table["scenario"].astype(str)))


def _colors(names: Sequence[str]) -> dict[str, Any]:
    pal = sns.color_palette(PALETTE, max(len(names), 1))
    return {n: pal[i % len(pal)] for i, n in enumerate(names)}


# ----------------------------------------------------------------------------------------------
# One scenario


def mrr_waterfall(monthly: pd.DataFrame, currency: str | None = None, title: str | None = None):
    """MRR bridge from month 0 to the last month: opening MRR, + new, + expansion,
    - contraction, - churned, closing MRR (currency per month; means across replications).
    """
    cur = _currency(monthly, currency)
    per_rep = monthly.sort_values("month").groupby("replication")
    opening = per_rep["mrr"].first().mean()
    closing = per_rep["mrr"].last().mean()
    later = monthly[monthly["month"] > 0].groupby("replication")
    reps = max(monthly["replication"].nunique(), 1)

    def total(col: str) -> float:
        return float(later[col].sum().sum() / reps) if len(monthly) else 0.0

    steps = [
        ("Opening MRR\n(month 0)", opening, "total"),
        ("New", total("new_mrr"), "up"),
        ("Expansion", total("expansion_mrr"), "up"),
        ("Contraction", -total("contraction_mrr"), "down"),
        ("Churned", -total("churned_mrr"), "down"),
        (f"Closing MRR\n(month {int(monthly['month'].max())})", closing, "total"),
    ]
    fig, ax = _figure(size=(9, 5))
    colors = {"total": "#4C72B0", "up": "#55A868", "down": "#C44E52"}
    level = 0.0
    highest = 0.0
    for i, (_label, value, kind) in enumerate(steps):
        if kind == "total":
            bottom, height = 0.0, value
            level = value
        else:
            bottom, height = level, value
            level += value
        ax.bar(i, height, bottom=bottom, color=colors[kind], width=0.6)
        top = max(bottom, bottom + height)
        highest = max(highest, top)
        sign = "" if kind == "total" else ("+" if value >= 0 else "−")
        ax.annotate(
            f"{sign}{_money(cur)(abs(value), 0)}",
            (i, top),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=10,
        )
    ax.set_xticks(range(len(steps)), [s[0] for s in steps])
    ax.yaxis.set_major_formatter(_money(cur))
    ax.set_ylabel(f"MRR ({cur} per month)")
    ax.set_title(title or "MRR waterfall: where the recurring revenue went")
    ax.set_ylim(0, highest * 1.12 if highest > 0 else 1)
    return fig


def active_accounts_and_arpa(
    monthly: pd.DataFrame, currency: str | None = None, level: float = 0.95
) -> Figure:
    """Active accounts and ARPA by month: mean across replications with a ``level`` band."""
    cur = _currency(monthly, currency)
    names = _scenarios(monthly)
    colors = _colors(names)
    fig, axes = _figure(1, 2, size=(12, 4.5))
    for ax, col, ylabel, title in (
        (axes[0], "active_accounts", "active accounts", "Active accounts"),
        (axes[1], "arpa", f"ARPA ({cur} per account per month)", "ARPA (MRR per account)"),
    ):
        for name in names:
            part = monthly if "scenario" not in monthly else monthly[monthly["scenario"] == name]
            b = _band(part, ["month"], col, level)
            ax.plot(b["month"], b["mean"], color=colors[name], label=name, lw=2)
            ax.fill_between(b["month"], b["low"], b["high"], color=colors[name], alpha=0.25, lw=0)
        ax.set_xlabel("month since start of simulation")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if col == "arpa":
            ax.yaxis.set_major_formatter(_money(cur))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:,.0f}"))
    if len(names) > 1:
        axes[1].legend(title="scenario")
    fig.suptitle(f"Mean across replications, {int(level * 100)} % band", fontsize=10)
    return fig


def survival_curves(
    table: pd.DataFrame, title: str = "Survival", legend_title: str = "", ax: Any = None
) -> Figure:
    """Draw Kaplan–Meier curves from a :mod:`simlib.survival` table (step lines + bands)."""
    if ax is None:
        fig, ax = _figure(size=(9, 5))
    else:
        fig = ax.figure
    names = [str(n) for n in pd.unique(table["group"])]
    colors = _colors(names)
    for name in names:
        part = table[table["group"].astype(str) == name]
        ax.step(part["time"], part["survival"], where="post", color=colors[name], lw=2, label=name)
        ax.fill_between(
            part["time"],
            part["ci_low"],
            part["ci_high"],
            step="post",
            color=colors[name],
            alpha=0.2,
            lw=0,
        )
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("months since the account started")
    ax.set_ylabel("accounts still subscribed")
    ax.set_title(title)
    if len(names) > 1 or names != ["all"]:
        ax.legend(title=legend_title or None)
    return fig


def survival_by(accounts: pd.DataFrame, by: str | None = "segment", level: float = 0.95) -> Figure:
    """Kaplan–Meier survival of accounts by ``by`` (segment, contract, scenario ...) with
    Greenwood ``level`` bands."""
    table = account_survival(accounts, by=by, level=level)
    what = by.replace("_", " ") if by else "all accounts"
    return survival_curves(
        table,
        title=f"Account survival by {what} (Kaplan–Meier, {int(level * 100)} % Greenwood band)",
        legend_title=what,
    )


def ltv_distribution(
    accounts: pd.DataFrame, by: str | None = "segment", currency: str | None = None
) -> Figure:
    """Distribution of account LTV (discounted gross margin, currency), log scale, by ``by``.

    Accounts still subscribed at the horizon count with the LTV earned so far.
    """
    cur = _currency(accounts, currency)
    data = accounts[accounts["ltv"] > 0]
    fig, ax = _figure(size=(9, 5))
    hue = by if by and by in data.columns and data[by].nunique() > 1 else None
    sns.histplot(
        data=data,
        x="ltv",
        hue=hue,
        log_scale=True,
        element="step",
        stat="count",
        common_norm=False,
        ax=ax,
    )
    ax.xaxis.set_major_formatter(_LogMoney())
    ax.xaxis.set_minor_formatter(_LogMoney())
    ax.set_xlabel(f"LTV per account ({cur}, discounted gross margin, log scale)")
    ax.set_ylabel("accounts (all replications)")
    mean = float(data["ltv"].mean()) if len(data) else float("nan")
    ax.axvline(mean, color="black", ls="--", lw=1)
    ax.annotate(
        f"mean {_money(cur)(mean, 0)}",
        (mean, 1),
        xycoords=("data", "axes fraction"),
        xytext=(4, -14),
        textcoords="offset points",
    )
    ax.set_title("LTV distribution")
    return fig


def cohort_retention_heatmap(
    accounts: pd.DataFrame,
    horizon_months: int | None = None,
    cohort_months: int = 3,
    max_age: int | None = 36,
) -> Figure:
    """Share of each start cohort still subscribed by months since start (pooled replications).

    Cohorts group accounts by start month in blocks of ``cohort_months`` (the opening book,
    month 0, is its own cohort); a cell is blank where the horizon ends before that age.
    """
    if horizon_months is None:
        horizon_months = int((accounts["start_month"] + accounts["lifetime_months"]).max())
    ages = np.arange(0, (max_age or horizon_months) + 1)
    ages = ages[ages < horizon_months]
    start = accounts["start_month"].to_numpy()
    block = np.where(start == 0, -1, (start - 1) // cohort_months)
    life = accounts["lifetime_months"].to_numpy()
    rows, labels = [], []
    for b in np.unique(block):
        mask = block == b
        if b < 0:
            label, first = "opening book (month 0)", 0
        else:
            first = 1 + b * cohort_months
            last = min(first + cohort_months - 1, horizon_months - 1)
            label = f"months {first}–{last}" if last > first else f"month {first}"
        s, lf = start[mask], life[mask]
        row = []
        for a in ages:
            observable = s + a <= horizon_months - 1
            row.append(float(np.mean(lf[observable] > a)) if observable.any() else np.nan)
        rows.append(row)
        labels.append(f"{label}: {mask.sum():,}")
    grid = pd.DataFrame(rows, index=labels, columns=ages)
    fig, ax = _figure(size=(12, max(3.0, 0.35 * len(labels) + 1.5)))
    sns.heatmap(
        grid,
        ax=ax,
        vmin=0,
        vmax=1,
        cmap="viridis",
        yticklabels=True,  # every cohort named (and its row in the chart's data)
        cbar_kws={"label": "share of cohort still subscribed", "format": PercentFormatter(1.0)},
    )
    ax.set_xlabel("months since the account started")
    ax.set_ylabel("start cohort: accounts")
    ax.set_title("Cohort retention")
    return fig


def satisfaction_distribution(accounts: pd.DataFrame) -> Figure:
    """Final satisfaction (health score, 0–1) of accounts subscribed at the horizon vs churned."""
    data = accounts.assign(status=np.where(accounts["churned"], "churned", "subscribed at horizon"))
    fig, ax = _figure(size=(9, 5))
    sns.histplot(
        data=data,
        x="final_satisfaction",
        hue="status",
        hue_order=["subscribed at horizon", "churned"],
        bins=np.linspace(0, 1, 41),
        element="step",
        stat="density",
        common_norm=False,
        ax=ax,
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("satisfaction (health score, 0–1; at churn or at the horizon)")
    ax.set_ylabel("density")
    ax.set_title("Satisfaction distribution")
    return fig


# ----------------------------------------------------------------------------------------------
# Several scenarios


def forest_plot(table: pd.DataFrame, metrics: Sequence[str] | None = None) -> Figure:
    """Paired differences against the baseline with their intervals, one panel per metric.

    ``table``: the comparison table (scenario, metric, difference, paired_ci_low,
    paired_ci_high, baseline_mean ...); the baseline's own rows (difference 0) are left out.
    """
    data = table[table["difference"].notna() | table["paired_ci_low"].notna()]
    chosen = list(metrics) if metrics else list(pd.unique(data["metric"]))
    chosen = [m for m in chosen if m in set(data["metric"])]
    baseline_mask = (data["difference"] == 0) & (data["paired_ci_low"].fillna(0) == 0)
    data = data[~baseline_mask]
    names = list(pd.unique(data["scenario"].astype(str)))
    colors = _colors(names)
    n = max(len(chosen), 1)
    fig, axes = _figure(n, 1, size=(9, 1.0 + n * (0.45 * max(len(names), 1) + 0.9)), squeeze=False)
    for ax, metric in zip(axes[:, 0], chosen, strict=False):
        part = data[data["metric"] == metric]
        for i, name in enumerate(names):
            row = part[part["scenario"].astype(str) == name]
            if row.empty:
                continue
            r = row.iloc[0]
            lo, hi = r["paired_ci_low"], r["paired_ci_high"]
            ax.errorbar(
                r["difference"],
                i,
                xerr=[[r["difference"] - lo], [hi - r["difference"]]] if pd.notna(lo) else None,
                fmt="o",
                color=colors[name],
                capsize=4,
                ms=7,
            )
        ax.axvline(0, color="black", lw=1)
        ax.set_yticks(range(len(names)), names)
        ax.set_ylabel("scenario")
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.invert_yaxis()
        ax.set_title(f"Δ {metric_label(metric)}", fontsize=11, loc="left")
        unit = metric_unit(metric)
        if unit == "share":
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
        elif unit.startswith("money"):
            ax.xaxis.set_major_formatter(_money("USD"))
    axes[-1, 0].set_xlabel("difference from the baseline (paired, 95 % interval)")
    fig.suptitle("Paired differences against the baseline (common random numbers)")
    return fig


def overlaid_survival(accounts: pd.DataFrame, level: float = 0.95) -> Figure:
    """Kaplan–Meier account survival of every scenario on one chart."""
    return survival_by(accounts, by="scenario", level=level)


def overlaid_mrr(monthly: pd.DataFrame, currency: str | None = None, level: float = 0.95) -> Figure:
    """MRR by month of every scenario: mean across replications with a ``level`` band."""
    cur = _currency(monthly, currency)
    names = _scenarios(monthly)
    colors = _colors(names)
    fig, ax = _figure(size=(9, 5))
    for name in names:
        part = (
            monthly[monthly["scenario"].astype(str) == name] if "scenario" in monthly else monthly
        )
        b = _band(part, ["month"], "mrr", level)
        ax.plot(b["month"], b["mean"], color=colors[name], lw=2, label=name)
        ax.fill_between(b["month"], b["low"], b["high"], color=colors[name], alpha=0.2, lw=0)
    ax.yaxis.set_major_formatter(_money(cur))
    ax.set_xlabel("month since start of simulation")
    ax.set_ylabel(f"MRR ({cur} per month)")
    ax.set_title(f"MRR by scenario (mean, {int(level * 100)} % band)")
    ax.legend(title="scenario")
    return fig


def cost_vs_value(summary: pd.DataFrame, currency: str | None = None) -> Figure:
    """Each scenario's CS and offer cost (x) against its net value (y), currency over the
    horizon, means across replications with 95 % intervals."""
    from ..stats import mean_ci

    cur = _currency(summary, currency)
    names = _scenarios(summary)
    colors = _colors(names)
    fig, ax = _figure(size=(9, 5.5))
    for name in names:
        part = summary[summary["scenario"].astype(str) == name]
        cost = mean_ci(part["cs_cost"] + part["offer_cost"])
        value = mean_ci(part["net_value"])
        ax.errorbar(
            cost.mean,
            value.mean,
            xerr=None if np.isnan(cost.half_width) else cost.half_width,
            yerr=None if np.isnan(value.half_width) else value.half_width,
            fmt="o",
            ms=8,
            capsize=4,
            color=colors[name],
            label=name,
        )
    ax.xaxis.set_major_formatter(_money(cur))
    ax.yaxis.set_major_formatter(_money(cur))
    ax.set_xlabel(f"CS + offer cost over the horizon ({cur})")
    ax.set_ylabel(f"net value over the horizon ({cur}: margin − costs)")
    ax.set_title("Cost vs value (mean, 95 % interval)")
    ax.legend(title="scenario")
    ax.margins(0.15)
    return fig


def metric_bars(
    summary: pd.DataFrame, metrics: Sequence[str] = ("ltv_mean", "logo_churn_monthly", "arpa_end")
) -> Figure:
    """Mean of each summary metric per scenario with its 95 % interval, one panel per metric."""
    from ..stats import mean_ci

    names = _scenarios(summary)
    colors = _colors(names)
    metrics = [m for m in metrics if m in summary.columns]
    fig, axes = _figure(
        1,
        max(len(metrics), 1),
        size=(4.2 * max(len(metrics), 1), 0.5 * len(names) + 2.5),
        squeeze=False,
    )
    for ax, metric in zip(axes[0], metrics, strict=False):
        for i, name in enumerate(names):
            ci = mean_ci(summary.loc[summary["scenario"].astype(str) == name, metric])
            ax.barh(i, ci.mean, color=colors[name], alpha=0.85)
            if not np.isnan(ci.half_width):
                ax.errorbar(ci.mean, i, xerr=ci.half_width, color="black", capsize=4)
        ax.set_yticks(range(len(names)), names if ax is axes[0, 0] else [""] * len(names))
        ax.set_ylabel("scenario" if ax is axes[0, 0] else "")
        ax.invert_yaxis()
        ax.set_title(metric_label(metric), fontsize=11)
        if metric_unit(metric) == "share":
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        else:
            ax.xaxis.set_major_formatter(_money("USD"))
    fig.suptitle("Headline metrics by scenario (mean, 95 % interval)")
    return fig


def tornado(result: Any, outcome: str | None = None, currency: str = "USD") -> Figure:
    """Tornado chart of a one-at-a-time sensitivity (``simlib.sensitivity.tornado``).

    ``result``: its TornadoResult (or the table, with columns ``parameter, low, high,
    base_mean, low_mean, high_mean`` and optionally ``low_ci_low`` ... ``high_ci_high``). Each
    bar spans the outcome's mean at the key's low and high value; widest swing on top; the line
    is the base point; whiskers are the 95 % paired intervals of each change from the base
    (``low_effect_half_width``, ``high_effect_half_width``), when the table has them.
    """
    table = result.table if hasattr(result, "table") else result
    outcome = cast(str, outcome or getattr(result, "outcome", "outcome"))
    base = float(getattr(result, "base_mean", table["base_mean"].iloc[0]))
    data = table.assign(swing_abs=(table["high_mean"] - table["low_mean"]).abs())
    data = data.sort_values("swing_abs").reset_index(drop=True)
    fig, ax = _figure(size=(9, 0.7 * len(data) + 2))
    y = np.arange(len(data))
    ax.barh(y, data["low_mean"] - base, left=base, color="#4C72B0", label="at the low value")
    ax.barh(y, data["high_mean"] - base, left=base, color="#DD8452", label="at the high value")
    if {"low_effect_half_width", "high_effect_half_width"} <= set(data.columns):
        for side in ("low", "high"):
            ax.errorbar(
                data[f"{side}_mean"],
                y,
                xerr=data[f"{side}_effect_half_width"].fillna(0),
                fmt="none",
                color="black",
                capsize=3,
                lw=1,
            )
    for i, r in data.iterrows():
        left_side = "low" if r["low_mean"] <= r["high_mean"] else "high"
        for side in ("low", "high"):
            left = side == left_side
            ax.annotate(
                f"{r[side]}",
                (r[f"{side}_mean"], i),
                xytext=(-6 if left else 6, 11),
                textcoords="offset points",
                ha="right" if left else "left",
                va="center",
                fontsize=9,
            )
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(y, data["parameter"])
    unit = metric_unit(outcome)
    if unit == "share":
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
        suffix = ""
    elif unit.startswith("money"):
        ax.xaxis.set_major_formatter(_money(currency))
        suffix = f" ({currency})"
    else:
        suffix = ""
    ax.set_xlabel(
        f"{metric_label(outcome)}{suffix}, mean across replications; line: base point; "
        "whiskers: 95 % paired interval of the change"
    )
    ax.set_title(f"Sensitivity of {metric_label(outcome)}")
    ax.legend(loc="lower right")
    ax.margins(x=0.25)
    return fig


def sensitivity_indices(result: Any, currency: str = "USD") -> Figure:
    """Global sensitivity indices (``simlib.sensitivity.global_sensitivity``) with the noise.

    Morris: a bar per key at ``mu_star`` (mean absolute elementary effect, in the outcome's
    units per the key's range scaled to [0, 1]) with its bootstrap 95 % interval. Sobol': the
    first-order (``S1``) and total (``ST``) indices, shares of the outcome's variance across the
    sample, with their intervals. The dashed line is ``result.noise_floor``, the simulation
    noise on the indices' scale: a bar that does not reach past it may be noise alone.
    """
    table = result.indices.iloc[::-1].reset_index(drop=True)  # largest on top
    outcome = result.outcome
    fig, ax = _figure(size=(9, 0.6 * len(table) + 2.2))
    y = np.arange(len(table))
    pal = sns.color_palette(PALETTE, 2)
    if result.method == "morris":
        ax.barh(y, table["mu_star"], color=pal[0], label="mu* (95 % bootstrap interval)")
        ax.errorbar(
            table["mu_star"],
            y,
            xerr=table["mu_star_conf"].fillna(0),
            fmt="none",
            color="black",
            capsize=3,
            lw=1,
        )
        unit = metric_unit(outcome)
        if unit == "share":
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
            what = "percentage points"
        elif unit.startswith("money"):
            ax.xaxis.set_major_formatter(_money(currency))
            what = currency
        else:
            what = "outcome units"
        ax.set_xlabel(
            f"mu*: mean |elementary effect| of {metric_label(outcome)} ({what} per the key's "
            "full range)"
        )
        title = f"Morris screening of {metric_label(outcome)}"
    else:
        h = 0.38
        bars = [(h / 2, "S1", "first order S1", pal[0]), (-h / 2, "ST", "total ST", pal[1])]
        for off, col, label, color in bars:
            ax.barh(y + off, table[col], height=h, color=color, label=f"{label} (95 % interval)")
            ax.errorbar(
                table[col],
                y + off,
                xerr=table[f"{col}_conf"].fillna(0),
                fmt="none",
                color="black",
                capsize=3,
                lw=1,
            )
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(f"Sobol' index: share of the variance of {metric_label(outcome)} (%)")
        title = f"Sobol' indices of {metric_label(outcome)}"
    floor = float(result.noise_floor)
    if np.isfinite(floor):
        ax.axvline(floor, color="black", ls="--", lw=1, label="simulation noise")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, table["parameter"])
    ax.set_title(f"{title} ({result.replications} replications a point)")
    ax.legend(loc="lower right")
    return fig


def csm_headcount(
    result: Any, metric: str = "net_value", key: str = "coverage.csm.count", currency: str = "USD"
) -> Figure:
    """``metric`` (net value by default: margin less CS and offer costs, currency over the
    horizon) against CSM headcount from a sweep over ``key`` (``simlib.sweep``; its result or
    its table). Left: mean and 95 % t interval at each headcount. Right: the paired difference
    from the best headcount with its 95 % interval (common random numbers: replication r of
    every point shares its luck, so the pairs cancel most of the noise between replications);
    a headcount whose interval holds 0 is not told apart from the best (hollow)."""
    from ..stats import mean_ci

    table = result.table if hasattr(result, "table") else result
    ok = table[table["error"].isna()] if "error" in table.columns else table
    wide = ok.pivot_table(index="replication", columns=key, values=metric, aggfunc="first")
    wide = wide.dropna()  # replications that every point ran, for the paired differences
    x = np.array([float(c) for c in wide.columns])
    level = [mean_ci(wide[c].to_numpy()) for c in wide.columns]
    best = wide.columns[int(np.argmax([ci.mean for ci in level]))]
    diff = [mean_ci((wide[c] - wide[best]).to_numpy()) for c in wide.columns]
    tied = np.array([c != best and not d.high < 0 for c, d in zip(wide.columns, diff, strict=True)])
    fig, axes = _figure(1, 2, size=(12, 5))
    for ax, cis in zip(axes, (level, diff), strict=True):
        mean = np.array([ci.mean for ci in cis])
        half = np.nan_to_num(np.array([ci.half_width for ci in cis]))
        ax.plot(x, mean, color="0.6", lw=1, zorder=1)
        ax.errorbar(x, mean, yerr=half, fmt="none", ecolor="C0", capsize=4, zorder=2)
        ax.scatter(x[~tied], mean[~tied], s=50, color="C0", zorder=3)
        ax.scatter(x[tied], mean[tied], s=50, facecolors="white", edgecolors="C0", zorder=3)
        ax.yaxis.set_major_formatter(_money(currency))
        ax.set_xlabel(f"CSMs ({key})")
        ax.set_xticks(x, [f"{v:g}" for v in x])  # the headcounts swept, never 2.5 CSMs
    axes[1].axhline(0, color="black", lw=0.8)
    axes[0].annotate(f"best: {float(best):g}", (float(best), level[list(wide.columns).index(best)].mean),
                     textcoords="offset points", xytext=(0, 14), ha="center")  # fmt: skip
    axes[0].set_ylabel(f"{metric_label(metric)} ({currency})")
    axes[0].set_title("Mean, 95 % interval")
    axes[1].set_title(f"Paired difference from {float(best):g} CSMs, 95 % interval")
    fig.suptitle("How many CSMs? (hollow: not told apart from the best)")
    return fig
