"""Running a scenario: many replications, each from its own child seed, on any executor.

Replication ``r`` of a run with seed ``s`` draws from ``SeedSequence(s, spawn_key=(r,))``
(:func:`simlib.rng.replication_seed`): the same scenario and seed give identical tables bit for
bit, whichever executor runs them and however many workers it has, and two scenarios run with the
same seed share every account's luck (common random numbers).

Across replications, each summary figure gets its mean and Student-t interval
(:func:`intervals`): ``mean +- t_{n-1, 0.975} x sd / sqrt(n)`` for the 95 % level. Figures whose
statistic is not a mean (a median, a quantile) get a percentile bootstrap interval from a
fixed-seed generator (:func:`bootstrap_ci`). ``target_ci`` chooses the number of replications:
replications are added in batches until every named interval is that narrow, or a cap is reached.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .cache import CacheEntry, ResultCache, write_entry
from .engine import ACTORS, Simulation, load_run_inputs
from .errors import SimlibError, UserInputError
from .executors import EXECUTORS, Executor, available_cpus, get_executor
from .metrics import ID_COLUMNS, account_table, monthly_table, summary_columns, summary_row
from .model import opening_book  # noqa: F401 - importing the model package registers its mechanisms
from .plugins import check_plugins
from .results import SimulationResult
from .run_options import DEFAULT_MAX_REPLICATIONS, RunOptions, accepts_run_options
from .scenario import Scenario, load_scenario
from .stats import Interval, mean_ci

__all__ = [
    "DEFAULT_MAX_REPLICATIONS",
    "MultiRun",
    "ReplicationOutcome",
    "ReplicationTask",
    "bootstrap_ci",
    "bootstrap_intervals",
    "intervals",
    "run_replication",
    "run_replications",
    "run_task",
    "simulate",
]

#: Columns of the intervals table.
INTERVAL_COLUMNS = ("scenario", "metric", "mean", "ci_low", "ci_high", "half_width", "n")


CacheArg = ResultCache | str | Path | bool | None
ExecutorArg = str | Executor


def run_replication(
    scenario: Scenario,
    seed: int,
    replication: int,
    on_month: Callable[[int], None] | None = None,
    inputs: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], int]:
    """Simulate one replication; returns (monthly, accounts, summary row, simpy events).

    ``inputs``: the run inputs read once for every replication (:func:`simlib.engine.
    load_run_inputs`; None: read them here)."""
    monthly, accounts, summary, events, _ = _replication(
        scenario, seed, replication, on_month, inputs, panel=False
    )
    return monthly, accounts, summary, events


def _replication(
    scenario: Scenario,
    seed: int,
    replication: int,
    on_month: Callable[[int], None] | None,
    inputs: dict[str, Any] | None,
    panel: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], int, pd.DataFrame | None]:
    """:func:`run_replication` and, with ``panel``, the account-month panel
    (:mod:`simlib.model.panel`: its recorder joins the actors of this replication only)."""
    sim = Simulation(scenario, seed=seed, replication=replication, on_month=on_month, inputs=inputs)
    if panel:
        from .model.panel import PanelRecorder

        sim.actors.append(PanelRecorder(sim))
        sim.actors.sort(key=lambda a: a.order)  # stable: the others keep their order
    sim.run()
    monthly = monthly_table(sim)
    accounts = account_table(sim)
    table = None
    if panel:
        from .model.panel import panel_table

        table = panel_table(sim)
    summary = summary_row(sim, accounts, monthly)
    return monthly, accounts, summary, sim.env.events_processed, table


# --------------------------------------------------------------------------------------------
# Tasks: one (scenario, seed, replication) each, run by any executor


@dataclass(frozen=True)
class ReplicationTask:
    """One replication to run. ``entry``: cache folder the worker stores it in (None: return
    the tables); ``accounts``: keep the accounts table; ``actors``: the actors enabled for the
    scenario where the task was made (a worker missing one would silently simulate another
    model); ``inputs``: the run inputs read where the task was made (an imported book), so a
    worker never reads this machine's files."""

    scenario: Scenario
    seed: int
    replication: int
    entry: str | None = None
    accounts: bool = True
    actors: tuple[str, ...] = ()
    inputs: dict[str, Any] | None = None
    #: also return the account-month panel (``simlib run --panel``)
    panel: bool = False


