"""The lab's designs: raise satisfaction on purpose and measure what follows.

:func:`run_intervention` (one dose), :func:`dose_response` (several doses against one baseline)
and :func:`run_conditions` (the same intervention under each of :data:`CONDITIONS`), all on one
seed (common random numbers; paired Student-t intervals). The ways of raising satisfaction are
:data:`INTERVENTIONS` (:func:`intervention_overrides`; see :mod:`simlib.lab`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..compare import ComparisonResult, compare, paired_interval
from ..errors import UserInputError
from ..experiment import CacheArg, ExecutorArg
from ..metrics import metric_view
from ..results import SimulationResult
from ..run_options import (
    RunOptions,
    accepts_run_options,
    accepts_run_options_except,
    as_overrides,
)
from ..scenario import Scenario, load_scenario
from .causal import prices_changed
from .decomposition import decompose_revenue, decomposition_summary, naive_vs_causal
from .metrics import lab_metrics
from .narrative import verdict

__all__ = [
    "CONDITIONS",
    "INTERVENTIONS",
    "DoseResponse",
    "LabExperiment",
    "dose_response",
    "intervention_overrides",
    "run_conditions",
    "run_intervention",
    "shifted_fit_overrides",
]

#: Ways of raising satisfaction (see the module docstring).
INTERVENTIONS = ("uplift", "fit")

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
        return verdict(
            self.table,
            self.decomposition(),
            self.naive_vs_causal(),
            self.currency,
            self.level,
            prices_changed=prices_changed(self.baseline, self.treated),
        )


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
