"""Sensitivity of an outcome to scenario parameters: a tornado, and global indices (SALib).

* :func:`tornado` (one at a time): from the base scenario, set each parameter to its low and then
  its high value, the others at base. Every point runs the same replications under the same seed
  (common random numbers), so each effect is a paired difference against the base point with its
  own t-interval. Rows are sorted by the swing ``|mean(high) - mean(low)|``, widest first: the
  order of the bars of a tornado chart.
* :func:`global_sensitivity`: Morris elementary effects (Morris 1991; ``mu_star`` after Campolongo
  et al. 2007) or Sobol' indices (Saltelli 2002; Saltelli et al. 2010) computed by SALib over the
  ranges given, all parameters varying together. Each sample point's outcome is the mean of
  ``replications`` replications, all under one seed. Simulation noise enters the indices as if
  it were an effect, so the result reports it beside them: ``noise_sd`` is the standard deviation
  of the outcome across replications at the base point, ``noise_se`` the standard error of a
  point's mean (``noise_sd / sqrt(replications)``). Because every point shares the same random
  numbers, most of that noise is common to all points and cancels in the differences that make
  up the indices; ``noise_se`` is therefore an upper bound on the noise of a Morris elementary
  effect times the step, and a Sobol' index of an outcome whose spread across points is not
  well above ``noise_se`` partly measures noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .compare import paired_interval
from .errors import UserInputError
from .experiment import CacheArg, ExecutorArg
from .metrics import ID_COLUMNS, summary_columns
from .run_options import RunOptions, accepts_run_options
from .scenario import Scenario, load_scenario
from .stats import mean_ci
from .sweep import integer_keys, run_point_list

__all__ = ["GlobalSensitivity", "TornadoResult", "global_sensitivity", "tornado"]


def outcomes() -> tuple[str, ...]:
    """Every summary figure an analysis may take as its outcome (the metric registry)."""
    return tuple(c for c in summary_columns() if c not in ID_COLUMNS)


def _check_outcome(outcome: str) -> None:
    allowed = outcomes()
    if outcome not in allowed:
        import difflib

        close = difflib.get_close_matches(outcome, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserInputError(f"unknown outcome {outcome!r}{hint}; allowed: {', '.join(allowed)}")


@dataclass
class TornadoResult:
    """One row per parameter, widest swing first.

    Columns: ``parameter, low, high, base_mean, low_mean, low_ci_low, low_ci_high, high_mean,
    high_ci_low, high_ci_high, low_effect, low_effect_half_width, high_effect,
    high_effect_half_width, swing, swing_half_width`` (effects are paired differences from the
    base point; ``swing = high_mean - low_mean`` with its paired half-width). ``noise_sd``: the
    outcome's standard deviation across replications at the base point.
    """

    table: pd.DataFrame
    outcome: str
    base_mean: float
    noise_sd: float
    replications: int
    seed: int
    runs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


@accepts_run_options
def tornado(
    scenario: str | Path | dict | Scenario,
    parameters: dict[str, tuple[Any, Any]],
    outcome: str = "ltv_mean",
    replications: int = 10,
    seed: int = 0,
    overrides: list[str] | None = None,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    *,
    scheduler: str | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    progress: bool = False,
    options: RunOptions | None = None,
) -> TornadoResult:
    """One-at-a-time sensitivity: ``parameters = {dotted key: (low, high)}`` around the base.

    See the module docstring; ``outcome`` is a summary figure (default ``ltv_mean``).
    """
    _check_outcome(outcome)
    if not parameters:
        raise UserInputError("tornado needs at least one parameter: {key: (low, high)}")
    points: list[dict[str, Any]] = [{}]
    for key, pair in parameters.items():
        if len(pair) != 2:
            raise UserInputError(f"{key}: give (low, high), got {pair!r}")
        points.append({key: pair[0]})
        points.append({key: pair[1]})
    opts = options or RunOptions.of(
        replications, seed, overrides, executor, workers, scheduler, cache, progress=progress
    )
    result = run_point_list(scenario, points, opts, method="tornado")
    _raise_failures(result.table)
    table = result.table

    def values(point: int) -> np.ndarray:
        rows = table[table["point"] == point].sort_values("replication")
        return rows[outcome].to_numpy(dtype=np.float64)

    base = values(0)
    base_ci = mean_ci(base, level)
    rows = []
    for j, (key, (low, high)) in enumerate(parameters.items()):
        lo_v, hi_v = values(1 + 2 * j), values(2 + 2 * j)
        lo_ci, hi_ci = mean_ci(lo_v, level), mean_ci(hi_v, level)
        lo_eff, hi_eff = paired_interval(base, lo_v, level), paired_interval(base, hi_v, level)
        swing = paired_interval(lo_v, hi_v, level)
        rows.append(
            {
                "parameter": key,
                "low": low,
                "high": high,
                "base_mean": base_ci.mean,
                "low_mean": lo_ci.mean,
                "low_ci_low": lo_ci.low,
                "low_ci_high": lo_ci.high,
                "high_mean": hi_ci.mean,
                "high_ci_low": hi_ci.low,
                "high_ci_high": hi_ci.high,
                "low_effect": lo_eff.mean,
                "low_effect_half_width": lo_eff.half_width,
                "high_effect": hi_eff.mean,
                "high_effect_half_width": hi_eff.half_width,
                "swing": swing.mean,
                "swing_half_width": swing.half_width,
            }
        )
    out = pd.DataFrame(rows)
    out = out.reindex(out["swing"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    sd = float(np.nanstd(base, ddof=1)) if np.isfinite(base).sum() > 1 else float("nan")
    return TornadoResult(
        table=out,
        outcome=outcome,
        base_mean=base_ci.mean,
        noise_sd=sd,
        replications=result.replications,
        seed=opts.seed,
        runs=table,
    )


@dataclass
class GlobalSensitivity:
    """Global sensitivity indices of one outcome, with the simulation noise beside them.

    ``indices``: one row per parameter. Morris: ``mu, mu_star, sigma, mu_star_conf`` (outcome
    units per unit of the parameter's range scaled to [0, 1]); Sobol': ``S1, S1_conf, ST,
    ST_conf`` (shares of variance). Both also carry ``noise_sd`` and ``noise_se`` (module
    docstring); :attr:`noise_floor` puts ``noise_se`` on the indices' scale. ``samples``: the
    points run and their outcome means.
    """

    indices: pd.DataFrame
    method: str
    outcome: str
    noise_sd: float
    noise_se: float
    replications: int
    samples: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    num_levels: int = 4

    @property
    def noise_floor(self) -> float:
        """``noise_se`` on the scale of the indices: an index at or below it may be noise alone.

        Morris: ``noise_se / delta``. An elementary effect is the difference of two point means
        divided by SALib's step ``delta = num_levels / (2 (num_levels - 1))`` (in the range
        scaled to [0, 1]), and ``noise_se`` bounds the noise of that difference (module
        docstring). Sobol': ``noise_se**2 / var``, ``var`` the outcome's variance across the
        sample points: the share of that variance the noise could account for.
        """
        if self.method == "morris":
            return self.noise_se * 2.0 * (self.num_levels - 1) / self.num_levels
        y = self.samples[self.outcome].to_numpy(dtype=np.float64) if len(self.samples) else []
        var = float(np.var(y, ddof=1)) if len(y) > 1 else float("nan")
        return self.noise_se**2 / var if var > 0 else float("inf")


@accepts_run_options
def global_sensitivity(
    scenario: str | Path | dict | Scenario,
    ranges: dict[str, tuple[float, float]],
    outcome: str = "ltv_mean",
    method: Literal["morris", "sobol"] = "morris",
    n: int = 10,
    replications: int = 2,
    seed: int = 0,
    overrides: list[str] | None = None,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    *,
    scheduler: str | None = None,
    cache: CacheArg = None,
    sample_seed: int = 0,
    num_levels: int = 4,
    noise_replications: int = 10,
    progress: bool = False,
    options: RunOptions | None = None,
) -> GlobalSensitivity:
    """Morris or Sobol' indices (SALib) of ``outcome`` over ``ranges = {key: (lo, hi)}``.

    ``n``: Morris trajectories (``n x (parameters + 1)`` points) or the Sobol' base sample size
    (``n x (parameters + 2)`` points; a power of two). ``replications`` per point, all under
    ``seed``; ``noise_replications`` at the base point measure the noise. ``sample_seed`` fixes
    SALib's sample and its bootstrap confidence intervals. Keys whose scenario value is a whole
    number are rounded.
    """
    opts = options or RunOptions.of(
        replications, seed, overrides, executor, workers, scheduler, cache, progress=progress
    )
    _check_global_inputs(outcome, ranges, n)
    names = list(ranges)
    problem = {
        "num_vars": len(names),
        "names": names,
        "bounds": [[float(ranges[k][0]), float(ranges[k][1])] for k in names],
    }
    x = _sample(problem, method, n, num_levels, sample_seed)
    x, points = _round_points(load_scenario(scenario, opts.override_list), names, x)
    run_list, index_of = _unique_points(points)
    reps = max(opts.replications, noise_replications)
    # the base point needs more replications than the others: run it separately
    base_run = run_point_list(scenario, [{}], opts.replace(replications=reps), method="base")
    _raise_failures(base_run.table)
    run = run_point_list(scenario, run_list[1:], opts, method=method)
    _raise_failures(run.table)
    means = run.table.groupby("point")[outcome].mean()
    y = np.array([means.loc[i - 1] for i in index_of], dtype=np.float64)
    base_values = base_run.table[outcome].to_numpy(dtype=np.float64)
    noise_sd = float(np.nanstd(base_values, ddof=1))
    noise_se = noise_sd / math.sqrt(opts.replications)
    indices = _indices(problem, method, x, y, num_levels, sample_seed)
    indices["noise_sd"] = noise_sd
    indices["noise_se"] = noise_se
    samples = pd.DataFrame(x, columns=names)
    samples[outcome] = y
    return GlobalSensitivity(
        indices=indices.reset_index(drop=True),
        method=method,
        outcome=outcome,
        noise_sd=noise_sd,
        noise_se=noise_se,
        replications=opts.replications,
        samples=samples,
        num_levels=num_levels,
    )


def _check_global_inputs(outcome: str, ranges: dict[str, tuple[float, float]], n: int) -> None:
    """A known outcome, at least one range, each with finite LO < HI, and ``n >= 2``."""
    _check_outcome(outcome)
    if not ranges:
        raise UserInputError("global sensitivity needs at least one range: {key: (lo, hi)}")
    for key, (lo, hi) in ranges.items():
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise UserInputError(f"{key}: the range needs LO < HI, got ({lo}, {hi})")
    if n < 2:
        raise UserInputError(f"n must be >= 2, got {n}")


def _sample(
    problem: dict[str, Any], method: str, n: int, num_levels: int, sample_seed: int
) -> np.ndarray:
    """SALib's sample of the parameter space: ``n`` Morris trajectories on ``num_levels``
    levels, or a Sobol' sample of base size ``n`` (a power of two), seeded by ``sample_seed``."""
    if method == "morris":
        from SALib.sample import morris as morris_sample

        return morris_sample.sample(problem, n, num_levels=num_levels, seed=sample_seed)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        if n & (n - 1):
            raise UserInputError(f"the Sobol' sample size n must be a power of two, got {n}")
        return sobol_sample.sample(problem, n, calc_second_order=False, seed=sample_seed)
    raise UserInputError(f"unknown method {method!r}; allowed: morris, sobol")