@dataclass
class ReplicationOutcome:
    """What a task gives back: the summary row, or the error; tables unless stored."""

    replication: int
    summary: dict[str, Any] | None = None
    monthly: pd.DataFrame | None = None
    accounts: pd.DataFrame | None = None
    panel: pd.DataFrame | None = None
    events: int = 0
    seconds: float = 0.0
    error: str | None = None
    stored: bool = False
    cached: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


def _enabled_actors(scenario: Scenario) -> tuple[str, ...]:
    """Names of the registered actors that take part in ``scenario``."""
    return tuple(sorted(name for name, cls in ACTORS.items() if cls.enabled(scenario)))


def run_task(task: ReplicationTask) -> ReplicationOutcome:
    """Run one task (in whatever process the executor chose).

    An exception raised by the simulation is caught and returned as the outcome's ``error``
    (and stored in the cache entry), so one failing point never stops the others. A
    :class:`~simlib.errors.UserInputError` (a bad data file named by the scenario, say) is not
    a failure of this replication but of the input: it propagates, so the command exits 2 with
    its message, and nothing is stored.
    """
    missing = [name for name in task.actors if name not in ACTORS]
    if missing:
        raise SimlibError(
            f"actor(s) {missing} are registered where the run started but not in this worker "
            "process; define them in a module the workers import"
        )
    start = time.perf_counter()
    try:
        monthly, accounts, summary, events, panel = _replication(
            task.scenario, task.seed, task.replication, None, task.inputs, task.panel
        )
    except (MemoryError, KeyboardInterrupt, UserInputError):
        raise
    except Exception as exc:
        lines = traceback.format_exception_only(type(exc), exc)
        error = "".join(lines).strip()
        if task.entry is not None:
            write_entry(task.entry, error=error)
        return ReplicationOutcome(task.replication, error=error, stored=task.entry is not None)
    seconds = time.perf_counter() - start
    out = ReplicationOutcome(
        task.replication,
        summary=summary,
        monthly=monthly,
        accounts=accounts if task.accounts else None,
        panel=panel,
        events=events,
        seconds=seconds,
    )
    if task.entry is not None:
        _store(task.entry, out)
        out.monthly = out.accounts = None
        out.stored = True
    return out


def _store(entry: str | Path, out: ReplicationOutcome) -> None:
    if out.error is not None:
        write_entry(entry, error=out.error)
        return
    tables = {"summary": pd.DataFrame([out.summary]), "monthly": out.monthly}
    if out.accounts is not None:
        tables["accounts"] = out.accounts
    write_entry(entry, tables, meta={"events": out.events, "seconds": round(out.seconds, 4)})


def _from_cache(entry: CacheEntry, replication: int, name: str) -> ReplicationOutcome:
    if entry.failed:
        return ReplicationOutcome(replication, error=entry.error(), stored=True, cached=True)
    summary = entry.read("summary", name).iloc[0].to_dict()
    meta = entry.meta()
    return ReplicationOutcome(
        replication,
        summary=summary,
        events=int(meta.get("events", 0)),
        seconds=float(meta.get("seconds", 0.0)),
        stored=True,
        cached=True,
    )


