"""The hypothesis lab: does raising satisfaction raise ARPU, or mostly keep accounts longer?

The lab answers the question by *intervention*, not correlation: it raises satisfaction on
purpose and measures what follows, with common random numbers (every run of a lab experiment
uses the same seed, so replication ``r`` of the baseline and of the raised book face the same luck
account by account; see :mod:`simlib.compare`). Intervals are paired Student-t intervals of the
per-replication differences.

**The intervention** (:func:`intervention_overrides`). ``uplift`` (the default) sets
``satisfaction.uplift = dose``: satisfaction drifts toward ``fit + dose`` instead of the account's
product fit (0-1 scale), like a satisfaction programme that lifts every account without changing
who the customers are. The churn link measures satisfaction against fit (``churn.satisfaction_
effect x (fit - satisfaction)``), so this reaches churn, offer intent, usage and loyalty alike.
``fit`` raises every segment's mean product fit by ``dose`` instead (better-fitting customers):
satisfaction rises, but so does the reference the churn link compares it with, so that dose
reaches only what reads satisfaction directly (offer intent and targeting, alert thresholds,
loyalty stages).

**Revenue per opening account and its exact decomposition** (:func:`decompose_revenue`). The
cohort is the opening book (accounts alive at month 0, ``N0`` of them), the same accounts in both
runs; accounts that arrive later are left out, so their number cannot blur the comparison.
With ``S_t`` the share of the cohort alive at month ``t`` and ``A_t`` the ARPA of those survivors
(currency per month), revenue per opening account over the horizon ``H`` is

    R = sum_{t=0}^{H-1} S_t x A_t            (currency per opening account)

and the change from baseline (0) to the raised book (1) splits exactly, with midpoint (Shapley)
weights for a product of two factors:

    dR = sum_t dS_t x (A0_t + A1_t) / 2      retention: accounts staying longer
       + sum_t (S0_t + S1_t) / 2 x dA_t      expansion: survivors paying more (or less)

``A_t = sum_g w_gt x a_gt`` over segments ``g`` (``w`` the survivors' segment shares, ``a`` each
segment's ARPA), so the expansion part splits again, exactly:

    dA_t = sum_g dw_gt x (a0_gt + a1_gt) / 2   mix: composition of the survivors
         + sum_g (w0_gt + w1_gt) / 2 x da_gt   within: price change inside each segment

Keeping more small accounts gives a negative mix term: ARPA can fall while revenue and LTV rise.
The figures come from the monthly columns ``opening_accounts.SEGMENT`` and
``opening_revenue.SEGMENT`` that runs with ``reporting.opening_cohort: true`` record (the lab
switches it on; it changes no outcome).

**What the CRM would show** (:func:`naive_vs_causal`): the ordinary least-squares slope of account
MRR on satisfaction across the accounts alive at the last month (currency per month per unit of
satisfaction), beside the causal slope ``dARPA_end / dmean_satisfaction`` of the intervention
(same units, same survivors' definition).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .compare import ComparisonResult, compare, paired_interval, replication_metrics
from .engine import Actor, register_actor
from .errors import UserInputError
from .experiment import CacheArg, ExecutorArg
from .metrics import Metric, define_view, metric_view, register_metric
from .results import SimulationResult
from .run_options import (
    RunOptions,
    accepts_run_options,
    accepts_run_options_except,
    as_overrides,
)
from .scenario import Scenario, load_scenario
from .stats import mean_ci

__all__ = [
    "CONDITIONS",
    "DECOMPOSITION_PARTS",
    "INTERVENTIONS",
    "LAB_METRICS",
    "DoseResponse",
    "LabExperiment",
    "OpeningCohortTracker",
    "churn_floor_closed_form",
    "churn_floor_curve",
    "cs_roi",
    "cs_verdict",
    "decompose_revenue",
    "decomposition_summary",
    "dose_response",
    "intervention_overrides",
    "lab_metrics",
    "naive_slopes",
    "naive_vs_causal",
    "opening_cohort_paths",
    "run_conditions",
    "run_cs_roi",
    "run_intervention",
    "shifted_fit_overrides",
    "verdict",
]

#: Ways of raising satisfaction (see the module docstring).
INTERVENTIONS = ("uplift", "fit")

#: Figures compared by the lab: the registry's ``lab`` view, the comparison metrics plus revenue
#: per opening account (``revenue_per_opening_account``, currency over the horizon, the ``R`` of
#: the decomposition, registered below as a derived figure).
LAB_METRICS = (
    "arpa_end",
    "ltv_mean",
    "ltv_opening_book",
    "logo_churn_monthly",
    "nrr_12m",
    "net_value",
    "revenue_per_opening_account",
    "mean_satisfaction",
)

#: Parts of the decomposition of dR, in the order they add up (retention + mix + within =
#: total; expansion = mix + within).
DECOMPOSITION_PARTS = ("retention", "expansion", "mix", "within")

#: The conditions of :func:`run_conditions`: label -> (preset, overrides). Same intervention,
#: different ways customers buy.
CONDITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "B2C, no offers": ("b2c_subscription", {}),
    "B2C, relevant offers": ("relevant_cross_sell", {}),
    "B2C, irrelevant offers": ("irrelevant_cross_sell", {}),
    "B2B, no gates": ("b2b_no_friction", {}),
    "B2B, approvals": ("b2b_approval_friction", {"budget.enabled": False}),
    "B2B, approvals + budget cycle": ("b2b_approval_friction", {}),
    "B2B, intent link none": ("b2b_no_friction", {"offers.intent.satisfaction_to_intent": 0.0}),
    "B2B, intent link weak": ("b2b_no_friction", {"offers.intent.satisfaction_to_intent": 1.0}),
    "B2B, intent link strong": ("b2b_no_friction", {"offers.intent.satisfaction_to_intent": 8.0}),
}

ArrayLikeFloat = Sequence[float] | np.ndarray

_OPEN_N = "opening_accounts."
_OPEN_R = "opening_revenue."


# ------------------------------------------------------------------------------------------
# Recording the opening cohort during a run


@register_actor
class OpeningCohortTracker(Actor):
    """Records, each month right after billing, the opening book's accounts alive and the
    revenue they were billed (currency per month), by segment: monthly columns
    ``opening_accounts.SEGMENT`` and ``opening_revenue.SEGMENT``. Switched on by
    ``reporting.opening_cohort``; draws no random numbers, so it changes no outcome."""

    name: ClassVar[str] = "opening_cohort"
    order: ClassVar[int] = 50  # the first actor after billing

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.reporting.opening_cohort

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        for seg in sim.segments:
            sim.ledger.declare(_OPEN_N + seg, integer=True)
            sim.ledger.declare(_OPEN_R + seg)

    def open_month(self, month: int) -> None:
        book = self.sim.book
        rows = np.flatnonzero(book.alive & (book.start_month == 0))
        k = len(self.sim.segments)
        seg = book.segment[rows]
        counts = np.bincount(seg, minlength=k)
        revenue = np.bincount(seg, weights=book.mrr[rows], minlength=k)
        for i, name in enumerate(self.sim.segments):
            self.sim.ledger.set(_OPEN_N + name, month, int(counts[i]))
            self.sim.ledger.set(_OPEN_R + name, month, float(revenue[i]))


def opening_cohort_paths(result: SimulationResult) -> pd.DataFrame:
    """The opening book month by month: one row per (scenario, replication, month, segment) with
    ``accounts`` alive and ``revenue`` billed (currency per month).

    Needs a run with ``reporting.opening_cohort: true`` (the lab's runs have it).
    """
    monthly = result.monthly
    n_cols = [c for c in monthly.columns if c.startswith(_OPEN_N)]
    if not n_cols:
        raise UserInputError(
            f"scenario {result.scenario.name!r} was run without the opening-cohort figures; "
            "run it with reporting.opening_cohort=true (the lab's functions do)"
        )
    frames = []
    for col in n_cols:
        seg = col[len(_OPEN_N) :]
        frames.append(
            pd.DataFrame(
                {
                    "scenario": monthly["scenario"].to_numpy(),
                    "replication": monthly["replication"].to_numpy(),
                    "month": monthly["month"].to_numpy(),
                    "segment": seg,
                    "accounts": monthly[col].to_numpy(dtype=np.float64),
                    "revenue": monthly[_OPEN_R + seg].to_numpy(dtype=np.float64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _cube(result: SimulationResult) -> tuple[list[int], list[str], np.ndarray, np.ndarray]:
    """(replications, segments, accounts[r, t, g], revenue[r, t, g]) of the opening cohort."""
    paths = opening_cohort_paths(result)
    reps = sorted(int(r) for r in pd.unique(paths["replication"]))
    segs = list(pd.unique(paths["segment"]))
    months = int(paths["month"].max()) + 1
    shape = (len(reps), months, len(segs))
    n = np.zeros(shape)
    rev = np.zeros(shape)
    ri = paths["replication"].map({r: i for i, r in enumerate(reps)}).to_numpy()
    gi = paths["segment"].map({s: i for i, s in enumerate(segs)}).to_numpy()
    ti = paths["month"].to_numpy()
    n[ri, ti, gi] = paths["accounts"].to_numpy()
    rev[ri, ti, gi] = paths["revenue"].to_numpy()
    return reps, segs, n, rev


def _revenue_per_opening_account(result: SimulationResult) -> pd.Series:
    """Revenue per opening account over the horizon, per replication: ``R = sum_t S_t A_t``
    (currency; NaN when the run kept no segment paths)."""
    try:
        reps, _, n, rev = _cube(result)
    except UserInputError:
        return pd.Series(dtype=np.float64)
    n0 = n[:, 0, :].sum(axis=1)
    per = np.where(n0 > 0, rev.sum(axis=(1, 2)) / np.where(n0 > 0, n0, 1), np.nan)
    return pd.Series(per, index=reps)


register_metric(
    Metric(
        "revenue_per_opening_account",
        "revenue per opening account",
        "money",
        "higher",
        derive=_revenue_per_opening_account,
    )
)
define_view("lab", LAB_METRICS)


def lab_metrics(result: SimulationResult) -> pd.DataFrame:
    """Per-replication figures of a lab run: the comparison metrics (summary plus
    ``ltv_opening_book``) and the rest of the lab view (``revenue_per_opening_account``)."""
    return replication_metrics(result, metric_view("lab"))


# ------------------------------------------------------------------------------------------
# The intervention


def shifted_fit_overrides(scenario: Scenario, shift: float) -> list[str]:
    """Overrides that raise every segment's mean product fit (0-1 scale) by ``shift``, keeping
    each fit Beta's ``beta``: satisfaction then drifts toward a higher level."""
    out = []
    for name, seg in scenario.segment_table().items():
        fit = seg.fit or scenario.satisfaction.fit
        target = min(max(fit.mean + shift, 0.01), 0.99)
        alpha = target * fit.beta / (1 - target)
        out.append(f"population.segments.{name}.fit.alpha={alpha:.6g}")
    return out


def intervention_overrides(scenario: Scenario, dose: float, kind: str = "uplift") -> list[str]:
    """Overrides raising satisfaction by ``dose`` (0-1 scale): ``uplift`` (satisfaction
    programme, ``satisfaction.uplift``; added to any uplift the scenario has) or ``fit``
    (better-fitting customers, :func:`shifted_fit_overrides`)."""
    if kind not in INTERVENTIONS:
        raise UserInputError(f"unknown intervention {kind!r}; allowed: {', '.join(INTERVENTIONS)}")
    if not -0.9 <= dose <= 0.9 or not math.isfinite(dose):
        raise UserInputError(f"dose must lie in [-0.9, 0.9] (0-1 satisfaction scale), got {dose}")
    if kind == "fit":
        return shifted_fit_overrides(scenario, dose)
    total = scenario.satisfaction.uplift + dose
    if not -0.9 <= total <= 0.9:
        raise UserInputError(f"satisfaction.uplift + dose must lie in [-0.9, 0.9], got {total:g}")
    return [f"satisfaction.uplift={total:.12g}"]


def _lab_scenario(
    scenario: str | Scenario | dict, overrides: Mapping[str, Any] | Sequence[str] | None
) -> Scenario:
    return load_scenario(scenario, [*as_overrides(overrides), "reporting.opening_cohort=true"])


def _treated(base: Scenario, dose: float, kind: str) -> Scenario:
    sc = load_scenario(base, intervention_overrides(base, dose, kind))
    return sc.model_copy(update={"name": f"{base.name}, satisfaction +{dose:g}"})


@dataclass
class LabExperiment:
    """A baseline and the same book with satisfaction raised, run on the same seed.

    ``table``: the lab comparison, one row per metric of :data:`LAB_METRICS` with ``scenario,
    metric, dose, baseline_mean, mean, difference, ci_low, ci_high, half_width, n,
    relative_change``; ``metrics``: per-replication figures of both runs.
    """

    baseline: SimulationResult
    treated: SimulationResult
    dose: float
    kind: str
    table: pd.DataFrame
    metrics: pd.DataFrame
    level: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.baseline.scenario.economics.currency

    def decomposition(self, by_month: bool = False) -> pd.DataFrame:
        return decompose_revenue(self.baseline, self.treated, by_month=by_month)

    def decomposition_summary(self) -> pd.DataFrame:
        return decomposition_summary(self.decomposition(), self.level)

    def naive_vs_causal(self) -> pd.DataFrame:
        return naive_vs_causal(self.baseline, self.treated, self.level)

    def verdict(self) -> str:
        return verdict(self.table, self.decomposition(), self.naive_vs_causal(), self.currency)


def _paired_rows(
    base: pd.DataFrame,
    other: pd.DataFrame,
    name: str,
    dose: float,
    metrics: Sequence[str],
    level: float,
) -> list[dict[str, Any]]:
    a_frame = base.set_index("replication").sort_index()
    b_frame = other.set_index("replication").sort_index()
    common = a_frame.index.intersection(b_frame.index)
    rows = []
    for metric in metrics:
        a = a_frame.loc[common, metric].to_numpy(dtype=np.float64)
        b = b_frame.loc[common, metric].to_numpy(dtype=np.float64)
        ci = paired_interval(a, b, level)
        base_mean = float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")
        rows.append(
            {
                "scenario": name,
                "metric": metric,
                "dose": dose,
                "baseline_mean": base_mean,
                "mean": float(np.nanmean(b)) if np.isfinite(b).any() else float("nan"),
                "difference": ci.mean,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "half_width": ci.half_width,
                "n": ci.n,
                "relative_change": ci.mean / base_mean
                if base_mean and math.isfinite(base_mean)
                else float("nan"),
            }
        )
    return rows


def _options(
    options: RunOptions | None,
    replications: int,
    seed: int,
    overrides: Mapping[str, Any] | Sequence[str] | None,
    executor: ExecutorArg,
    workers: int | None,
    cache: CacheArg,
) -> RunOptions:
    """The lab's run options: ``options`` when given, else from the keywords. The lab applies
    the overrides to the scenarios it builds (:func:`_run` does not apply them again)."""
    if options is not None:
        return options
    return RunOptions.of(replications, seed, overrides, executor, workers, cache=cache)


def _run(scenarios: list[Scenario], opts: RunOptions) -> ComparisonResult:
    return compare(scenarios, options=opts.replace(overrides=()))


@accepts_run_options
def run_intervention(
    scenario: str | Scenario | dict,
    dose: float = 0.1,
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    kind: str = "uplift",
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> LabExperiment:
    """Raise satisfaction by ``dose`` (0-1 scale, see :func:`intervention_overrides`) and
    measure the paired effect on :data:`LAB_METRICS`.

    ``scenario``: a preset, YAML path, mapping or Scenario (the baseline); ``overrides``
    (mapping of dotted keys or ``"key=value"`` strings) apply to every run. All runs use
    replications ``0 .. replications-1`` of ``seed`` (common random numbers); ``executor``,
    ``workers`` and ``cache`` as in :func:`simlib.compare`.
    """
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    base = _lab_scenario(scenario, opts.overrides)
    treated = _treated(base, dose, kind)
    res = _run([base, treated], opts)
    b, t = res.results[base.name], res.results[treated.name]
    mb, mt = lab_metrics(b), lab_metrics(t)
    table = pd.DataFrame(_paired_rows(mb, mt, treated.name, dose, metric_view("lab"), level))
    return LabExperiment(
        baseline=b,
        treated=t,
        dose=dose,
        kind=kind,
        table=table,
        metrics=pd.concat([mb, mt], ignore_index=True),
        level=level,
        extra={"seed": opts.seed, "replications": opts.replications},
    )


@dataclass
class DoseResponse:
    """Effects of several doses against one baseline. ``table``: tidy, one row per (dose,
    metric): ``dose, metric, difference, ci_low, ci_high`` and the columns of
    :class:`LabExperiment`'s table; ``experiments``: dose -> LabExperiment (sharing the
    baseline run)."""

    table: pd.DataFrame
    experiments: dict[float, LabExperiment]
    baseline: SimulationResult

    def decomposition(self) -> pd.DataFrame:
        """:func:`decomposition_summary` of every dose, with a ``dose`` column."""
        frames = []
        for dose, exp in self.experiments.items():
            frame = exp.decomposition_summary()
            frame.insert(0, "dose", dose)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


@accepts_run_options
def dose_response(
    scenario: str | Scenario | dict,
    doses: Sequence[float] = (0.05, 0.1, 0.15, 0.2),
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    kind: str = "uplift",
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> DoseResponse:
    """The effect of raising satisfaction as a function of the dose, each dose paired with one
    baseline run (common random numbers).

    ``scenario``: a preset, YAML path, mapping or Scenario (the baseline); ``overrides``
    (mapping of dotted keys or ``"key=value"`` strings) apply to every run. All runs use
    replications ``0 .. replications-1`` of ``seed`` (common random numbers); ``executor``,
    ``workers`` and ``cache`` as in :func:`simlib.compare`.
    """
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    chosen = sorted({float(d) for d in doses})
    if not chosen or 0.0 in chosen:
        raise UserInputError("doses must name at least one non-zero dose (0 is the baseline)")
    base = _lab_scenario(scenario, opts.overrides)
    treated = [_treated(base, d, kind) for d in chosen]
    res = _run([base, *treated], opts)
    b = res.results[base.name]
    mb = lab_metrics(b)
    rows: list[dict[str, Any]] = []
    experiments = {}
    for dose, sc in zip(chosen, treated, strict=True):
        t = res.results[sc.name]
        mt = lab_metrics(t)
        part = _paired_rows(mb, mt, sc.name, dose, metric_view("lab"), level)
        rows.extend(part)
        experiments[dose] = LabExperiment(
            b, t, dose, kind, pd.DataFrame(part), pd.concat([mb, mt], ignore_index=True), level
        )
    table = pd.DataFrame(rows)
    first = ["dose", "metric", "difference", "ci_low", "ci_high"]
    table = table[first + [c for c in table.columns if c not in first]]
    return DoseResponse(table=table, experiments=experiments, baseline=b)


# ------------------------------------------------------------------------------------------
# Decomposition


def _shapley(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray):
    """``x1 y1 - x0 y0 = dx (y0 + y1)/2 + (x0 + x1)/2 dy`` (exact): the two parts."""
    return (x1 - x0) * (y0 + y1) / 2.0, (x0 + x1) / 2.0 * (y1 - y0)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def decompose_revenue(
    baseline: SimulationResult, treated: SimulationResult, by_month: bool = False
) -> pd.DataFrame:
    """Exact decomposition of the change in revenue per opening account (module docstring).

    Returns one row per replication (paired by replication number) with ``scenario`` (the
    treated run's name), ``replication``, ``baseline_revenue`` and ``revenue`` (R0 and R1,
    currency per opening account over the horizon), ``total = R1 - R0``, ``retention``,
    ``expansion`` (= ``mix + within``), ``mix``, ``within`` (currency per opening account), and
    the ARPA of the surviving opening accounts at the last month: ``baseline_arpa_end``,
    ``arpa_end``, ``arpa_change`` = ``arpa_mix + arpa_within`` (currency per month). With
    ``by_month=True``: one row per (replication, month) with the month's terms (``total`` =
    ``retention + expansion`` for that month) and ``arpa_change``, ``arpa_mix``,
    ``arpa_within`` of that month.
    """
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
    n1, r1 = n1[:, :, order], r1[:, :, order]
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
    return pd.DataFrame(
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


def decomposition_summary(decomposition: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t interval across replications of each part of a per-replication
    decomposition (:func:`decompose_revenue`), per scenario: columns ``scenario, part, mean,
    ci_low, ci_high, half_width, n, share`` (``share``: the part's mean / the total's mean, for
    ``retention`` and ``expansion``). Parts: ``total``, :data:`DECOMPOSITION_PARTS`,
    ``retention_minus_expansion`` (which dominates, paired), ``arpa_change``, ``arpa_mix``,
    ``arpa_within``."""
    rows = []
    for name, part in decomposition.groupby("scenario", sort=False, observed=True):
        values = {p: part[p].to_numpy(dtype=np.float64) for p in ("total", *DECOMPOSITION_PARTS)}
        values["retention_minus_expansion"] = values["retention"] - values["expansion"]
        for p in ("arpa_change", "arpa_mix", "arpa_within"):
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


# ------------------------------------------------------------------------------------------
# What the CRM would show


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
    """The CRM's cross-sectional slope beside the intervention's causal slope, both in currency
    per month per unit of satisfaction (0-1 scale).

    * ``naive``: :func:`naive_slopes` of the baseline run (what a regression on the CRM's
      accounts would report);
    * ``causal``: per replication, ``(ARPA_end(1) - ARPA_end(0)) / (mean_sat_end(1) -
      mean_sat_end(0))`` (both over the accounts alive at the last month, as in the summary);
    * ``naive_minus_causal``: their paired difference (the bias of the regression).

    Columns: ``estimate, mean, ci_low, ci_high, half_width, n`` (Student-t across replications).
    """
    naive = naive_slopes(baseline).set_index("replication")["slope"]
    sb = baseline.summary.set_index("replication").sort_index()
    st = treated.summary.set_index("replication").sort_index()
    common = sb.index.intersection(st.index).intersection(naive.index)
    d_arpa = st.loc[common, "arpa_end"] - sb.loc[common, "arpa_end"]
    d_sat = st.loc[common, "mean_satisfaction"] - sb.loc[common, "mean_satisfaction"]
    causal = (d_arpa / d_sat.where(d_sat.abs() > 1e-9)).to_numpy(dtype=np.float64)
    nv = naive.loc[common].to_numpy(dtype=np.float64)
    rows = []
    for est, x in (("naive", nv), ("causal", causal), ("naive_minus_causal", nv - causal)):
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


# ------------------------------------------------------------------------------------------
# Conditions


@accepts_run_options_except("progress")  # progress here reports conditions, not a bar
def run_conditions(
    dose: float = 0.1,
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    conditions: Mapping[str, tuple[str | Scenario | dict, Mapping[str, Any]]] | None = None,
    kind: str = "uplift",
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    progress: Callable[[str], None] | None = None,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """The same intervention under each condition (default :data:`CONDITIONS`): where
    satisfaction turns into ARPU and where only into retention.

    ``overrides`` apply to every condition (before the condition's own). Returns
    :func:`decomposition_summary` rows plus ``condition`` and the ARPA-end and LTV effects as
    parts ``arpa_end`` and ``ltv_opening_book`` (paired differences), one block per condition.
    """
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    chosen = dict(conditions or CONDITIONS)
    frames = []
    for label, (preset, extra) in chosen.items():
        if progress is not None:
            progress(label)
        own = opts.replace(overrides=(*opts.overrides, *as_overrides(extra)))
        exp = run_intervention(preset, dose, kind=kind, level=level, options=own)
        summ = exp.decomposition_summary()
        extra_rows = exp.table[exp.table["metric"].isin(["arpa_end", "ltv_opening_book"])]
        more = pd.DataFrame(
            {
                "scenario": extra_rows["scenario"],
                "part": extra_rows["metric"],
                "mean": extra_rows["difference"],
                "ci_low": extra_rows["ci_low"],
                "ci_high": extra_rows["ci_high"],
                "half_width": extra_rows["half_width"],
                "n": extra_rows["n"],
                "share": float("nan"),
            }
        )
        block = pd.concat([summ, more], ignore_index=True)
        block.insert(0, "condition", label)
        block["baseline_revenue"] = float(exp.decomposition()["baseline_revenue"].mean())
        frames.append(block)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------
# The churn floor


def churn_floor_closed_form(
    churn: ArrayLikeFloat,
    arpa: float,
    horizon_months: int,
    expansion: float = 0.0,
    step: float = 0.01,
) -> pd.DataFrame:
    """Closed form of the churn floor for a homogeneous book with constant monthly churn ``c``
    and survivors' ARPA growing by ``g`` a month (``expansion``):

        R(c, g) = a x sum_{t=0}^{H-1} ((1 - c)(1 + g))^t   (currency per opening account)

    (``a / (1 - r)`` with ``r = (1 - c)(1 + g)`` as H grows without bound). Columns: ``churn``,
    ``revenue`` R(c, g), ``per_point_churn`` = R(c - step/2, g) - R(c + step/2, g) (one point =
    ``step``, one percentage point by default, of monthly churn), ``per_point_expansion`` =
    R(c, g + step/2) - R(c, g - step/2), and ``retention_headroom`` = R(0, g) - R(c, g), what
    cutting churn all the way to zero could still add.
    """
    c = np.asarray(churn, dtype=np.float64)
    h = int(horizon_months)

    def big_r(cc: np.ndarray, g: float) -> np.ndarray:
        q = (1.0 - cc) * (1.0 + g)
        t = np.arange(h)
        return arpa * (q[..., None] ** t).sum(axis=-1)

    half = step / 2.0
    return pd.DataFrame(
        {
            "churn": c,
            "revenue": big_r(c, expansion),
            "per_point_churn": big_r(np.maximum(c - half, 0.0), expansion)
            - big_r(c + half, expansion),
            "per_point_expansion": big_r(c, expansion + half) - big_r(c, expansion - half),
            "retention_headroom": big_r(np.zeros_like(c), expansion) - big_r(c, expansion),
        }
    )


@accepts_run_options
def churn_floor_curve(
    betas: Sequence[float] = (20, 32, 49, 99, 149, 199),
    replications: int = 5,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    scenario: str | Scenario | dict = "churn_floor",
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """The churn floor, simulated: ``scenario`` (default the ``churn_floor`` preset) at each
    churn level ``churn.monthly.beta`` (mean churn probability 1/(1 + beta) with alpha 1),
    without and with its expansion push (``offers.kinds.upsell.enabled``), all on one seed.

    One row per churn level (most churn first): ``beta``, ``churn`` (the realized monthly logo
    churn of the book without the push, mean), ``revenue`` and ``revenue_with_push`` (revenue
    per opening account, currency), ``push_gain`` with ``push_gain_low/high`` (the push's paired
    effect on it), ``per_point_churn`` with ``_low/_high`` (revenue per opening account bought by
    one percentage point less monthly churn, between this level and the next lower one at
    ``churn_next``: paired revenue difference / churn difference in points; the closed form is
    taken half-way between the two), ``per_point_expansion`` with ``_low/_high``
    (push gain per percentage point of monthly ARPA growth of the surviving opening accounts it
    adds), the closed form's ``closed_per_point_churn`` and ``closed_per_point_expansion`` at
    the realized churn and the book's opening ARPA, and ``retention_headroom`` (closed form: what
    cutting churn to zero could still add) beside ``push_gain``.
    """
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    levels = sorted({float(b) for b in betas})
    if len(levels) < 2:
        raise UserInputError("the churn floor needs at least two churn levels (betas)")
    common = [*opts.overrides, "reporting.opening_cohort=true"]
    runs: list[Scenario] = []
    for beta in levels:
        for push in (False, True):
            sc = load_scenario(
                scenario,
                [
                    *common,
                    f"churn.monthly.beta={beta:g}",
                    f"offers.kinds.upsell.enabled={'true' if push else 'false'}",
                ],
            )
            runs.append(sc.model_copy(update={"name": f"beta {beta:g}{', push' if push else ''}"}))
    res = _run(runs, opts)
    per: dict[str, pd.DataFrame] = {}
    for sc in runs:
        r = res.results[sc.name]
        m = lab_metrics(r).set_index("replication").sort_index()
        _, _, n, rev = _cube(r)
        tot = n.sum(axis=2)
        a = _safe_div(rev.sum(axis=2), tot)
        months = a.shape[1]
        growth = np.where(a[:, 0] > 0, (a[:, -1] / a[:, 0]) ** (1.0 / max(months - 1, 1)) - 1, 0.0)
        m["arpa_growth"] = growth
        m["arpa_open"] = a[:, 0]
        per[sc.name] = m
    horizon = runs[0].horizon_months
    rows = []
    for i, beta in enumerate(levels):  # most churn (lowest beta) first
        off, on = per[f"beta {beta:g}"], per[f"beta {beta:g}, push"]
        churn = float(off["logo_churn_monthly"].mean())
        gain = paired_interval(
            off["revenue_per_opening_account"], on["revenue_per_opening_account"], level
        )
        d_growth = 100 * (on["arpa_growth"] - off["arpa_growth"])
        per_exp = mean_ci(
            (on["revenue_per_opening_account"] - off["revenue_per_opening_account"])
            / d_growth.where(d_growth.abs() > 1e-9),
            level,
        )
        row: dict[str, Any] = {
            "beta": beta,
            "churn": churn,
            "revenue": float(off["revenue_per_opening_account"].mean()),
            "revenue_with_push": float(on["revenue_per_opening_account"].mean()),
            "push_gain": gain.mean,
            "push_gain_low": gain.low,
            "push_gain_high": gain.high,
            "per_point_expansion": per_exp.mean,
            "per_point_expansion_low": per_exp.low,
            "per_point_expansion_high": per_exp.high,
        }
        nxt = levels[i + 1] if i + 1 < len(levels) else None  # the next lower churn
        if nxt is not None:
            low = per[f"beta {nxt:g}"]
            d_churn = 100 * (off["logo_churn_monthly"] - low["logo_churn_monthly"])
            ci = mean_ci(
                (low["revenue_per_opening_account"] - off["revenue_per_opening_account"])
                / d_churn.where(d_churn.abs() > 1e-12),
                level,
            )
            row.update(
                churn_next=float(low["logo_churn_monthly"].mean()),
                per_point_churn=ci.mean,
                per_point_churn_low=ci.low,
                per_point_churn_high=ci.high,
            )
        else:
            nan = float("nan")
            row.update(
                churn_next=nan,
                per_point_churn=nan,
                per_point_churn_low=nan,
                per_point_churn_high=nan,
            )
        arpa0 = float(off["arpa_open"].mean())
        closed = churn_floor_closed_form([churn], arpa0, horizon)
        between = churn_floor_closed_form([(churn + row["churn_next"]) / 2], arpa0, horizon)
        row["closed_per_point_churn"] = float(between["per_point_churn"].iloc[0])
        row["closed_per_point_expansion"] = float(closed["per_point_expansion"].iloc[0])
        row["retention_headroom"] = float(closed["retention_headroom"].iloc[0])
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["currency"] = runs[0].economics.currency
    out.attrs["horizon_months"] = horizon
    return out


# ------------------------------------------------------------------------------------------
# CS return on investment


def cs_roi(
    without_cs: SimulationResult, with_cs: SimulationResult, level: float = 0.95
) -> pd.DataFrame:
    """What a CS team earns back, paired by replication: ``with_cs`` against ``without_cs`` (the
    same book with no coverage, same seed).

    Rows (currency over the horizon unless said): ``cs_cost`` (what the team cost), ``revenue``
    (revenue it retained or added), ``gross_margin_gained`` (gross margin x that revenue),
    ``net_value`` (margin gained - extra CS and offer cost), ``roi`` (net value gained / extra CS
    cost; -1 = the cost is lost, 0 = break-even), ``mean_satisfaction`` (0-1) and
    ``logo_churn_monthly`` (share per month). Columns ``figure, mean, ci_low, ci_high, n``.
    """
    a = without_cs.summary.set_index("replication").sort_index()
    b = with_cs.summary.set_index("replication").sort_index()
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    margin = with_cs.scenario.economics.gross_margin
    d_cost = (b["cs_cost"] - a["cs_cost"]).to_numpy(dtype=np.float64)
    d_net = (b["net_value"] - a["net_value"]).to_numpy(dtype=np.float64)
    values = {
        "cs_cost": d_cost,
        "revenue": (b["revenue"] - a["revenue"]).to_numpy(dtype=np.float64),
        "gross_margin_gained": margin * (b["revenue"] - a["revenue"]).to_numpy(dtype=np.float64),
        "net_value": d_net,
        "roi": np.where(d_cost > 0, d_net / np.where(d_cost > 0, d_cost, 1.0), np.nan),
        "mean_satisfaction": (b["mean_satisfaction"] - a["mean_satisfaction"]).to_numpy(),
        "logo_churn_monthly": (b["logo_churn_monthly"] - a["logo_churn_monthly"]).to_numpy(),
    }
    rows = []
    for name, x in values.items():
        ci = mean_ci(np.asarray(x, dtype=np.float64), level)
        rows.append(
            {"figure": name, "mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high, "n": ci.n}
        )
    return pd.DataFrame(rows)


@accepts_run_options
def run_cs_roi(
    scenario: str | Scenario | dict = "cs_surveys_only",
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> tuple[pd.DataFrame, ComparisonResult]:
    """A CS team's return: ``scenario`` against the same book with no coverage (policy none,
    no CSMs), on one seed. Returns (:func:`cs_roi` table, the comparison)."""
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    with_cs = load_scenario(scenario, list(opts.overrides))
    without = load_scenario(with_cs, ["coverage.policy=none", "coverage.csm.count=0"])
    without = without.model_copy(update={"name": f"{with_cs.name}, no CS team"})
    res = _run([without, with_cs], opts)
    return cs_roi(res.results[without.name], res.results[with_cs.name], level), res


def cs_verdict(roi: pd.DataFrame, currency: str = "USD") -> str:
    """Plain-language reading of a :func:`cs_roi` table: what the team cost, what it retained,
    and whether it earns its cost back (the interval of the net value gained against zero)."""
    r = roi.set_index("figure")
    cost, rev, net, ratio = (r.loc[k] for k in ("cs_cost", "revenue", "net_value", "roi"))
    text = (
        f"The CS team cost {_money(cost['mean'], currency)} over the horizon and changed revenue "
        f"by {_ci_text(rev['mean'], rev['ci_low'], rev['ci_high'], currency)}; net of its cost "
        f"the business gained {_ci_text(net['mean'], net['ci_low'], net['ci_high'], currency)} "
        f"(ROI {ratio['mean']:+.0%} of the cost)"
    )
    sign = _sure(net["ci_low"], net["ci_high"])
    if sign == "up":
        return text + ": it pays for itself."
    if sign == "down":
        return text + ": it does not earn its cost back."
    return text + ": the interval includes break-even, so whether it pays is not yet clear."


# ------------------------------------------------------------------------------------------
# The verdict


def _decimals(*values: float) -> int:
    """Decimals to show a group of money figures alike: none from 100 up, else two."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    return 0 if finite and max(finite) >= 100 else 2


def _money(x: float, currency: str, decimals: int | None = None) -> str:
    d = _decimals(x) if decimals is None else decimals
    return f"{x:,.{d}f} {currency}"


def _ci_text(mean: float, low: float, high: float, currency: str) -> str:
    """``mean currency [low to high]`` (the interval left out when undefined)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return _money(mean, currency)
    d = _decimals(mean, low, high)
    return f"{mean:,.{d}f} {currency} [{low:,.{d}f} to {high:,.{d}f}]"


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
) -> str:
    """The plain-language answer, computed from the numbers (never a fixed sentence).

    ``table``: a :class:`LabExperiment` table (one dose); ``decomposition``: its per-replication
    :func:`decompose_revenue`; ``naive_causal``: :func:`naive_vs_causal` (optional). Says how
    much revenue per opening account the rise in satisfaction bought, whether its interval
    excludes zero, which of retention and expansion dominates (and whether that is sure: the
    paired interval of retention - expansion excludes zero), what happened to ARPA (and how
    much of that is the survivors' mix), and how far the CRM's regression is from the causal
    effect.
    """
    if decomposition.empty or table.empty:
        raise UserInputError("the verdict needs a lab table and its decomposition")
    summ = decomposition_summary(decomposition, level).set_index("part")
    rows = table.set_index("metric")
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
    lines = []
    head = (
        f"Raising satisfaction by {dose:g} (the survivors' mean satisfaction moved "
        f"{d_sat:+.3f}) changed revenue per opening account by "
        f"{_ci_text(tot['mean'], tot['ci_low'], tot['ci_high'], currency)} ({rel:+.1%} of "
        f"{_money(base_r, currency)}, {pct} interval)"
    )
    if direction is None:
        head += ": the interval includes zero, so the simulation cannot tell a gain from no effect."
    else:
        head += f": the interval excludes zero, revenue goes {direction}."
    lines.append(head)
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
    lines.append(
        f"{bigger.capitalize()} ({what[bigger]}) dominates: "
        f"{_ci_text(summ.loc[bigger, 'mean'], summ.loc[bigger, 'ci_low'], summ.loc[bigger, 'ci_high'], currency)}"
        f" against {smaller} "
        f"{_ci_text(summ.loc[smaller, 'mean'], summ.loc[smaller, 'ci_low'], summ.loc[smaller, 'ci_high'], currency)}"
        f" ({share:.0%} of the two parts in size); "
        + (
            "the paired interval of their difference excludes zero, so this ranking is sure."
            if sure
            else "the paired interval of their difference includes zero, so the ranking is not sure."
        )
    )
    arpa = summ.loc["arpa_change"]
    arpa_dir = _sure(arpa["ci_low"], arpa["ci_high"])
    arpa_text = (
        f"ARPA of the surviving opening accounts at the last month changed by "
        f"{_ci_text(arpa['mean'], arpa['ci_low'], arpa['ci_high'], currency + '/month')}"
    )
    mix = summ.loc["arpa_mix"]["mean"]
    within = summ.loc["arpa_within"]["mean"]
    arpa_text += (
        f" (price change within segments {within:+,.2f}, survivors' segment mix {mix:+,.2f})"
    )
    if arpa_dir is None:
        arpa_text += ": no measurable rise in ARPU."
    elif arpa_dir == "up":
        arpa_text += ": satisfaction measurably raises ARPU."
    else:
        arpa_text += ": ARPU measurably falls"
        arpa_text += " because more small accounts stay." if mix < 0 and mix < within else "."
    lines.append(arpa_text)
    if "logo_churn_monthly" in rows.index:
        r = rows.loc["logo_churn_monthly"]
        lines.append(
            f"Monthly logo churn changed by {100 * r['difference']:+.2f} points "
            f"[{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]"
            + (
                f"; LTV of an opening account by "
                f"{_ci_text(rows.loc['ltv_opening_book', 'difference'], rows.loc['ltv_opening_book', 'ci_low'], rows.loc['ltv_opening_book', 'ci_high'], currency)}."
                if "ltv_opening_book" in rows.index
                else "."
            )
        )
    if naive_causal is not None and not naive_causal.empty:
        nc = naive_causal.set_index("estimate")
        naive, causal = nc.loc["naive"], nc.loc["causal"]
        bias = nc.loc["naive_minus_causal"]
        unit = f"{currency}/month per unit of satisfaction"
        text = (
            f"A regression of MRR on satisfaction across the CRM's surviving accounts would "
            f"report {naive['mean']:+,.0f} {unit}; the intervention shows {causal['mean']:+,.0f} "
            f"[{causal['ci_low']:+,.0f}, {causal['ci_high']:+,.0f}]"
        )
        if _sure(bias["ci_low"], bias["ci_high"]) is None:
            text += ": the two agree within the interval."
        else:
            text += (
                f": the regression is off by {bias['mean']:+,.0f} (interval excludes zero): it "
                "reads who the satisfied accounts are (bigger, better served, survivors) as "
                "what satisfaction does."
                if bias["mean"] > 0
                else f": the regression is off by {bias['mean']:+,.0f} (interval excludes zero)."
            )
        lines.append(text)
    return "\n".join(lines)
