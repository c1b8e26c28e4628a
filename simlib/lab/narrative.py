"""The lab's narrative: the plain-language verdict of an experiment, computed from its numbers
(never a fixed sentence), and the wording helpers the lab's texts share (whether an interval
excludes zero; money, intervals and percentages written by :mod:`simlib.formatting`, as the
report tables write them: ``−12.9 USD [−20.1 to −5.7]``, the minus sign U+2212, thousands
separators, a difference with its sign, a relative change in %, a change of a share in
percentage points)."""

from __future__ import annotations

import math

import pandas as pd

from ..errors import UserInputError
from ..formatting import (
    decimals_for,
    format_interval,
    format_number,
    format_percent,
    format_plain,
)
from .decomposition import decomposition_summary

__all__ = ["verdict"]


def _money(x: float, currency: str) -> str:
    """A level of money (``54,911 USD``): no sign before a positive number."""
    return format_number(x, "money", currency)


def _ci_text(mean: float, low: float, high: float, currency: str, unit: str = "money") -> str:
    """A difference with its interval, ``+1,266 USD [+941 to +1,591]`` (the interval left out
    when undefined), as the report tables write the same figure."""
    return format_interval(mean, low, high, unit, currency, signed=True)


def _percent(ratio: float, signed: bool = True, decimals: int = 1) -> str:
    """A ratio in % (``+2.3 %``; a relative change, not percentage points)."""
    return format_percent(ratio, signed, decimals)


