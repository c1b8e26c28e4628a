"""Running a batch: its tasks in order, failures recorded (the batch goes on), ``--resume``, the
progress bar and results moved into place atomically.

The steps of :func:`run_batch`, in order: check the batch-wide ``set`` against every scenario
(before anything is written), prepare the output folder (refusing a file or a folder of
something else, locking it against a second batch, removing what an interrupted run left
half-written), load every scenario, simulate them through one executor, run the scenario
notebooks, write the batch's tables, run the batch-level notebooks, write the index page.
``run.json`` holds every task's state and fingerprint (what ``--resume`` reads);
``run_log.jsonl`` is the append-only history.

One batch writes into an output folder at a time: the batch holds the lock ``.simlib-batch.lock``
in it (:mod:`simlib.io.locks`; released when the batch ends, however it ends), and a second
batch into the same folder stops at once with exit code 2, naming the folder and the holder's
process id. Each batch's notebook kernels keep their connection files and IPC sockets in a
private temporary folder of that batch (:func:`simlib.batch.notebooks.kernel_runtime`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UserInputError
from ..io.atomic import atomic_file, storage_error
from ..io.locks import exclusive_lock
from ..paths import safe_name, within, write_text_atomic
from ..reports import comparison_from_results, headline_table
from ..results import RESULT_FILES
from .failures import Failure, FailureKind, error_text
from .index import Report, now, report_links, write_index
from .notebooks import ensure_kernel, execute_notebook, kernel_runtime, render_html
from .plan import (
    BatchError,
    BatchFile,
    NotebookSource,
    NotebookTask,
    ScenarioSpec,
    SimulationTask,
    batch_notebook_task,
    check_common_set,
    expand_scenarios,
    fingerprint,
    load_batch,
    notebook_sources,
    own_overrides,
    scenario_notebook_task,
    simulation_task,
)
from .questions import check_compare, paired_with_first

__all__ = ["BatchOutcome", "RunState", "run_batch"]


@dataclass
class BatchOutcome:
    """What a batch run produced: the index page, failures, and which tasks ran this time."""

    out_dir: Path
    index: Path
    failures: list[Failure] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


class RunState:
    """``run.json`` (task -> status, fingerprint, error) plus an append-only ``run_log.jsonl``."""

    def __init__(self, out: Path, resume: bool) -> None:
        self.path = out / "run.json"
        self.log_path = out / "run_log.jsonl"
        self.tasks: dict[str, dict[str, Any]] = {}
        if resume and self.path.is_file():
            with contextlib.suppress(ValueError, OSError):
                self.tasks = json.loads(self.path.read_text(encoding="utf-8")).get("tasks", {})

    def done(self, key: str, fingerprint: str, *paths: Path) -> bool:
        t = self.tasks.get(key)
        return bool(
            t
            and t.get("ok")
            and t.get("fingerprint") == fingerprint
            and all(p.exists() for p in paths)
        )

    def record(
        self,
        key: str,
        fingerprint: str,
        ok: bool,
        seconds: float,
        error: str = "",
        detail: str = "",
    ) -> None:
        self.tasks[key] = {
            "ok": ok,
            "fingerprint": fingerprint,
            "error": error,
            "detail": detail,
            "finished": now(),
        }
        entry = {
            "task": key,
            "ok": ok,
            "seconds": round(seconds, 3),
            "error": error,
            "finished": self.tasks[key]["finished"],
        }
        try:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise storage_error(self.log_path, exc) from exc
        write_text_atomic(
            self.path, json.dumps({"tasks": self.tasks}, indent=1, ensure_ascii=False)
        )


def run_batch(
    batch_path: str | Path,
    out_dir: str | Path | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    show_code: bool | None = None,
    progress: bool = True,
) -> BatchOutcome:
    """Run a batch file; see :mod:`simlib.batch`. Returns a :class:`BatchOutcome`.

    A batch-wide ``set`` that no scenario accepts, an output folder that is a file or holds
    something other than a batch, or another batch writing into the same folder: a
    :class:`UserInputError` (exit code 2) before anything is written."""
    batch_path = Path(batch_path)
    batch = load_batch(batch_path)
    check_common_set(batch, batch_path)
    name = batch.name or batch_path.stem
    out = _output_folder(out_dir, name)
    with (
        exclusive_lock(out / LOCK_NAME, out, "another simlib batch"),
        kernel_runtime() as runtime,
    ):
        _clear_leftovers(out)
        run = _BatchRun.start(batch_path, batch, name, out, resume, show_code)
        run.runtime = runtime
        return run.steps(progress, executor, workers, scheduler)


#: The files of a finished simulation (a folder with one missing is simulated again).
COMPLETE_RESULT = ("manifest.json", *RESULT_FILES)
#: The lock file a running batch holds in its output folder.
LOCK_NAME = ".simlib-batch.lock"
#: What a batch writes at the top of its folder; a folder holding one of these is a batch's.
_BATCH_MARKS = ("batch.yaml", "run.json", "run_log.jsonl", LOCK_NAME)


def _is_leftover(name: str) -> bool:
    return name.startswith(".") and (
        ".tmp" in name or ".old-" in name or name.endswith(".running.ipynb")
    )


def _check_batch_folder(out: Path) -> None:
    """Refuse an output folder that is a file, or a folder holding something other than a
    batch's files (which the batch would mix its files into and tidy up)."""
    if out.is_symlink() and not out.is_dir():
        raise UserInputError(f"{out}: is a broken symbolic link; give another --out")
    if not out.exists():
        return
    if not out.is_dir():
        raise UserInputError(
            f"{out}: is a file, not a batch's output folder; it is left as it is: give "
            "another --out"
        )
    try:
        names = [entry.name for entry in os.scandir(out)]
    except OSError as exc:
        raise UserInputError(f"{out}: cannot read this folder ({exc.strerror})") from None
    if names and not any(n in _BATCH_MARKS for n in names) and not all(map(_is_leftover, names)):
        raise UserInputError(
            f"{out}: holds files but no batch (no batch.yaml or run.json); it is left as it "
            "is: give another --out (a new name, or a folder a batch wrote)"
        )