def resolve_cache(cache: CacheArg) -> ResultCache | None:
    """``None``/``False``: no cache; ``True``: the default folder; a path or a ResultCache."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return ResultCache()
    if isinstance(cache, ResultCache):
        return cache
    return ResultCache(cache)


class _LazyExecutor(Executor):
    """An executor made on first use, sized to that first batch (a local pool never has more
    workers than tasks), then kept until :meth:`close`."""

    def __init__(self, name: str, workers: int | None, scheduler: str | None) -> None:
        if name not in EXECUTORS:
            raise UserInputError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
        if scheduler and name != "dask":
            raise UserInputError(
                f"a scheduler address is for the dask executor, not {name!r}; use executor 'dask'"
            )
        if workers is not None and workers < 1:
            raise UserInputError(f"workers must be >= 1, got {workers}")
        super().__init__(workers or 0)
        self.name = name
        self.writes_on_workers = name == "local"
        self._scheduler = scheduler
        self._inner: Executor | None = None

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any]
    ) -> Iterator[tuple[int, Any]]:
        tasks = list(tasks)
        if self._inner is None:
            workers = self.workers or None
            if self.name == "local":
                workers = max(1, min(workers or available_cpus(), len(tasks)))
            self._inner = get_executor(self.name, workers=workers, scheduler=self._scheduler)
        yield from self._inner.imap_unordered(fn, tasks)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None


@contextmanager
def executor_scope(
    executor: ExecutorArg, workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor]:
    """The executor given (left open), or one made on first use and closed on leaving."""
    if isinstance(executor, Executor):
        yield executor
        return
    ex = _LazyExecutor(executor, workers, scheduler)
    try:
        yield ex
    finally:
        ex.close()


def _run_inputs(scenarios: Sequence[Scenario]) -> dict[int, dict[str, Any]]:
    """The run inputs of each distinct scenario (by identity), each read once."""
    out: dict[int, dict[str, Any]] = {}
    for scenario in scenarios:
        if id(scenario) not in out:
            out[id(scenario)] = load_run_inputs(scenario)
    return out


def run_replications(
    jobs: Sequence[tuple[Scenario, int, int]],
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache: CacheArg = None,
    accounts: bool = True,
    tables: bool = True,
    bar: Any = None,
    panel: bool = False,
) -> list[ReplicationOutcome]:
    """Run ``(scenario, seed, replication)`` jobs; outcomes in the order of ``jobs``.

    With a cache, stored replications are read back instead of run, and every new one is stored
    as soon as it finishes (by the worker itself when it shares this file system). ``tables``:
    also return the monthly (and with ``accounts`` the accounts) tables; otherwise only the
    summary rows travel and the memory used stays that of one replication per worker. ``bar``:
    a tqdm bar advanced once per job. ``panel``: also return each replication's account-month
    panel (never with a cache: a stored replication has no panel).
    """
    store = resolve_cache(cache)
    _check_panel(panel, store)
    outcomes: list[ReplicationOutcome | None] = [None] * len(jobs)
    todo: list[int] = []
    entries: dict[int, Path] = {}
    for i, (scenario, seed, replication) in enumerate(jobs):
        if store is not None:
            store.prepare(scenario, seed)
            entries[i] = store.entry_path(scenario, seed, replication)
            entry = store.get(scenario, seed, replication)
            if entry is not None and (
                entry.failed or not accounts or (entry.path / "accounts.parquet").is_file()
            ):
                outcomes[i] = _from_cache(entry, replication, scenario.name)
                continue
            if entry is not None:  # stored without its accounts table: run it again
                _discard(entry.path)
        todo.append(i)
    if bar is not None and len(todo) < len(jobs):
        bar.update(len(jobs) - len(todo))
    if todo:
        inputs = _run_inputs([jobs[i][0] for i in todo])
        with executor_scope(executor, workers, scheduler) as ex:
            workers_store = store is not None and ex.writes_on_workers
            tasks = [
                ReplicationTask(
                    jobs[i][0],
                    jobs[i][1],
                    jobs[i][2],
                    entry=str(entries[i]) if workers_store else None,
                    accounts=accounts and (tables or store is not None),
                    actors=_enabled_actors(jobs[i][0]),
                    inputs=inputs[id(jobs[i][0])],
                    panel=panel,
                )
                for i in todo
            ]
            for k, out in ex.imap_unordered(run_task, tasks):
                i = todo[k]
                if store is not None and not out.stored:
                    _store(entries[i], out)
                    out.stored = True
                if not tables:
                    out.monthly = out.accounts = None
                outcomes[i] = out
                if bar is not None:
                    bar.update(1)
    done: list[ReplicationOutcome] = []
    for i, out in enumerate(outcomes):
        assert out is not None
        if tables and out.stored and not out.failed:
            entry = CacheEntry(entries[i])
            name = jobs[i][0].name
            out.monthly = entry.read("monthly", name)
            out.accounts = entry.read("accounts", name) if accounts else None
        done.append(out)
    return done


def _check_panel(panel: bool, store: ResultCache | None) -> None:
    """The panel is never stored: a run that asks for it with a cache is refused."""
    if panel and store is not None:
        raise UserInputError(
            "the account-month panel (--panel) is not stored in the cache; run it without "
            "--cache-dir / --resume"
        )


class MultiRun:
    """Replications of several scenarios under one seed (common random numbers), run together,
    as ``options`` say (:class:`~simlib.run_options.RunOptions`: seed, executor, cache, progress).

    ``extend(a, b)`` runs replications ``a .. b-1`` of every scenario (interleaved, so that an
    interrupted run has progressed evenly); one executor serves every batch. ``outcomes[i]``
    lists scenario ``i``'s outcomes in replication order. Use as a context manager.
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        options: RunOptions,
        *,
        accounts: bool = True,
        tables: bool = True,
        desc: str = "",
    ) -> None:
        self.scenarios = list(scenarios)
        check_plugins(*self.scenarios)  # the runtime boundary: unknown plug-in names
        self.options = options
        self.seed = options.seed
        self.cache = resolve_cache(options.cache)
        self.accounts = accounts
        self.tables = tables
        self.outcomes: list[list[ReplicationOutcome]] = [[] for _ in self.scenarios]
        #: replications read back from the cache rather than simulated
        self.reused = 0
        self._scope = executor_scope(options.executor, options.workers, options.scheduler)
        self._executor = self._scope.__enter__()
        self.bar = progress_bar(0, options.progress, desc)
        self.started = time.perf_counter()

    @property
    def replications(self) -> int:
        return len(self.outcomes[0]) if self.outcomes else 0

    def extend(self, a: int, b: int) -> None:
        if b <= a:
            return
        self.bar.total = (self.bar.total or 0) + (b - a) * len(self.scenarios)
        self.bar.refresh()
        jobs = [(s, self.seed, r) for r in range(a, b) for s in self.scenarios]
        done = run_replications(
            jobs,
            executor=self._executor,
            cache=self.cache,
            accounts=self.accounts,
            tables=self.tables,
            bar=self.bar,
            panel=self.options.panel,
        )
        k = len(self.scenarios)
        for j, out in enumerate(done):
            self.outcomes[j % k].append(out)
            self.reused += out.cached

    def summary(self, i: int) -> pd.DataFrame:
        """Summary rows of scenario ``i``'s successful replications (replication order)."""
        rows = [o.summary for o in self.outcomes[i] if not o.failed]
        return pd.DataFrame(rows)

    def failures(self) -> list[tuple[int, ReplicationOutcome]]:
        """``(scenario index, outcome)`` of every failed replication."""
        return [(i, o) for i, outs in enumerate(self.outcomes) for o in outs if o.failed]

    def result(self, i: int, extra: dict[str, Any] | None = None) -> SimulationResult:
        """Scenario ``i``'s replications as a :class:`SimulationResult` (needs ``tables``)."""
        return _assemble(
            self.scenarios[i],
            self.seed,
            self.outcomes[i],
            time.perf_counter() - self.started,
            extra,
        )

    def close(self) -> None:
        self.bar.close()
        self._scope.__exit__(None, None, None)

    def __enter__(self) -> MultiRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _discard(path: Path) -> None:
    import os
    import shutil

    trash = path.with_name(f".{path.name}.old-{os.getpid()}")
    try:
        os.rename(path, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm.auto bar over replications (works in notebooks); shown after two seconds."""
    if enabled:
        from tqdm.auto import tqdm
    else:  # no bar: plain tqdm, so nothing asks for notebook widgets
        from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, delay=2.0, unit="rep", desc=desc, leave=False)


# --------------------------------------------------------------------------------------------
# Automatic replication count


@dataclass
class TargetReport:
    """How ``target_ci`` ended: each metric's target and half-width, and why the run stopped."""

    targets: dict[str, float]
    half_widths: dict[str, float] = field(default_factory=dict)
    replications: int = 0
    reached: bool = False
    cap: int = DEFAULT_MAX_REPLICATIONS

    @property
    def message(self) -> str:
        parts = ", ".join(
            f"{m} +-{self.half_widths.get(m, float('nan')):.4g} (target {t:g})"
            for m, t in self.targets.items()
        )
        if self.reached:
            return f"target reached with {self.replications} replications: {parts}"
        return f"cap of {self.cap} replications reached before the target: {parts}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "half_widths": self.half_widths,
            "replications": self.replications,
            "reached": self.reached,
            "max_replications": self.cap,
            "message": self.message,
        }


