"""Parameter sweeps: a full factorial grid or a Latin hypercube over scenario keys.

Each *point* is the base scenario with some dotted keys set (as ``--set KEY=VALUE`` would), run
for replications ``0 .. n-1`` under one seed, so every point shares the same luck account by
account (common random numbers: differences between points are mostly the parameters' effect).
The result is one tidy table, one row per (point, replication): ``point``, every swept key as a
column, then the summary columns of CONTRACT.md and ``error`` (empty unless that replication
failed; a failed point never stops the others).

A Latin hypercube of ``N`` points over ``K`` ranges ``[lo, hi]`` (McKay, Beckman & Conover 1979):
for each key, the range is cut into ``N`` equal strata, each stratum gets one point at a uniform
position inside it, and the strata are matched across keys by independent random permutations,
from ``numpy.random.default_rng(lhs_seed)`` (a fixed seed: the same points every time). Keys whose
scenario value is a whole number are rounded to the nearest integer.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cache import results_key
from .errors import CommandError, ScenarioError, UserInputError
from .experiment import (
    CacheArg,
    ExecutorArg,
    MultiRun,
    ReplicationOutcome,
    adaptive_replications,
    check_targets,
)
from .metrics import ID_COLUMNS, summary_columns
from .plugins import check_plugins
from .results import atomic_folder, package_versions
from .run_options import DEFAULT_MAX_REPLICATIONS, RunOptions, accepts_run_options
from .scenario import Scenario, load_scenario, parse_yaml, scenario_hash, to_yaml
from .stats import mean_ci

__all__ = [
    "SweepResult",
    "grid_points",
    "lhs_points",
    "parse_grid",
    "parse_ranges",
    "point_scenarios",
    "sweep",
]


# --------------------------------------------------------------------------------------------
# Parsing --grid and --range


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["KEY=V1,V2", ...]`` -> ``{KEY: [V1, V2]}``; values are YAML (``KEY=[a, b]`` also works).

    Raises :class:`CommandError` for a missing ``=``, an empty key, an empty axis or value, or a
    key given twice.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"--grid: expected KEY=V1,V2,..., got {item!r}")
        if key in grid:
            raise CommandError(f"--grid: key {key!r} is given twice; list its values once")
        text = text.strip()
        if text.startswith("["):
            values = parse_yaml(text, f"--grid {key}")
            if not isinstance(values, list):
                raise CommandError(f"--grid {key}: expected a list of values, got {text!r}")
        else:
            pieces = [p.strip() for p in text.split(",")] if text else []
            if any(p == "" for p in pieces):
                raise CommandError(f"--grid {key}: empty value in {text!r}")
            values = [parse_yaml(p, f"--grid {key}") for p in pieces]
        if not values:
            raise CommandError(f"--grid {key}: no values; give at least one, as {key}=V1,V2")
        grid[key] = values
    return grid


def parse_ranges(items: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``["KEY=LO:HI", ...]`` -> ``{KEY: (LO, HI)}``; LO <= HI, both finite numbers."""
    ranges: dict[str, tuple[float, float]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        lo_text, colon, hi_text = text.partition(":")
        if not sep or not key or not colon:
            raise CommandError(f"--range: expected KEY=LO:HI, got {item!r}")
        if key in ranges:
            raise CommandError(f"--range: key {key!r} is given twice")
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            raise CommandError(
                f"--range {key}: LO and HI must be numbers, got {lo_text!r} and {hi_text!r}"
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise CommandError(f"--range {key}: LO and HI must be finite, got {text!r}")
        if lo > hi:
            raise CommandError(f"--range {key}: LO must be <= HI, got {lo:g} > {hi:g}")
        ranges[key] = (lo, hi)
    return ranges


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the last key varies fastest)."""
    keys = list(grid)
    for key in keys:
        if len(grid[key]) == 0:
            raise CommandError(f"--grid {key}: no values")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def lhs_points(
    ranges: dict[str, tuple[float, float]],
    n: int,
    seed: int = 0,
    integer_keys: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``n`` Latin hypercube points over ``ranges`` (see the module docstring)."""
    if n < 1:
        raise CommandError(f"--lhs: the number of points must be >= 1, got {n}")
    if not ranges:
        raise CommandError("--lhs needs at least one --range KEY=LO:HI")
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for key, (lo, hi) in ranges.items():
        u = (rng.permutation(n) + rng.random(n)) / n
        values = lo + u * (hi - lo)
        columns[key] = np.rint(values).astype(np.int64) if key in integer_keys else values
    return [
        {k: (int(v[i]) if k in integer_keys else float(v[i])) for k, v in columns.items()}
        for i in range(n)
    ]


# --------------------------------------------------------------------------------------------
# Points -> scenarios


def _value_at(doc: Any, key: str) -> Any:
    node = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def integer_keys(scenario: Scenario, keys: Sequence[str]) -> list[str]:
    """The keys whose value in ``scenario`` is a whole number (not a bool)."""
    doc = scenario.model_dump(mode="python")
    out = []
    for key in keys:
        value = _value_at(doc, key)
        if isinstance(value, int) and not isinstance(value, bool):
            out.append(key)
    return out


def _override(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"


def point_label(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "base"


def point_scenarios(
    scenario: str | Path | dict | Scenario,
    points: Sequence[dict[str, Any]],
    overrides: list[str] | None = None,
) -> list[Scenario]:
    """The scenario of each point: ``overrides`` then the point's keys, validated.

    A point that is not a valid scenario raises :class:`ScenarioError` naming the point and the
    key (with the closest valid key for an unknown one). Points with different values that give
    the same scenario (a key that cannot reach the simulation) raise :class:`UserInputError`.
    """
    out: list[Scenario] = []
    for i, point in enumerate(points):
        extra = [_override(k, v) for k, v in point.items()]
        try:
            s = load_scenario(scenario, [*(overrides or []), *extra])
            check_plugins(s)
        except ScenarioError as exc:
            raise ScenarioError(
                f"{exc.source} at sweep point {i} ({point_label(point)})", exc.problems
            ) from None
        out.append(s)
    if isinstance(scenario, Scenario):
        _check_inherited(scenario, points, out)
    seen: dict[tuple[str, frozenset[str]], dict[str, Any]] = {}
    for point, s in zip(points, out, strict=True):
        h = (results_key(s), frozenset(point))  # points that set the same keys
        if h in seen and seen[h] != point:
            raise UserInputError(
                f"sweep points {point_label(seen[h])!r} and {point_label(point)!r} give the same "
                "scenario: a swept key does not change the simulation (for a key that segments "
                "inherit, pass the scenario by name or path rather than as a resolved Scenario)"
            )
        seen.setdefault(h, point)
    return out


#: Keys that every segment inherits when a scenario is loaded (unless it overrides them).
_INHERITED = ("churn.monthly", "churn.annual", "satisfaction.fit", "contracts.annual_share")


def _check_inherited(
    base: Scenario, points: Sequence[dict[str, Any]], scenarios: Sequence[Scenario]
) -> None:
    """Refuse a swept inherited key that no longer reaches the segments of a loaded Scenario.

    A loaded :class:`Scenario` has each segment's churn, fit and annual share filled in already;
    setting the top-level key afterwards changes nothing the simulation uses.
    """
    base_doc = base.model_dump(mode="python")
    for point, s in zip(points, scenarios, strict=True):
        for key, value in point.items():
            if not key.startswith(_INHERITED) or _value_at(base_doc, key) == value:
                continue
            if s.population.segments == base.population.segments:
                raise UserInputError(
                    f"{key}: the segments of this scenario inherited their value when it was "
                    "loaded, so setting it now does not reach them; pass the scenario by name, "
                    "path or mapping (not a loaded Scenario), or sweep "
                    "population.segments.NAME."
                    + (key if key.startswith("churn.") else key.split(".", 1)[-1])
                )


# --------------------------------------------------------------------------------------------
# The sweep


@dataclass
class SweepResult:
    """A sweep's tidy table and what produced it.

    ``table``: one row per (point, replication): ``point``, the swept keys, the summary columns,
    ``error``. ``points``: one row per point (``point`` and the keys). ``failures``: the rows of
    ``table`` whose replication failed.
    """

    table: pd.DataFrame
    points: pd.DataFrame
    keys: list[str]
    scenario: Scenario
    seed: int
    replications: int
    method: str
    wall_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> pd.DataFrame:
        return self.table[self.table["error"].notna()]

    def point_means(self, metrics: Sequence[str] = ("ltv_mean", "net_value")) -> pd.DataFrame:
        """Mean and 95 % t half-width of ``metrics`` at each point (successful replications)."""
        ok = self.table[self.table["error"].isna()]
        rows = []
        for point, group in ok.groupby("point", sort=True):
            row: dict[str, Any] = {"point": point}
            row.update({k: group[k].iloc[0] for k in self.keys})
            for m in metrics:
                ci = mean_ci(group[m].to_numpy(dtype=np.float64))
                row[m] = ci.mean
                row[f"{m}_half_width"] = ci.half_width
            row["replications"] = len(group)
            rows.append(row)
        return pd.DataFrame(rows)

    def manifest(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "scenario_hash": scenario_hash(self.scenario),
            "method": self.method,
            "keys": self.keys,
            "points": len(self.points),
            "seed": self.seed,
            "replications": self.replications,
            "failed_replications": int(self.table["error"].notna().sum()),
            "wall_seconds": round(self.wall_seconds, 3),
            "versions": package_versions(),
            **self.extra,
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write ``sweep.parquet``, ``sweep.csv``, ``points.csv``, ``failures.csv`` (if any),
        ``resolved.yaml`` (the base scenario) and, last, ``manifest.json``, atomically."""
        dest = Path(out_dir)
        with atomic_folder(dest) as tmp:
            self.table.to_parquet(tmp / "sweep.parquet", index=False)
            self.table.to_csv(tmp / "sweep.csv", index=False)
            self.points.to_csv(tmp / "points.csv", index=False)
            if len(self.failures):
                self.failures[["point", *self.keys, "replication", "error"]].to_csv(
                    tmp / "failures.csv", index=False
                )
            (tmp / "resolved.yaml").write_text(to_yaml(self.scenario), encoding="utf-8")
            (tmp / "manifest.json").write_text(
                json.dumps(self.manifest(), indent=2, ensure_ascii=False, default=str),
                encoding="utf-8",
            )
        return dest


@accepts_run_options
def run_points(
    scenario: str | Path | dict | Scenario,
    points: Sequence[dict[str, Any]],
    replications: int = 1,
    seed: int = 0,
    overrides: list[str] | None = None,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    *,
    scheduler: str | None = None,
    cache: CacheArg = None,
    target_ci: dict[str, float] | None = None,
    max_replications: int = DEFAULT_MAX_REPLICATIONS,
    progress: bool = False,
    method: str = "points",
    options: RunOptions | None = None,
) -> SweepResult:
    """Run explicit points (each a ``{dotted key: value}`` mapping) as a sweep.

    ``target_ci={"ltv_mean": 50.0}``: add replications in batches (to every point, so they keep
    sharing their luck) until the 95 % half-width of the named figure is at most its target at
    every point, or ``max_replications`` is reached. ``options``: the run options at once, as a
    :class:`~simlib.run_options.RunOptions` (instead of the keywords).
    """
    opts = options or RunOptions.of(
        replications, seed, overrides, executor, workers, scheduler, cache,
        target_ci, max_replications, progress,
    )  # fmt: skip
    return run_point_list(scenario, points, opts, method)


def run_point_list(
    scenario: str | Path | dict | Scenario,
    points: Sequence[dict[str, Any]],
    opts: RunOptions,
    method: str = "points",
) -> SweepResult:
    """:func:`run_points` with its run options as one :class:`RunOptions`."""
    if not points:
        raise CommandError("a sweep needs at least one point")
    allowed = [c for c in summary_columns() if c not in ID_COLUMNS]
    targets = check_targets(opts.targets, allowed) if opts.targets else {}
    keys: list[str] = []
    for point in points:
        keys.extend(k for k in point if k not in keys)
    overrides = opts.override_list
    scenarios = point_scenarios(scenario, points, overrides)
    base = load_scenario(scenario, overrides)
    # every point's tables carry the base scenario's name; the point column tells them apart
    scenarios = [s.model_copy(update={"name": base.name}) for s in scenarios]
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    with MultiRun(scenarios, opts, accounts=False, tables=False, desc=f"sweep {base.name}") as run:
        if targets:
            report = adaptive_replications(
                opts.replications,
                targets,
                opts.max_replications,
                run.extend,
                lambda n: _widest_half_widths(run, targets),
            )
            extra["target_ci"] = report.as_dict()
            extra["target_ci"]["applies_to"] = "every point's own interval"
        else:
            run.extend(0, opts.replications)
        outcomes = run.outcomes
        n_done = run.replications
        extra["reused_replications"] = run.reused
    points_table = pd.DataFrame(
        [{"point": i, **{k: p.get(k) for k in keys}} for i, p in enumerate(points)]
    )
    return SweepResult(
        table=_point_table(points, outcomes, keys, base.name, opts.seed),
        points=points_table,
        keys=keys,
        scenario=base,
        seed=opts.seed,
        replications=n_done,
        method=method,
        wall_seconds=time.perf_counter() - start,
        extra=extra,
    )


def _widest_half_widths(run: MultiRun, targets: dict[str, float]) -> dict[str, float]:
    """Per target metric, the widest half-width of the points' 95 % intervals so far (NaN
    while any point has no finite one yet)."""
    out = {}
    for m in targets:
        hws = [
            mean_ci(run.summary(i)[m].to_numpy(dtype=np.float64)).half_width
            if len(run.summary(i))
            else float("nan")
            for i in range(len(run.scenarios))
        ]
        finite = [h for h in hws if math.isfinite(h)]
        out[m] = max(finite) if len(finite) == len(hws) else float("nan")
    return out


def _point_table(
    points: Sequence[dict[str, Any]],
    outcomes: Sequence[Sequence[ReplicationOutcome]],
    keys: list[str],
    name: str,
    seed: int,
) -> pd.DataFrame:
    """One row per (point, replication): ``point``, the point's keys, the summary figures and
    ``error`` (the message of a failed replication, <NA> where it succeeded), last."""
    rows = []
    summary_cols = list(summary_columns())
    for i, (point, outs) in enumerate(zip(points, outcomes, strict=True)):
        for out in outs:
            row: dict[str, Any] = {"point": i}
            row.update({k: point.get(k) for k in keys})
            if out.failed:
                row.update({c: np.nan for c in summary_cols})
                row.update({"scenario": name, "replication": out.replication, "seed": seed})
                row["error"] = out.error
            else:
                assert out.summary is not None
                row.update({c: out.summary.get(c) for c in summary_cols})
                row.update({c: v for c, v in out.summary.items() if c not in row})
                row["error"] = None
            rows.append(row)
    table = pd.DataFrame(rows)
    table = table[[c for c in table.columns if c != "error"] + ["error"]]
    table["error"] = table["error"].astype("string")  # <NA> where the replication succeeded
    for col in ("replication", "seed", "point"):
        table[col] = table[col].astype(np.int64)
    return table


@accepts_run_options
def sweep(
    scenario: str | Path | dict | Scenario,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    lhs: int | None = None,
    ranges: dict[str, tuple[float, float]] | None = None,
    lhs_seed: int = 0,
    replications: int = 1,
    seed: int = 0,
    overrides: list[str] | None = None,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache: CacheArg = None,
    target_ci: dict[str, float] | None = None,
    max_replications: int = DEFAULT_MAX_REPLICATIONS,
    progress: bool = False,
    options: RunOptions | None = None,
) -> SweepResult:
    """Sweep a scenario over a full factorial ``grid`` or ``lhs`` Latin hypercube points.

    ``grid={"churn.satisfaction_effect": [0, 2, 4]}`` (every combination of every key's values),
    or ``lhs=20, ranges={"champion.monthly_turnover": (0.005, 0.03)}`` (integer keys rounded).
    The rest as :func:`run_points` (``options``: the run options as one object); the table is
    described in the module docstring.
    """
    opts = options or RunOptions.of(
        replications, seed, overrides, executor, workers, scheduler, cache,
        target_ci, max_replications, progress,
    )  # fmt: skip
    if grid and (lhs is not None or ranges):
        raise CommandError("give either --grid or --lhs with --range, not both")
    if grid:
        points = grid_points(grid)
        method = "grid"
    elif lhs is not None or ranges:
        if lhs is None:
            raise CommandError("--range needs --lhs N (the number of points)")
        if not ranges:
            raise CommandError("--lhs needs at least one --range KEY=LO:HI")
        base = load_scenario(scenario, opts.override_list)
        points = lhs_points(ranges, lhs, lhs_seed, integer_keys(base, list(ranges)))
        method = f"lhs (seed {lhs_seed})"
    else:
        raise CommandError("nothing to sweep: give --grid KEY=V1,V2 or --lhs N --range KEY=LO:HI")
    return run_point_list(scenario, points, opts, method)