def _sure(low: float, high: float) -> str | None:
    """'up' / 'down' when the interval excludes zero, None otherwise."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    if low > 0:
        return "up"
    if high < 0:
        return "down"
    return None


def verdict(
    table: pd.DataFrame,
    decomposition: pd.DataFrame,
    naive_causal: pd.DataFrame | None = None,
    currency: str = "USD",
    level: float = 0.95,
    *,
    prices_changed: bool | None = None,
) -> str:
    """The plain-language answer, computed from the numbers (never a fixed sentence).

    ``table``: a :class:`LabExperiment` table (one dose); ``decomposition``: its per-replication
    :func:`decompose_revenue`; ``naive_causal``: :func:`naive_vs_causal` (optional). Says how
    much revenue per opening account the rise in satisfaction bought, whether its interval
    excludes zero, which of retention and expansion dominates (and whether that is sure: the
    paired interval of retention - expansion excludes zero), what happened to ARPA (and how
    much of that is the survivors' mix), what referred accounts brought (with loyalty on), and
    how far the CRM's regressions are from the causal effect. ``prices_changed``
    (:func:`~simlib.lab.causal.prices_changed`): whether any paired account's MRR moved; the
    within-segment term is called a price change only then ("composition within segments"
    when no price moved, "change within segments" when unknown).
    """
    if decomposition.empty or table.empty:
        raise UserInputError("the verdict needs a lab table and its decomposition")
    summ = decomposition_summary(decomposition, level).set_index("part")
    rows = table.set_index("metric")
    lines = [
        _headline(table, rows, summ, decomposition, currency, level),
        _dominance(summ, currency),
        _arpa_line(summ, currency, prices_changed),
    ]
    if "referral_revenue" in summ.index:
        lines.append(_referral_line(summ, currency))
    if "logo_churn_monthly" in rows.index:
        lines.append(_churn_line(rows, currency))
    if naive_causal is not None and not naive_causal.empty:
        lines.append(_regression_line(naive_causal, currency))
    return "\n".join(lines)


def _headline(
    table: pd.DataFrame,
    rows: pd.DataFrame,
    summ: pd.DataFrame,
    decomposition: pd.DataFrame,
    currency: str,
    level: float,
) -> str:
    """What the rise in satisfaction bought in revenue per opening account, and whether its
    interval excludes zero."""
    dose = float(table["dose"].iloc[0]) if "dose" in table.columns else float("nan")
    pct = f"{round(100 * level)} %"
    d_sat = (
        rows.loc["mean_satisfaction", "difference"]
        if "mean_satisfaction" in rows.index
        else float("nan")
    )
    tot = summ.loc["total"]
    base_r = float(decomposition["baseline_revenue"].mean())
    rel = tot["mean"] / base_r if base_r else float("nan")
    direction = _sure(tot["ci_low"], tot["ci_high"])
    head = (
        f"Raising satisfaction by {format_plain(dose)} (the survivors' mean satisfaction moved "
        f"{format_number(d_sat, 'score', signed=True)}) changed revenue per opening account by "
        f"{_ci_text(tot['mean'], tot['ci_low'], tot['ci_high'], currency)} ({_percent(rel)} of "
        f"{_money(base_r, currency)}, {pct} interval)"
    )
    if direction is None:
        head += ": the interval includes zero, so the simulation cannot tell a gain from no effect."
    else:
        head += f": the interval excludes zero, revenue goes {direction}."
    return head


def _dominance(summ: pd.DataFrame, currency: str) -> str:
    """Which of retention and expansion dominates, its share of the two parts in size, and
    whether the ranking is sure (the paired interval of retention - expansion excludes zero)."""
    ret, exp = summ.loc["retention"], summ.loc["expansion"]
    diff = summ.loc["retention_minus_expansion"]
    bigger = "retention" if abs(ret["mean"]) >= abs(exp["mean"]) else "expansion"
    smaller = "expansion" if bigger == "retention" else "retention"
    what = {
        "retention": "accounts staying longer",
        "expansion": "surviving accounts paying more",
    }
    share = (
        abs(summ.loc[bigger, "mean"]) / (abs(ret["mean"]) + abs(exp["mean"]))
        if abs(ret["mean"]) + abs(exp["mean"]) > 0
        else float("nan")
    )
    sure = _sure(diff["ci_low"], diff["ci_high"]) is not None
    big, small = summ.loc[bigger], summ.loc[smaller]
    return (
        f"{bigger.capitalize()} ({what[bigger]}) dominates: "
        f"{_ci_text(big['mean'], big['ci_low'], big['ci_high'], currency)}"
        f" against {smaller} "
        f"{_ci_text(small['mean'], small['ci_low'], small['ci_high'], currency)}"
        f" ({_percent(share, signed=False, decimals=0)} of the two parts in size); "
        + (
            "the paired interval of their difference excludes zero, so this ranking is sure at "
            "the scenario's settings (against the simulation's noise, not against uncertain "
            "links)."
            if sure
            else "the paired interval of their difference includes zero, so the ranking is not sure."
        )
    )


def _within_words(prices_changed: bool | None) -> str:
    """The name of the within-segment term: a price change only where prices changed."""
    if prices_changed is None:
        return "change within segments"
    return "price change within segments" if prices_changed else "composition within segments"


def _arpa_line(summ: pd.DataFrame, currency: str, prices_changed: bool | None = None) -> str:
    """What happened to the surviving opening accounts' ARPA at the last month (currency per
    month), split into the change within segments and the survivors' segment mix; "no
    measurable rise" only when the within-segment change does not measurably rise either."""
    arpa = summ.loc["arpa_change"]
    arpa_dir = _sure(arpa["ci_low"], arpa["ci_high"])
    arpa_text = (
        f"ARPA of the surviving opening accounts at the last month changed by "
        f"{_ci_text(arpa['mean'], arpa['ci_low'], arpa['ci_high'], currency, 'money_month')}"
    )
    mix = summ.loc["arpa_mix"]["mean"]
    inside = summ.loc["arpa_within"]
    within = inside["mean"]
    month = "money_month"
    d = decimals_for(month, [within, mix])  # the two parts alike
    arpa_text += (
        f" ({_within_words(prices_changed)} {format_number(within, month, currency, True, d)}, "
        f"survivors' segment mix {format_number(mix, month, currency, True, d)})"
    )
    within_dir = _sure(inside["ci_low"], inside["ci_high"])
    if arpa_dir is None and within_dir is not None:
        arpa_text += (
            f": within segments ARPA measurably {'rises' if within_dir == 'up' else 'falls'} "
            f"({_ci_text(within, inside['ci_low'], inside['ci_high'], currency, month)}), "
            "while the survivors' mix moves the total the other way or blurs it."
        )
    elif arpa_dir is None:
        arpa_text += ": no measurable rise in ARPU."
    elif arpa_dir == "up":
        arpa_text += ": satisfaction measurably raises ARPU."
    else:
        arpa_text += ": ARPU measurably falls"
        arpa_text += " because more small accounts stay." if mix < 0 and mix < within else "."
    return arpa_text


