"""Revenue per opening account and its exact decomposition, and what the CRM would show.

:func:`decompose_revenue` splits the change in revenue per opening account into retention and
expansion, and expansion into the survivors' mix and the change within segments, with
midpoint (Shapley) weights (formulas in :mod:`simlib.lab`); :func:`naive_vs_causal` sets the
CRM's cross-sectional regression beside the intervention's causal slope.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserInputError
from ..results import SimulationResult
from ..stats import mean_ci
from .causal import per_account_slopes, within_segment_slopes
from .cohort import _cube

__all__ = [
    "DECOMPOSITION_PARTS",
    "REFERRAL_PARTS",
    "decompose_revenue",
    "decomposition_summary",
    "dominance",
    "dominant_answer",
    "naive_slopes",
    "naive_vs_causal",
]

#: Parts of the decomposition of dR, in the order they add up (retention + mix + within =
#: total; expansion = mix + within).
DECOMPOSITION_PARTS = ("retention", "expansion", "mix", "within")

#: Parts added when loyalty is on (both runs' accounts carry ``referred``): ``referrals``, the
#: change in referred accounts per opening account, and ``referral_revenue``, the change in what
#: every referred account paid over the horizon, per opening account (currency). Referred
#: accounts arrive after month 0, so they are outside the opening cohort's ``total``;
#: ``total_with_referrals = total + referral_revenue``.
REFERRAL_PARTS = ("referrals", "referral_revenue", "total_with_referrals")


def _shapley(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray):
    """``x1 y1 - x0 y0 = dx (y0 + y1)/2 + (x0 + x1)/2 dy`` (exact): the two parts."""
    return (x1 - x0) * (y0 + y1) / 2.0, (x0 + x1) / 2.0 * (y1 - y0)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def _paired_cubes(
    baseline: SimulationResult, treated: SimulationResult
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two runs' (replication, month, segment) cubes of accounts and revenue, segments in
    the baseline's order; refuses runs that cannot be paired."""
    reps0, segs0, n0, r0 = _cube(baseline)
    reps1, segs1, n1, r1 = _cube(treated)
    if reps0 != reps1 or n0.shape[1] != n1.shape[1]:
        raise UserInputError(
            "the two runs must have the same replications and horizon to be paired "
            f"(replications {reps0} and {reps1}, horizons {n0.shape[1]} and {n1.shape[1]})"
        )
    if set(segs0) != set(segs1):
        raise UserInputError(f"the two runs have different segments: {segs0} and {segs1}")
    order = [segs1.index(s) for s in segs0]
    return reps0, n0, r0, n1[:, :, order], r1[:, :, order]


def decompose_revenue(
    baseline: SimulationResult, treated: SimulationResult, by_month: bool = False
) -> pd.DataFrame:
    """Exact decomposition of the change in revenue per opening account (module docstring).

    Returns one row per replication (paired by replication number) with ``scenario`` (the
    treated run's name), ``replication``, ``baseline_revenue`` and ``revenue`` (R0 and R1,
    currency per opening account over the horizon), ``total = R1 - R0``, ``retention``,
    ``expansion`` (= ``mix + within``), ``mix``, ``within`` (currency per opening account), and
    the ARPA of the surviving opening accounts at the last month: ``baseline_arpa_end``,
    ``arpa_end``, ``arpa_change`` = ``arpa_mix + arpa_within`` (currency per month), and with
    loyalty on the :data:`REFERRAL_PARTS` (per opening account). With
    ``by_month=True``: one row per (replication, month) with the month's terms (``total`` =
    ``retention + expansion`` for that month) and ``arpa_change``, ``arpa_mix``,
    ``arpa_within`` of that month.
    """
    reps0, n0, r0, n1, r1 = _paired_cubes(baseline, treated)
    size0 = n0[:, :1, :].sum(axis=2)  # (reps, 1): opening accounts
    size1 = n1[:, :1, :].sum(axis=2)
    tot_n0, tot_n1 = n0.sum(axis=2), n1.sum(axis=2)
    s0, s1 = _safe_div(tot_n0, size0), _safe_div(tot_n1, size1)
    a0, a1 = _safe_div(r0.sum(axis=2), tot_n0), _safe_div(r1.sum(axis=2), tot_n1)
    w0, w1 = _safe_div(n0, tot_n0[:, :, None]), _safe_div(n1, tot_n1[:, :, None])
    g0, g1 = _safe_div(r0, n0), _safe_div(r1, n1)
    retention, expansion = _shapley(s0, s1, a0, a1)
    mix_g, within_g = _shapley(w0, w1, g0, g1)
    arpa_mix, arpa_within = mix_g.sum(axis=2), within_g.sum(axis=2)
    s_bar = (s0 + s1) / 2.0
    mix, within = s_bar * arpa_mix, s_bar * arpa_within
    name = treated.scenario.name
    if by_month:
        months = n0.shape[1]
        return pd.DataFrame(
            {
                "scenario": name,
                "replication": np.repeat(reps0, months),
                "month": np.tile(np.arange(months), len(reps0)),
                "baseline_survival": s0.ravel(),
                "survival": s1.ravel(),
                "baseline_arpa": a0.ravel(),
                "arpa": a1.ravel(),
                "total": (s1 * a1 - s0 * a0).ravel(),
                "retention": retention.ravel(),
                "expansion": expansion.ravel(),
                "mix": mix.ravel(),
                "within": within.ravel(),
                "arpa_change": (a1 - a0).ravel(),
                "arpa_mix": arpa_mix.ravel(),
                "arpa_within": arpa_within.ravel(),
            }
        )
    big0 = (s0 * a0).sum(axis=1)
    big1 = (s1 * a1).sum(axis=1)
    frame = pd.DataFrame(
        {
            "scenario": name,
            "replication": reps0,
            "baseline_revenue": big0,
            "revenue": big1,
            "total": big1 - big0,
            "retention": retention.sum(axis=1),
            "expansion": expansion.sum(axis=1),
            "mix": mix.sum(axis=1),
            "within": within.sum(axis=1),
            "baseline_arpa_end": a0[:, -1],
            "arpa_end": a1[:, -1],
            "arpa_change": a1[:, -1] - a0[:, -1],
            "arpa_mix": arpa_mix[:, -1],
            "arpa_within": arpa_within[:, -1],
        }
    )
    return frame.assign(**_referrals(baseline, treated, reps0, size0[:, 0], big1 - big0))