def _output_folder(out_dir: str | Path | None, name: str) -> Path:
    """The batch's output folder (``reports/<name>/`` by default), checked
    (:func:`_check_batch_folder`) and created, as an absolute path."""
    out = Path(out_dir) if out_dir else Path("reports") / safe_name(name)
    _check_batch_folder(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(
            f"{out}: cannot create the batch's output folder ({exc.strerror}); give another "
            "with --out"
        ) from None
    return out.resolve()


def _clear_leftovers(out: Path) -> None:
    """Remove what an interrupted earlier run left half-written in the batch folder: temporary
    files and folders (hidden names with ``.tmp`` or ``.old-``, notebooks still ``.running``).
    Finished results are only ever renamed into place, so none of these is one. Called with
    the folder's lock held: no other batch is writing there."""
    for path in sorted(out.rglob(".*"), key=lambda p: len(p.parts), reverse=True):
        if _is_leftover(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _write_table(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV or Parquet table under a temporary name, then rename it into place (a
    failed write raises an error naming ``path``, see :func:`simlib.io.atomic.atomic_file`)."""
    with atomic_file(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


@dataclass
class _NotebookRun:
    """A notebook task's outcome: whether it ran this time (or was reused), and its failure."""

    ran: bool
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _run_notebook(
    task: NotebookTask,
    kind: FailureKind,
    kernel: str,
    state: RunState,
    reuse: bool,
    show_code: bool,
    timeout: int | None,
    root: Path,
    runtime: Path | None = None,
) -> _NotebookRun:
    """Execute and render ``task`` unless ``reuse`` and it finished with this fingerprint; the
    partially executed notebook of a failure is kept and rendered, and linked from it."""
    if reuse and state.done(task.key, task.fingerprint, task.ipynb, task.html):
        return _NotebookRun(ran=False)
    start = time.perf_counter()
    error = detail = ""
    try:
        task.folder.mkdir(parents=True, exist_ok=True)
        (task.folder / "outputs.json").unlink(missing_ok=True)
        execute_notebook(
            task.source, task.ipynb, task.parameters, kernel, task.folder, timeout, runtime
        )
    except Exception as exc:
        error, detail = error_text(exc)
    try:
        if task.ipynb.exists():
            render_html(task.ipynb, task.html, root, show_code=show_code, title=task.title)
    except Exception as exc:
        if not error:
            error, detail = error_text(exc)
    ok = not error
    state.record(task.key, task.fingerprint, ok, time.perf_counter() - start, error, detail)
    if ok:
        return _NotebookRun(ran=True)
    links = report_links(root, task.ipynb, task.html)
    return _NotebookRun(ran=True, failure=Failure(kind, task.title, error, detail, links))


@dataclass
class _BatchRun:
    """One run of a batch: its plan, and what the steps have produced so far."""

    batch: BatchFile
    batch_path: Path
    name: str
    out: Path
    resume: bool
    show: bool
    specs: list[ScenarioSpec]
    scen_nbs: list[NotebookSource]
    batch_nbs: list[NotebookSource]
    state: RunState
    failures: list[Failure] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    loaded: list[tuple[ScenarioSpec, Any]] = field(default_factory=list)
    kernel: str = ""
    runtime: Path | None = None
    bar: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    sim_fp: dict[str, str] = field(default_factory=dict)
    rerun: set[str] = field(default_factory=set)
    reports: dict[tuple[str, str], Report] = field(default_factory=dict)
    batch_reports: list[dict[str, Any]] = field(default_factory=list)
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def start(
        cls,
        batch_path: Path,
        batch: BatchFile,
        name: str,
        out: Path,
        resume: bool,
        show_code: bool | None,
    ) -> _BatchRun:
        """Expand the plan (an unknown notebook is a :class:`BatchError`), read the state of an
        earlier run when resuming, keep a copy of the batch file."""
        base = batch_path.resolve().parent
        run = cls(
            batch=batch,
            batch_path=batch_path,
            name=name,
            out=out,
            resume=resume,
            show=batch.show_code if show_code is None else show_code,
            specs=expand_scenarios(batch, base),
            scen_nbs=notebook_sources(batch.notebooks.scenario, base),
            batch_nbs=notebook_sources(batch.notebooks.batch, base),
            state=RunState(out, resume),
        )
        write_text_atomic(out / "batch.yaml", batch_path.read_text(encoding="utf-8"))
        return run

    def steps(
        self, progress: bool, executor: str, workers: int | None, scheduler: str | None
    ) -> BatchOutcome:
        """Every step after the start, in order, then the index page."""
        self.load_scenarios()
        self.check_names()
        check_compare(self.batch_path, self.batch, self.loaded)  # questions: one book
        self.open_progress(progress)
        self.simulate(executor, workers, scheduler)
        self.read_results()
        self.scenario_notebooks()
        self.write_tables()
        self.batch_notebooks()
        self.bar.close()
        index = write_index(
            self.out,
            self.batch,
            self.name,
            self.loaded,
            self.results,
            self.reports,
            self.scen_nbs,
            self.batch_reports,
            self.comparison,
            self.failures,
        )
        return BatchOutcome(
            out_dir=self.out,
            index=index,
            failures=self.failures,
            ran=self.ran,
            skipped=self.skipped,
        )

    def load_scenarios(self) -> None:
        """Load every scenario; a broken one is a recorded failure, not the end of the batch."""
        from ..plugins import load_scenario  # loads, then checks plug-in names

        for spec in self.specs:
            try:
                scen = load_scenario(spec.ref, spec.overrides)
                if not spec.explicit_name:
                    own = own_overrides(self.batch, spec)
                    spec.name = f"{scen.name} ({', '.join(own)})" if own else scen.name
                self.loaded.append((spec, scen.model_copy(update={"name": spec.name})))
            except Exception as exc:
                spec.name = spec.name or spec.ref
                failure = Failure.from_exception(FailureKind.SCENARIO, spec.name, exc)
                self.loaded.append((spec, None))
                self.failures.append(failure)
                self.state.record(
                    f"simulate:{spec.name}", "", False, 0.0, failure.error, failure.detail
                )

    def check_names(self) -> None:
        """Two scenarios with one name would share a folder: a :class:`BatchError`."""
        seen: set[str] = set()
        for spec, _ in self.loaded:
            if spec.name in seen:
                raise BatchError(
                    f"{self.batch_path}: scenarios: two scenarios are named {spec.name!r}; "
                    "give each a distinct `name`"
                )
            seen.add(spec.name)

    def open_progress(self, progress: bool) -> None:
        """Find a kernel if any notebook is to run; start the progress bar (one step a task)."""
        from tqdm.auto import tqdm

        self.kernel = ensure_kernel() if (self.scen_nbs or self.batch_nbs) else ""
        total = len(self.loaded) * (1 + len(self.scen_nbs)) + len(self.batch_nbs)
        self.bar = tqdm(total=total, disable=not progress, unit="task", desc=f"batch {self.name}")

    def simulate(self, executor: str, workers: int | None, scheduler: str | None) -> None:
        """Simulate every loaded scenario not reused from an earlier run, through one executor."""
        tasks = []
        for spec, scen in self.loaded:
            if scen is None:
                self.bar.update(1 + len(self.scen_nbs))
                continue
            task = simulation_task(self.out, self.batch, spec.name, scen)
            self.sim_fp[spec.name] = task.fingerprint
            if self.resume and self.state.done(
                task.key, task.fingerprint, *(task.folder / f for f in COMPLETE_RESULT)
            ):
                self.skipped.append(task.key)
                self.bar.update(1)
                continue
            tasks.append(task)
        if tasks:
            from ..experiment import executor_scope

            with executor_scope(executor, workers, scheduler) as ex:
                for task in tasks:
                    self._simulate_one(task, ex)

    def _simulate_one(self, task: SimulationTask, ex: Any) -> None:
        """One simulation, its tables written atomically; a failure is recorded."""
        from ..experiment import simulate

        self.ran.append(task.key)
        start = time.perf_counter()
        try:
            result = simulate(
                task.scenario, replications=task.replications, seed=task.seed, executor=ex
            )
            result.write(task.folder)
            self.rerun.add(task.name)
            self.state.record(task.key, task.fingerprint, True, time.perf_counter() - start)
        except Exception as exc:  # recorded; the batch goes on
            failure = Failure.from_exception(FailureKind.SCENARIO, task.name, exc)
            self.failures.append(failure)
            seconds = time.perf_counter() - start
            self.state.record(
                task.key, task.fingerprint, False, seconds, failure.error, failure.detail
            )
        self.bar.update(1)

    def read_results(self) -> None:
        """Read the results of every scenario that has finished (this time or before)."""
        from ..results import SimulationResult

        failed = {f.name for f in self.failures if f.kind == FailureKind.SCENARIO}
        for spec, scen in self.loaded:
            folder = within(self.out, "results", spec.name)
            if (
                scen is not None
                and (folder / "manifest.json").is_file()
                and spec.name not in failed
            ):
                self.results[spec.name] = SimulationResult.read(folder)

    def finished(self) -> list[str]:
        """Names of the scenarios with results, in the batch's order (baseline first)."""
        return [s.name for s, _ in self.loaded if s.name in self.results]

    def scenario_notebooks(self) -> None:
        """Every scenario notebook for every scenario with results."""
        for spec, _scen in self.loaded:
            if spec.name not in self.results:
                continue
            for nb in self.scen_nbs:
                task = scenario_notebook_task(
                    self.out, self.batch, spec.name, nb, self.sim_fp[spec.name], self.show
                )
                reuse = self.resume and spec.name not in self.rerun
                done = self._notebook(task, FailureKind.NOTEBOOK, reuse)
                self.reports[(spec.name, nb.name)] = Report(task.ipynb, task.html, done.ok)
                self.bar.update(1)

    def _notebook(self, task: NotebookTask, kind: FailureKind, reuse: bool) -> _NotebookRun:
        done = _run_notebook(
            task,
            kind,
            self.kernel,
            self.state,
            reuse,
            self.show,
            self.batch.execution_timeout,
            root=self.out,
            runtime=self.runtime,
        )
        (self.ran if done.ran else self.skipped).append(task.key)
        if done.failure is not None:
            self.failures.append(done.failure)
        return done

    def write_tables(self) -> None:
        """``results/headline.csv`` and the paired comparison against the baseline."""
        if not self.results:
            return
        names = self.finished()
        results_dir = self.out / "results"
        headline = headline_table(pd.concat([self.results[n].summary for n in names]))
        _write_table(headline, results_dir / "headline.csv")
        same_book = paired_with_first(self.loaded, names)  # never across different books
        self.comparison = comparison_from_results({n: self.results[n] for n in same_book})
        _write_table(self.comparison, results_dir / "comparison.csv")
        _write_table(self.comparison, results_dir / "comparison.parquet")

    def batch_notebooks(self) -> None:
        """Every batch-level notebook, on every scenario with results (none: a failure)."""
        names = self.finished()
        upstream = fingerprint([self.sim_fp.get(n) for n in names])
        for nb in self.batch_nbs:
            if not names:
                self.bar.update(1)
                self.batch_reports.append({"name": nb.name, "ok": False, "links": []})
                self.failures.append(
                    Failure(FailureKind.BATCH_NOTEBOOK, nb.name, "no scenario completed", "", [])
                )
                continue
            task = batch_notebook_task(self.out, self.batch, names, nb, upstream, self.show)
            reuse = self.resume and not self.rerun
            done = self._notebook(task, FailureKind.BATCH_NOTEBOOK, reuse)
            links = report_links(self.out, task.ipynb, task.html)
            self.batch_reports.append({"name": nb.name, "ok": done.ok, "links": links})
            self.bar.update(1)