def check_targets(target_ci: dict[str, float] | None, allowed: Sequence[str]) -> dict[str, float]:
    """Validate ``{metric: half_width}``: known metrics, positive finite widths."""
    import difflib

    out: dict[str, float] = {}
    for metric, width in (target_ci or {}).items():
        if metric not in allowed:
            close = difflib.get_close_matches(metric, list(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserInputError(
                f"--target-ci: unknown metric {metric!r}{hint}; allowed: {', '.join(allowed)}"
            )
        try:
            value = float(width)
        except (TypeError, ValueError):
            raise UserInputError(
                f"--target-ci {metric}: the half-width must be a number, got {width!r}"
            ) from None
        if not math.isfinite(value) or value <= 0:
            raise UserInputError(f"--target-ci {metric}: the half-width must be > 0, got {width}")
        out[metric] = value
    return out


def adaptive_replications(
    initial: int,
    targets: dict[str, float],
    cap: int,
    run_more: Callable[[int, int], None],
    half_widths: Callable[[int], dict[str, float]],
) -> TargetReport:
    """Run replications in batches until every half-width meets its target or ``cap`` is hit.

    ``run_more(a, b)`` runs replications ``a .. b-1``; ``half_widths(n)`` gives each metric's
    current half-width. The next total is the estimate ``n x max_m (h_m / target_m)^2`` (the
    half-width shrinks as 1 / sqrt(n)), at least 2 and at least a tenth more than now.
    """
    if cap < 2:
        raise UserInputError(f"--max-replications must be >= 2, got {cap}")
    n = min(max(initial, 2), cap)
    report = TargetReport(targets=dict(targets), cap=cap)
    done = 0
    while True:
        run_more(done, n)
        done = n
        widths = half_widths(n)
        report.half_widths = widths
        report.replications = n
        ratios = [widths.get(m, float("nan")) / t for m, t in targets.items()]
        if all(r <= 1.0 for r in ratios):  # NaN compares false: not reached
            report.reached = True
            return report
        if n >= cap:
            return report
        worst = max((r for r in ratios if math.isfinite(r)), default=2.0)
        wanted = math.ceil(n * worst**2)
        n = min(cap, max(wanted, n + 2, math.ceil(1.1 * n)))


# --------------------------------------------------------------------------------------------
# simulate


@accepts_run_options
def simulate(
    scenario: Scenario | str | Path | dict,
    replications: int = 1,
    seed: int = 0,
    overrides: list[str] | Mapping[str, Any] | None = None,
    progress: bool = False,
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache: CacheArg = None,
    target_ci: dict[str, float] | None = None,
    max_replications: int = DEFAULT_MAX_REPLICATIONS,
    options: RunOptions | None = None,
    panel: bool = False,
) -> SimulationResult:
    """Simulate ``replications`` replications of a scenario (a Scenario, path, preset or dict).

    Returns a :class:`SimulationResult` with ``.monthly``, ``.accounts`` and ``.summary``.

    ``executor``/``workers``/``scheduler``: where replications run (:func:`simlib.executors.
    get_executor`; default a local process pool sized to the machine, in-process for one
    replication). ``cache``: a folder (or True for ``.cache/simlib``) where each replication is
    stored once and reused. ``target_ci={"ltv_mean": 50.0}``: start with ``replications`` (at
    least 2) and add replications in batches until the 95 % half-width of each named summary
    figure is at most its target, or ``max_replications`` is reached; the outcome is in
    ``result.extra["target_ci"]`` (and the manifest). ``progress`` shows a progress bar (tqdm)
    once the run takes more than two seconds. ``options``: all of these at once, as a
    :class:`~simlib.run_options.RunOptions` (instead of the keywords). ``panel``: also
    record ``result.panel``, the account-month panel (:mod:`simlib.model.panel`; not with a
    cache).
    """
    opts = options or RunOptions.of(
        replications, seed, overrides, executor, workers, scheduler, cache,
        target_ci, max_replications, progress, panel,
    )  # fmt: skip
    if not isinstance(scenario, Scenario) or opts.overrides:
        scenario = load_scenario(scenario, opts.override_list)
    return _simulate(scenario, opts)


def _simulate(scenario: Scenario, opts: RunOptions) -> SimulationResult:
    extra: dict[str, Any] = {}
    with MultiRun([scenario], opts, desc=scenario.name) as run:

        def run_more(a: int, b: int) -> None:
            run.extend(a, b)
            failed = run.failures()
            if failed:
                out = failed[0][1]
                raise SimlibError(
                    f"{scenario.name}: replication {out.replication} failed: {out.error}"
                )

        targets = opts.targets
        if targets:
            allowed = [c for c in summary_columns() if c not in ID_COLUMNS]
            targets = check_targets(targets, allowed)

            def widths(n: int) -> dict[str, float]:
                rows = run.summary(0)
                return {m: mean_ci(rows[m].to_numpy(dtype=np.float64)).half_width for m in targets}

            report = adaptive_replications(
                opts.replications, targets, opts.max_replications, run_more, widths
            )
            extra["target_ci"] = report.as_dict()
        else:
            run_more(0, opts.replications)
        return run.result(0, extra)


def _assemble(
    scenario: Scenario,
    seed: int,
    outcomes: Sequence[ReplicationOutcome],
    seconds: float,
    extra: dict[str, Any] | None = None,
) -> SimulationResult:
    """A SimulationResult from the (successful) outcomes of one scenario, in replication order."""
    ok = sorted((o for o in outcomes if not o.failed), key=lambda o: o.replication)
    if not ok:
        raise SimlibError(f"{scenario.name}: no replication succeeded")
    return SimulationResult(
        scenario=scenario,
        seed=seed,
        monthly=pd.concat([o.monthly for o in ok], ignore_index=True),
        accounts=pd.concat([o.accounts for o in ok], ignore_index=True),
        summary=pd.DataFrame([o.summary for o in ok]),
        panel=(
            pd.concat([o.panel for o in ok if o.panel is not None], ignore_index=True)
            if any(o.panel is not None for o in ok)
            else None
        ),
        wall_seconds=seconds,
        events_processed=sum(o.events for o in ok),
        extra=dict(extra or {}),
    )


# --------------------------------------------------------------------------------------------
# Intervals


def metric_columns(summary: pd.DataFrame) -> list[str]:
    """The numeric figures of a summary table, in its column order (identifiers left out)."""
    return [
        c
        for c in summary.columns
        if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(summary[c])
    ]


def intervals(result: SimulationResult | pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t interval across replications of every summary figure.

    One row per (scenario, metric): ``scenario, metric, mean, ci_low, ci_high, half_width, n``
    with ``half_width = t_{n-1, (1 + level)/2} x sd / sqrt(n)`` (NaN below 2 replications; NaN
    values, such as ``nrr_12m`` on horizons under 13 months, are left out of ``n``). Accepts a
    :class:`SimulationResult` or a summary table (of one or more scenarios).
    """
    summary = result.summary if isinstance(result, SimulationResult) else result
    rows: list[dict[str, Any]] = []
    for name, group in summary.groupby("scenario", sort=False):
        for metric in metric_columns(summary):
            ci = mean_ci(group[metric].to_numpy(dtype=np.float64), level)
            rows.append(
                {
                    "scenario": name,
                    "metric": metric,
                    "mean": ci.mean,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "half_width": ci.half_width,
                    "n": ci.n,
                }
            )
    return pd.DataFrame(rows, columns=list(INTERVAL_COLUMNS))


def bootstrap_ci(
    values: ArrayLike,
    statistic: Callable[..., Any] = np.median,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` of i.i.d. ``values`` (NaNs dropped).

    Resamples ``n_resamples`` times with replacement using ``numpy.random.default_rng(seed)``
    (fixed seed: the same values give the same interval); the interval runs from the
    ``(1 - level)/2`` to the ``(1 + level)/2`` quantile of the resampled statistic.
    ``statistic(x, axis=1)`` is tried first (vectorized), then row by row. ``half_width`` is half
    the interval's length (bootstrap intervals need not be symmetric).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = x.size
    nan = float("nan")
    if n == 0:
        return Interval(nan, nan, nan, nan, 0, level)
    estimate = float(statistic(x))
    if n < 2:
        return Interval(estimate, nan, nan, nan, n, level)
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, n, size=(n_resamples, n))]
    try:
        stats = np.asarray(statistic(samples, axis=1), dtype=np.float64)
    except TypeError:
        stats = np.array([statistic(row) for row in samples], dtype=np.float64)
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high), float(high - low) / 2, n, level)


def bootstrap_intervals(
    result: SimulationResult | pd.DataFrame,
    statistic: Callable[..., Any] = np.median,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Like :func:`intervals` for a statistic other than the mean (default the median).

    Columns: ``scenario, metric, statistic, estimate, ci_low, ci_high, half_width, n``.
    """
    summary = result.summary if isinstance(result, SimulationResult) else result
    label = getattr(statistic, "__name__", "statistic")
    rows = []
    for name, group in summary.groupby("scenario", sort=False):
        for metric in metric_columns(summary):
            ci = bootstrap_ci(group[metric], statistic, level, n_resamples, seed)
            rows.append(
                {
                    "scenario": name,
                    "metric": metric,
                    "statistic": label,
                    "estimate": ci.mean,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "half_width": ci.half_width,
                    "n": ci.n,
                }
            )
    return pd.DataFrame(rows)