def _referrals(
    baseline: SimulationResult,
    treated: SimulationResult,
    reps: list[int],
    opening: np.ndarray,
    total: np.ndarray,
) -> dict[str, np.ndarray]:
    """The :data:`REFERRAL_PARTS` columns per replication (none when either run's accounts
    have no ``referred`` column, that is, loyalty off)."""
    acc0, acc1 = getattr(baseline, "accounts", None), getattr(treated, "accounts", None)
    if acc0 is None or acc1 is None or "referred" not in acc0 or "referred" not in acc1:
        return {}

    def per_rep(acc: pd.DataFrame, column: str | None) -> np.ndarray:
        ref = acc[acc["referred"].astype(bool)]
        values = (
            ref.groupby("replication")[column].sum()
            if column
            else ref.groupby("replication").size()
        )
        return values.reindex(reps, fill_value=0).to_numpy(dtype=np.float64)

    count = _safe_div(per_rep(acc1, None) - per_rep(acc0, None), opening)
    revenue = _safe_div(per_rep(acc1, "revenue") - per_rep(acc0, "revenue"), opening)
    return {
        "referrals": count,
        "referral_revenue": revenue,
        "total_with_referrals": total + revenue,
    }


def dominant_answer(summary: pd.DataFrame) -> str:
    """``retention``, ``expansion`` or ``unsure``: the part bigger in size (mean revenue per
    opening account) when the paired interval of retention - expansion excludes zero, else
    ``unsure``. ``summary``: :func:`decomposition_summary` indexed by ``part``."""
    diff = summary.loc["retention_minus_expansion"]
    return dominance(
        float(summary.loc["retention", "mean"]),
        float(summary.loc["expansion", "mean"]),
        float(diff["ci_low"]),
        float(diff["ci_high"]),
    )


def dominance(retention: float, expansion: float, low: float, high: float) -> str:
    """:func:`dominant_answer` from the two parts' means and the interval ``[low, high]`` of
    retention - expansion."""
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 <= high:
        return "unsure"
    return "retention" if abs(retention) >= abs(expansion) else "expansion"