def _referral_line(summ: pd.DataFrame, currency: str) -> str:
    """What referred accounts (loyalty on) brought, per opening account: their number and their
    revenue over the horizon, and the total with them."""
    ref, rev = summ.loc["referrals"], summ.loc["referral_revenue"]
    total = summ.loc["total_with_referrals"]
    return (
        f"Referrals (loyalty): {format_number(100 * ref['mean'], '', signed=True)} referred "
        "accounts per 100 opening accounts, bringing "
        f"{_ci_text(rev['mean'], rev['ci_low'], rev['ci_high'], currency)} per opening account "
        f"over the horizon; with them, revenue per opening account changed by "
        f"{_ci_text(total['mean'], total['ci_low'], total['ci_high'], currency)}."
    )


def _churn_line(rows: pd.DataFrame, currency: str) -> str:
    """The change in monthly logo churn (percentage points) and, when the table has it, in the
    LTV of an opening account."""
    r = rows.loc["logo_churn_monthly"]
    if "ltv_opening_book" in rows.index:
        ltv = rows.loc["ltv_opening_book"]
        ltv_text = (
            f"; LTV of an opening account by "
            f"{_ci_text(ltv['difference'], ltv['ci_low'], ltv['ci_high'], currency)}."
        )
    else:
        ltv_text = "."
    churn = format_interval(r["difference"], r["ci_low"], r["ci_high"], "share", signed=True)
    return f"Monthly logo churn changed by {churn}" + ltv_text


def _regression_line(naive_causal: pd.DataFrame, currency: str) -> str:
    """The CRM's regression slope beside the intervention's causal slope (currency per month
    per unit of satisfaction), and whether their paired difference excludes zero."""
    nc = naive_causal.set_index("estimate")
    naive, causal = nc.loc["naive"], nc.loc["causal"]
    bias = nc.loc["naive_minus_causal"]
    month = "money_month"

    def slope(x: float) -> str:
        return format_number(x, month, currency, signed=True)

    text = (
        f"A regression of MRR on satisfaction across the CRM's surviving accounts would "
        f"report {slope(naive['mean'])} per unit of satisfaction; the intervention shows "
        f"{_ci_text(causal['mean'], causal['ci_low'], causal['ci_high'], currency, month)}"
        + (" (each account against itself)" if "within_segment" in nc.index else "")
    )
    if _sure(bias["ci_low"], bias["ci_high"]) is None:
        text += ": the two agree within the interval."
    else:
        text += (
            f": the regression is off by {slope(bias['mean'])} (interval excludes zero): it "
            "reads who the satisfied accounts are (bigger, better served, survivors) as "
            "what satisfaction does."
            if bias["mean"] > 0
            else f": the regression is off by {slope(bias['mean'])} (interval excludes zero)."
        )
    if "within_segment" in nc.index and math.isfinite(nc.loc["within_segment", "mean"]):
        w = nc.loc["within_segment"]
        text += (
            f" With one intercept per segment (a regression a CRM export allows) it reports "
            f"{_ci_text(w['mean'], w['ci_low'], w['ci_high'], currency, month)}."
        )
    return text
