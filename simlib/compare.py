"""Paired comparisons of scenarios with common random numbers.

Every scenario runs the same replications ``0 .. n-1`` under the same seed, so replication ``r``
of each scenario faces the same luck account by account (:mod:`simlib.rng`): the per-replication
differences ``d_r = x_B,r - x_A,r`` cancel most of the noise both share. For each scenario B
against the baseline A (the first scenario) and each metric:

* paired interval: the Student-t interval of the differences,
  ``mean(d) +- t_{n-1, (1 + level)/2} x sd(d) / sqrt(n)``;
* unpaired half-width, for reference: Welch's interval of the difference of two independent means,
  ``t_{nu, (1 + level)/2} x sqrt(s_A^2 / n_A + s_B^2 / n_B)`` with the Welch–Satterthwaite degrees
  of freedom ``nu = (s_A^2/n_A + s_B^2/n_B)^2 / ((s_A^2/n_A)^2/(n_A-1) + (s_B^2/n_B)^2/(n_B-1))``.

Their ratio (unpaired / paired) is how many times narrower common random numbers make the answer;
without them it would take that ratio squared as many replications to be as sure.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import stdtrit

from .errors import SimlibError, UserInputError
from .experiment import (
    CacheArg,
    ExecutorArg,
    MultiRun,
    adaptive_replications,
    check_targets,
    intervals,
)
from .metrics import ID_COLUMNS, derived_figures, metric_view
from .metrics import METRICS as REGISTERED_METRICS
from .results import SimulationResult, atomic_folder, package_versions
from .run_options import DEFAULT_MAX_REPLICATIONS, RunOptions, accepts_run_options
from .scenario import Scenario, load_scenario, scenario_hash
from .stats import Interval, mean_ci

__all__ = [
    "COMPARISON_COLUMNS",
    "METRICS",
    "ComparisonResult",
    "compare",
    "comparison_table",
    "load_scenarios",
    "paired_interval",
    "replication_metrics",
    "welch_interval",
]

#: Columns of the comparison table (CONTRACT.md).
COMPARISON_COLUMNS = (
    "scenario",
    "metric",
    "baseline_mean",
    "mean",
    "difference",
    "paired_ci_low",
    "paired_ci_high",
    "paired_half_width",
    "unpaired_half_width",
    "relative_change",
)

#: Metrics compared by default: the ``compare`` view of the metric registry
#: (:mod:`simlib.metrics.registry`): summary figures (CONTRACT.md), and ``ltv_opening_book``, the
#: mean LTV of the accounts alive at month 0 (a fixed cohort, unaffected by how many accounts
#: arrive later and how little horizon is left to them). A metric registered with
#: ``views=("compare",)`` joins it (:func:`default_metrics` reads the registry at call time).
METRICS = metric_view("compare")


def default_metrics() -> tuple[str, ...]:
    """The figures compared when none are named: the registry's ``compare`` view."""
    return metric_view("compare")


def welch_interval(a: ArrayLike, b: ArrayLike, level: float = 0.95) -> Interval:
    """Welch's interval for ``mean(b) - mean(a)`` of two independent samples (NaNs dropped).

    Half-width ``t_{nu, (1 + level)/2} x sqrt(s_a^2/n_a + s_b^2/n_b)``, with the
    Welch–Satterthwaite degrees of freedom ``nu`` (module docstring). NaN with fewer than two
    values on either side; zero when both samples are constant.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    nan = float("nan")
    if x.size == 0 or y.size == 0:
        return Interval(nan, nan, nan, nan, min(x.size, y.size), level)
    diff = float(y.mean() - x.mean())
    if x.size < 2 or y.size < 2:
        return Interval(diff, nan, nan, nan, min(x.size, y.size), level)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se2 = va + vb
    if se2 == 0:
        return Interval(diff, diff, diff, 0.0, min(x.size, y.size), level)
    nu = se2**2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(stdtrit(nu, 0.5 + level / 2) * math.sqrt(se2))
    return Interval(diff, diff - half, diff + half, half, min(x.size, y.size), level)


def paired_interval(a: ArrayLike, b: ArrayLike, level: float = 0.95) -> Interval:
    """Student-t interval of the mean of ``b - a``, pair by pair (pairs with a NaN dropped)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} and {y.size}")
    return mean_ci(y - x, level)