def decomposition_summary(decomposition: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t interval across replications of each part of a per-replication
    decomposition (:func:`decompose_revenue`), per scenario: columns ``scenario, part, mean,
    ci_low, ci_high, half_width, n, share`` (``share``: the part's mean / the total's mean, for
    ``retention`` and ``expansion``). Parts: ``total``, :data:`DECOMPOSITION_PARTS`,
    ``retention_minus_expansion`` (which dominates, paired), ``arpa_change``, ``arpa_mix``,
    ``arpa_within`` and, with loyalty on, :data:`REFERRAL_PARTS`."""
    rows = []
    for name, part in decomposition.groupby("scenario", sort=False, observed=True):
        values = {p: part[p].to_numpy(dtype=np.float64) for p in ("total", *DECOMPOSITION_PARTS)}
        values["retention_minus_expansion"] = values["retention"] - values["expansion"]
        for p in ("arpa_change", "arpa_mix", "arpa_within"):
            values[p] = part[p].to_numpy(dtype=np.float64)
        for p in REFERRAL_PARTS:  # with loyalty on
            if p in part.columns and part[p].notna().any():
                values[p] = part[p].to_numpy(dtype=np.float64)
        total = float(np.mean(values["total"]))
        for p, x in values.items():
            ci = mean_ci(x, level)
            rows.append(
                {
                    "scenario": name,
                    "part": p,
                    "mean": ci.mean,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "half_width": ci.half_width,
                    "n": ci.n,
                    "share": ci.mean / total
                    if p in ("retention", "expansion") and total
                    else float("nan"),
                }
            )
    return pd.DataFrame(
        rows, columns=["scenario", "part", "mean", "ci_low", "ci_high", "half_width", "n", "share"]
    )


def naive_slopes(result: SimulationResult) -> pd.DataFrame:
    """Per replication, the least-squares slope of account MRR (``final_mrr``, currency per
    month) on satisfaction (``final_satisfaction``, 0-1) across the accounts alive at the last
    month: ``scenario, replication, slope, accounts`` (slope in currency per month per unit of
    satisfaction; NaN with fewer than 3 accounts or no spread in satisfaction)."""
    acc = result.accounts
    alive = acc[~acc["churned"].astype(bool)]
    rows = []
    for rep, part in alive.groupby("replication", sort=True):
        x = part["final_satisfaction"].to_numpy(dtype=np.float64)
        y = part["final_mrr"].to_numpy(dtype=np.float64)
        slope = float("nan")
        if x.size >= 3:
            dx = x - x.mean()
            sxx = float(dx @ dx)
            if sxx > 0:
                slope = float(dx @ (y - y.mean())) / sxx
        rows.append(
            {
                "scenario": result.scenario.name,
                "replication": int(rep),
                "slope": slope,
                "accounts": int(x.size),
            }
        )
    return pd.DataFrame(rows, columns=["scenario", "replication", "slope", "accounts"])


def naive_vs_causal(
    baseline: SimulationResult, treated: SimulationResult, level: float = 0.95
) -> pd.DataFrame:
    """The CRM's regressions beside the intervention's causal slope, all in currency per month
    per unit of satisfaction (0-1 scale); formulas in :mod:`simlib.lab.causal`.

    * ``naive``: :func:`naive_slopes` of the baseline run (what a regression on the CRM's
      surviving accounts would report);
    * ``within_segment``: the same regression with one intercept per segment
      (:func:`~simlib.lab.causal.within_segment_slopes`), the fix a strategist can run on their
      own data;
    * ``causal``: the per-account causal slope (:func:`~simlib.lab.causal.per_account_slopes`:
      accounts paired across the two runs by ``account_key``, ``sum dMRR / sum dsatisfaction``
      over the accounts alive at the end of both);
    * ``survivors_ratio``: ``(ARPA_end(1) - ARPA_end(0)) / (mean_sat_end(1) - mean_sat_end(0))``
      over each run's survivors (who survives leaks into it);
    * ``naive_minus_causal``, ``within_segment_minus_causal``: paired differences (the bias).

    Columns: ``estimate, mean, ci_low, ci_high, half_width, n`` (Student-t across replications).
    """
    naive = naive_slopes(baseline).set_index("replication")["slope"]
    within = within_segment_slopes(baseline).set_index("replication")["slope"]
    causal = per_account_slopes(baseline, treated).set_index("replication")["slope"]
    sb = baseline.summary.set_index("replication").sort_index()
    st = treated.summary.set_index("replication").sort_index()
    common = sb.index.intersection(st.index).intersection(naive.index).intersection(causal.index)
    d_arpa = st.loc[common, "arpa_end"] - sb.loc[common, "arpa_end"]
    d_sat = st.loc[common, "mean_satisfaction"] - sb.loc[common, "mean_satisfaction"]
    ratio = (d_arpa / d_sat.where(d_sat.abs() > 1e-9)).to_numpy(dtype=np.float64)
    nv = naive.loc[common].to_numpy(dtype=np.float64)
    wv = within.reindex(common).to_numpy(dtype=np.float64)
    cv = causal.loc[common].to_numpy(dtype=np.float64)
    estimates = (
        ("naive", nv),
        ("within_segment", wv),
        ("causal", cv),
        ("survivors_ratio", ratio),
        ("naive_minus_causal", nv - cv),
        ("within_segment_minus_causal", wv - cv),
    )
    rows = []
    for est, x in estimates:
        ci = mean_ci(x, level)
        rows.append(
            {
                "estimate": est,
                "mean": ci.mean,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "half_width": ci.half_width,
                "n": ci.n,
            }
        )
    return pd.DataFrame(rows)