def _round_points(
    base_scenario: Scenario, names: list[str], sample: np.ndarray
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The sample as floats with the keys whose scenario value is a whole number rounded, and
    as one override mapping per row (ints for those keys)."""
    ints = set(integer_keys(base_scenario, names))
    x = np.array(sample, dtype=np.float64)
    for j, key in enumerate(names):
        if key in ints:
            x[:, j] = np.rint(x[:, j])
    points = [
        {k: (int(row[j]) if k in ints else float(row[j])) for j, k in enumerate(names)} for row in x
    ]
    return x, points


def _unique_points(points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """Identical rows (possible after rounding) are run once: (the points to run, the base
    point ``{}`` first for the noise; each sample row's index into them)."""
    unique: dict[tuple, int] = {}
    run_list: list[dict[str, Any]] = [{}]  # the base point first, for the noise
    index_of: list[int] = []
    for p in points:
        values = tuple(p.values())
        if values not in unique:
            unique[values] = len(run_list)
            run_list.append(p)
        index_of.append(unique[values])
    return run_list, index_of


def _indices(
    problem: dict[str, Any],
    method: str,
    x: np.ndarray,
    y: np.ndarray,
    num_levels: int,
    sample_seed: int,
) -> pd.DataFrame:
    """SALib's analysis of the outcome means ``y`` at the sample ``x``: Morris ``mu, mu_star,
    sigma, mu_star_conf`` sorted by ``mu_star``, or Sobol' ``S1, S1_conf, ST, ST_conf`` sorted
    by ``ST`` (widest first), one row per parameter."""
    names = problem["names"]
    if method == "morris":
        from SALib.analyze import morris as morris_analyze

        res = morris_analyze.analyze(
            problem, x, y, num_levels=num_levels, seed=sample_seed, print_to_console=False
        )
        indices = pd.DataFrame(
            {
                "parameter": names,
                "mu": np.asarray(res["mu"], dtype=np.float64),
                "mu_star": np.asarray(res["mu_star"], dtype=np.float64),
                "sigma": np.asarray(res["sigma"], dtype=np.float64),
                "mu_star_conf": np.asarray(res["mu_star_conf"], dtype=np.float64),
            }
        )
        return indices.sort_values("mu_star", ascending=False)
    from SALib.analyze import sobol as sobol_analyze

    res = sobol_analyze.analyze(
        problem, y, calc_second_order=False, seed=sample_seed, print_to_console=False
    )
    indices = pd.DataFrame(
        {
            "parameter": names,
            "S1": np.asarray(res["S1"], dtype=np.float64),
            "S1_conf": np.asarray(res["S1_conf"], dtype=np.float64),
            "ST": np.asarray(res["ST"], dtype=np.float64),
            "ST_conf": np.asarray(res["ST_conf"], dtype=np.float64),
        }
    )
    return indices.sort_values("ST", ascending=False)


def _raise_failures(table: pd.DataFrame) -> None:
    failed = table[table["error"].notna()]
    if len(failed):
        from .errors import SimlibError

        row = failed.iloc[0]
        raise SimlibError(
            f"point {row['point']} replication {row['replication']} failed: {row['error']}"
            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        )