def replication_metrics(
    result: SimulationResult, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """The summary table plus the derived figures of the compare view and of ``metrics``,
    such as ``ltv_opening_book`` (mean LTV of the accounts of month 0)."""
    summary = result.summary.copy()
    wanted = dict.fromkeys([*default_metrics(), *(metrics or ())])
    for name, series in derived_figures(result, wanted).items():
        summary[name] = summary["replication"].map(series).astype(np.float64)
    return summary


def load_scenarios(
    scenarios: Sequence[str | Path | dict | Scenario], overrides: list[str] | None = None
) -> list[Scenario]:
    """Load each scenario with the same overrides; names made unique (``name-2``, ...)."""
    loaded = [load_scenario(s, overrides) for s in scenarios]
    seen: dict[str, int] = {}
    out = []
    for scenario in loaded:
        name = scenario.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            k = seen[name]
            while f"{name}-{k}" in seen:
                k += 1
            name = f"{name}-{k}"
            seen[name] = 1
            scenario = scenario.model_copy(update={"name": name})
        out.append(scenario)
    return out


@dataclass
class ComparisonResult:
    """The comparison table, each scenario's :class:`SimulationResult` and how it was run.

    ``table``: one row per (scenario, metric) for each scenario after the first (the baseline),
    columns :data:`COMPARISON_COLUMNS`. ``results``: scenario name -> SimulationResult.
    ``metrics``: per-replication figures of every scenario (summary plus ``ltv_opening_book``).
    """

    table: pd.DataFrame
    results: dict[str, SimulationResult]
    metrics: pd.DataFrame
    baseline: str
    seed: int
    replications: int
    level: float = 0.95
    wall_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def intervals(self) -> pd.DataFrame:
        """Mean and t-interval of every figure of every scenario (see :func:`intervals`)."""
        return intervals(self.metrics, self.level)

    def crn_ratio(self, metric: str = "ltv_mean") -> pd.Series:
        """Unpaired / paired half-width per scenario for ``metric`` (common random numbers' gain)."""
        rows = self.table[self.table["metric"] == metric].set_index("scenario")
        return rows["unpaired_half_width"] / rows["paired_half_width"]

    def manifest(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "scenarios": {
                name: {
                    "scenario_hash": scenario_hash(r.scenario),
                    "simpy_events": r.events_processed,
                    "account_months": r.account_months,
                }
                for name, r in self.results.items()
            },
            "seed": self.seed,
            "replications": self.replications,
            "level": self.level,
            "wall_seconds": round(self.wall_seconds, 3),
            "versions": package_versions(),
            **self.extra,
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write ``comparison.parquet``/``.csv``, ``intervals.parquet``/``.csv``,
        ``summary.parquet``, each scenario's ``resolved/NAME.yaml`` and (last) ``manifest.json``
        into ``out_dir``, atomically (a temporary folder renamed into place)."""
        from .paths import safe_name
        from .scenario import to_yaml

        dest = Path(out_dir)
        with atomic_folder(dest) as tmp:
            self.table.to_parquet(tmp / "comparison.parquet", index=False)
            self.table.to_csv(tmp / "comparison.csv", index=False)
            ints = self.intervals
            ints.to_parquet(tmp / "intervals.parquet", index=False)
            ints.to_csv(tmp / "intervals.csv", index=False)
            self.metrics.to_parquet(tmp / "summary.parquet", index=False)
            (tmp / "resolved").mkdir()
            for name, r in self.results.items():
                (tmp / "resolved" / f"{safe_name(name)}.yaml").write_text(
                    to_yaml(r.scenario), encoding="utf-8"
                )
            (tmp / "manifest.json").write_text(
                json.dumps(self.manifest(), indent=2, ensure_ascii=False, default=str),
                encoding="utf-8",
            )
        return dest


def _table(
    frames: dict[str, pd.DataFrame], baseline: str, metrics: Sequence[str], level: float
) -> pd.DataFrame:
    base = frames[baseline].set_index("replication").sort_index()
    rows = []
    for name, frame in frames.items():
        if name == baseline:
            continue
        other = frame.set_index("replication").sort_index()
        common = base.index.intersection(other.index)
        for metric in metrics:
            a = base.loc[common, metric].to_numpy(dtype=np.float64)
            b = other.loc[common, metric].to_numpy(dtype=np.float64)
            paired = paired_interval(a, b, level)
            welch = welch_interval(a, b, level)
            base_mean = float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")
            mean = float(np.nanmean(b)) if np.isfinite(b).any() else float("nan")
            rows.append(
                {
                    "scenario": name,
                    "metric": metric,
                    "baseline_mean": base_mean,
                    "mean": mean,
                    "difference": paired.mean,
                    "paired_ci_low": paired.low,
                    "paired_ci_high": paired.high,
                    "paired_half_width": paired.half_width,
                    "unpaired_half_width": welch.half_width,
                    "relative_change": paired.mean / base_mean
                    if base_mean and math.isfinite(base_mean)
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def comparison_table(
    results: Mapping[str, SimulationResult] | Sequence[SimulationResult],
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """The comparison table of finished results, each against the first (see :func:`compare`).

    Results must come from runs with the same seed (common random numbers); replication ``r``
    of each is paired with replication ``r`` of the baseline. Keys of a mapping are the names
    used in the ``scenario`` column (a sequence uses each result's scenario name).
    """
    items = dict(results) if isinstance(results, Mapping) else {r.scenario.name: r for r in results}
    if len(items) < 2:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    chosen = list(metrics or default_metrics())
    frames = {name: replication_metrics(r, chosen) for name, r in items.items()}
    return _table(frames, next(iter(items)), chosen, level)


@accepts_run_options
def compare(
    scenarios: Sequence[str | Path | dict | Scenario],
    replications: int = 10,
    seed: int = 0,
    overrides: list[str] | None = None,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    *,
    scheduler: str | None = None,
    cache: CacheArg = None,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    target_ci: dict[str, float] | None = None,
    max_replications: int = DEFAULT_MAX_REPLICATIONS,
    progress: bool = False,
    options: RunOptions | None = None,
) -> ComparisonResult:
    """Compare scenarios against the first with common random numbers (paired intervals).

    ``scenarios``: two or more presets, YAML paths, mappings or :class:`Scenario` objects;
    ``overrides`` (``"key=value"``) apply to every one. All run replications ``0 .. n-1`` with
    ``seed``. ``executor``/``workers``/``scheduler``: see :func:`simlib.executors.get_executor`.
    ``cache``: a folder (True: ``.cache/simlib``) where replications are stored once and reused.
    ``metrics``: default :func:`default_metrics` (any registered metric may be named).
    ``target_ci={"ltv_mean": 20.0}``: add replications in
    batches until the paired half-width of each named metric, for every scenario against the
    baseline, is at most its target, or ``max_replications`` is reached (the outcome is in
    ``extra["target_ci"]``). ``options``: the run options at once, as a
    :class:`~simlib.run_options.RunOptions` (instead of the keywords).
    """
    if len(scenarios) < 2:
        raise UserInputError(
            "compare needs at least two scenarios: the baseline first, then the alternatives"
        )
    opts = options or RunOptions.of(
        replications, seed, overrides, executor, workers, scheduler, cache,
        target_ci, max_replications, progress,
    )  # fmt: skip
    chosen = list(metrics or default_metrics())
    allowed = [m for m in REGISTERED_METRICS if m not in ID_COLUMNS]
    unknown = [m for m in chosen if m not in REGISTERED_METRICS]
    if unknown:
        raise UserInputError(f"unknown metric(s) {unknown}; allowed: {', '.join(allowed)}")
    targets = check_targets(opts.targets, allowed) if opts.targets else {}
    loaded = load_scenarios(scenarios, opts.override_list)
    return _compare(loaded, opts, chosen, targets, level)


def _compare(
    loaded: list[Scenario],
    opts: RunOptions,
    chosen: list[str],
    targets: dict[str, float],
    level: float,
) -> ComparisonResult:
    names = [s.name for s in loaded]
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    with MultiRun(loaded, opts, desc="compare") as run:

        def run_more(a: int, b: int) -> None:
            run.extend(a, b)
            failed = run.failures()
            if failed:
                i, out = failed[0]
                raise SimlibError(
                    f"{names[i]}: replication {out.replication} failed: {out.error}"
                    + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
                )

        def frames() -> dict[str, pd.DataFrame]:
            return {n: replication_metrics(run.result(i), chosen) for i, n in enumerate(names)}

        if targets:

            def widths(n: int) -> dict[str, float]:
                table = _table(frames(), names[0], list(targets), level)
                return {
                    m: float(table.loc[table["metric"] == m, "paired_half_width"].max())
                    for m in targets
                }

            report = adaptive_replications(
                opts.replications, targets, opts.max_replications, run_more, widths
            )
            extra["target_ci"] = report.as_dict()
            extra["target_ci"]["applies_to"] = "paired half-width against the baseline"
        else:
            run_more(0, opts.replications)
        results = {n: run.result(i) for i, n in enumerate(names)}
        n_done = run.replications
        extra["reused_replications"] = run.reused
    per_rep = {n: replication_metrics(r, chosen) for n, r in results.items()}
    table = _table(per_rep, names[0], chosen, level)
    return ComparisonResult(
        table=table,
        results=results,
        metrics=pd.concat(per_rep.values(), ignore_index=True),
        baseline=names[0],
        seed=opts.seed,
        replications=n_done,
        level=level,
        wall_seconds=time.perf_counter() - start,
        extra=extra,
    )
