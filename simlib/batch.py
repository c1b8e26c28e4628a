"""Batches: many scenarios, their parameterized notebooks and one shareable report folder.

A batch file (YAML, validated with pydantic) names the scenarios, the replications and seed, and
the notebooks to run for each scenario and for the batch as a whole::

    name: demo                        # output folder reports/<name>/ (default: the file's stem)
    title: Demo batch                 # shown on the index page
    replications: 5
    seed: 1
    set: {horizon_months: 36}         # overrides for every scenario (dotted key: YAML value)
    scenarios:
      - scenario: textbook            # a preset name or a YAML path (relative to this file)
      - name: b2b_saas, stronger satisfaction link
        scenario: b2b_saas
        set: {churn.satisfaction_effect: 4}
      - grid:                         # expands into one scenario per combination
          scenario: b2b_saas
          vary: {contracts.annual_share: [0.2, 0.6]}
    notebooks:
      scenario: [scenario_report]     # run once per scenario
      batch: [policy_comparison]      # run once for the batch (every scenario, baseline first)

:func:`run_batch` simulates every scenario through the experiment layer (one executor of
:mod:`simlib.executors` for the whole batch; one seed for all, so common random numbers), executes the
notebooks with papermill and renders each to offline HTML, then writes ``index.html``. A failing
scenario or notebook is recorded (the partially executed notebook is kept) and the batch goes on;
``resume=True`` re-runs only what failed, is missing, or whose inputs changed. Every file name
is derived with :func:`simlib.paths.safe_name`, so nothing is written outside the batch folder.

Layout of ``reports/<name>/``::

    index.html                       summary of every scenario, charts, links, failures
    batch.yaml                       the batch file as read
    run.json                         state of every task (for --resume); run_log.jsonl: history
    results/<scenario>/              result tables (monthly, accounts, summary, manifest)
    results/comparison.csv|parquet   paired comparison against the baseline
    results/headline.csv             headline metrics with intervals
    scenarios/<scenario>/<notebook>/ <notebook>.ipynb, <notebook>.html, outputs.json
    batch/<notebook>/                the same for batch-level notebooks
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import itertools
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UserInputError
from .paths import safe_name, within, write_text_atomic
from .reports import (
    HEADLINE_METRICS,
    comparison_from_results,
    format_interval,
    format_value,
    headline_table,
    notebook_to_html,
    render_index,
)

__all__ = [
    "BatchError",
    "BatchFile",
    "BatchOutcome",
    "ScenarioSpec",
    "ensure_kernel",
    "expand_scenarios",
    "load_batch",
    "run_batch",
]


class BatchError(UserInputError):
    """A batch file is invalid (exit code 2); the message names the file and the key."""


def notebooks_dir() -> Path:
    """The kit's notebook folder (package data, see :mod:`simlib.io.resources`)."""
    from .io import resources

    return resources.notebooks_dir()


# ------------------------------------------------------------------------------------------
# The batch file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Overrides = dict[str, Any] | list[str]


class GridSpec(_Strict):
    """A base scenario and keys to vary: one scenario per combination of values."""

    scenario: str = Field(min_length=1, description="preset name or YAML path")
    name: str | None = Field(default=None, max_length=150, description="name prefix")
    set: Overrides = Field(default_factory=dict, description="overrides for every combination")
    vary: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        min_length=1, description="dotted key -> list of values"
    )


class ScenarioEntry(_Strict):
    """One scenario (a preset or file, with optional overrides) or a grid of them."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    scenario: str | None = Field(default=None, min_length=1, description="preset or YAML path")
    set: Overrides = Field(default_factory=dict, description="dotted key -> YAML value")
    grid: GridSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScenarioEntry:
        if (self.scenario is None) == (self.grid is None):
            raise ValueError("give either `scenario` (a preset or a file) or `grid`, not both")
        if self.grid is not None and (self.name or self.set):
            raise ValueError("a grid entry takes `name` and `set` inside `grid`")
        return self


class NotebookSpec(_Strict):
    """A notebook to run: a name in ``notebooks/`` or a path, with extra parameters."""

    notebook: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


NotebookRef = str | NotebookSpec


class Notebooks(_Strict):
    """Notebooks run for each scenario and once for the whole batch."""

    scenario: list[NotebookRef] = Field(default_factory=lambda: ["scenario_report"])
    batch: list[NotebookRef] = Field(default_factory=lambda: ["policy_comparison"])


class BatchFile(_Strict):
    """The batch file's schema."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=300)
    description: str = Field(default="", max_length=10_000)
    replications: Annotated[int, Field(ge=1, le=100_000)] = 5
    seed: Annotated[int, Field(ge=0)] = 0
    set: Overrides = Field(default_factory=dict, description="overrides for every scenario")
    scenarios: list[ScenarioEntry] = Field(min_length=1)
    notebooks: Notebooks = Field(default_factory=Notebooks)
    show_code: bool = False
    execution_timeout: Annotated[int, Field(ge=1)] | None = Field(
        default=1800, description="seconds a notebook cell may run"
    )


def _override_list(value: Overrides) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items()]


def load_batch(path: str | Path) -> BatchFile:
    """Read and validate a batch file, or raise :class:`BatchError` naming file and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchError(f"{path}: cannot read the batch file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise BatchError(f"{path}: not a UTF-8 text file") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BatchError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise BatchError(f"{path}: a batch file is a YAML mapping")
    try:
        return BatchFile.model_validate(doc)
    except ValidationError as exc:
        lines = [f"{path}: invalid batch file"]
        for err in exc.errors(include_url=False):
            loc = [
                str(p)
                for p in err["loc"]
                if not (isinstance(p, str) and (p.startswith("function-") or p in ("str",)))
            ]
            loc = [p for p in loc if p not in ("NotebookSpec", "list[str]", "dict[str,any]")]
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {'.'.join(loc) or '(top)'}: {msg}")
        raise BatchError("\n".join(lines)) from None


@dataclass
class ScenarioSpec:
    """One scenario of an expanded batch: its display name, reference and overrides."""

    name: str
    ref: str
    overrides: list[str]
    explicit_name: bool = False


def _resolve_ref(ref: str, base: Path) -> str:
    p = Path(ref)
    if (p.suffix in (".yaml", ".yml") or "/" in ref) and not p.is_absolute():
        candidate = base / p
        if candidate.exists():
            return str(candidate)
    return ref


def expand_scenarios(batch: BatchFile, base: Path) -> list[ScenarioSpec]:
    """The batch's scenarios with grids expanded (names not yet checked for uniqueness)."""
    common = _override_list(batch.set)
    out: list[ScenarioSpec] = []
    for entry in batch.scenarios:
        if entry.grid is None:
            own = _override_list(entry.set)
            assert entry.scenario is not None
            out.append(
                ScenarioSpec(
                    name=entry.name or "",
                    ref=_resolve_ref(entry.scenario, base),
                    overrides=[*common, *own],
                    explicit_name=entry.name is not None,
                )
            )
            continue
        g = entry.grid
        keys = list(g.vary)
        for combo in itertools.product(*(g.vary[k] for k in keys)):
            label = ", ".join(f"{k}={v}" for k, v in zip(keys, combo, strict=True))
            sets = [
                f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in zip(keys, combo, strict=True)
            ]
            out.append(
                ScenarioSpec(
                    name=f"{g.name or Path(g.scenario).stem} {label}",
                    ref=_resolve_ref(g.scenario, base),
                    overrides=[*common, *_override_list(g.set), *sets],
                    explicit_name=True,
                )
            )
    return out


# ------------------------------------------------------------------------------------------
# Execution helpers


def ensure_kernel() -> str:
    """Name of a Jupyter kernel that runs this Python (with simlib importable).

    Uses ``python3`` when its spec runs this interpreter (a bare ``python`` in its command is
    replaced by this interpreter by jupyter_client); otherwise registers this environment's
    ipykernel as the user kernel ``simlib`` and uses that.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    for name in ("python3", "simlib"):
        try:
            spec = ksm.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        exe = spec.argv[0] if spec.argv else ""
        if exe in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
            return name
        with contextlib.suppress(OSError):
            if Path(exe).resolve() == Path(sys.executable).resolve():
                return name
    from ipykernel.kernelspec import install

    install(user=True, kernel_name="simlib", display_name="Python 3 (simlib)")
    return "simlib"


def _kernel_manager_class(log: Path) -> type:
    """A kernel manager that talks to its kernel over IPC sockets (no TCP ports) where the
    platform has them (TCP elsewhere), with the kernel process's own output (start-up and
    shutdown messages, not cell outputs) going to the file ``log``."""
    from jupyter_client.manager import AsyncKernelManager

    transport = "tcp" if sys.platform.startswith("win") else "ipc"

    class BatchKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with log.open("ab") as fh:
                kw.setdefault("stdout", fh)
                kw.setdefault("stderr", fh)
                await super().start_kernel(**kw)

    return BatchKernelManager


def execute_notebook(
    source: Path,
    dest: Path,
    parameters: dict[str, Any],
    kernel: str,
    cwd: Path,
    timeout: int | None = 1800,
) -> None:
    """Run ``source`` with papermill into ``dest`` (written under a temporary name first).

    On failure the partially executed notebook is still moved to ``dest`` (and the kernel
    process's own messages kept beside it in ``<name>.kernel.log``) and the error re-raised.
    """
    import papermill as pm

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.running.ipynb")
    log = dest.with_name(f"{dest.stem}.kernel.log")
    log.unlink(missing_ok=True)
    ok = False
    try:
        pm.execute_notebook(
            str(source),
            str(tmp),
            parameters=parameters,
            kernel_name=kernel,
            progress_bar=False,
            log_output=False,
            cwd=str(cwd),
            execution_timeout=timeout,
            kernel_manager_class=_kernel_manager_class(log),
        )
        ok = True
    finally:
        if tmp.exists():
            os.replace(tmp, dest)
        if ok or (log.exists() and log.stat().st_size == 0):
            log.unlink(missing_ok=True)


def _write_table(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.to_csv(tmp, index=False)
    else:
        df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _error_text(exc: BaseException) -> tuple[str, str]:
    first = str(exc).strip().splitlines()
    head = f"{type(exc).__name__}: {first[0] if first else ''}".strip()
    if hasattr(exc, "ename") and hasattr(exc, "evalue"):  # papermill's execution error
        head = f"{exc.ename}: {exc.evalue}"  # type: ignore[attr-defined]
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    return head[:500], detail


def _comparison(results: dict[str, Any]) -> pd.DataFrame:
    """Paired comparison of finished results against the first (as ``simlib compare``)."""
    return comparison_from_results(results)


def _versions() -> dict[str, str]:
    from importlib import metadata

    from .results import package_versions

    out = package_versions()
    for name in ("papermill", "nbconvert", "matplotlib", "seaborn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# ------------------------------------------------------------------------------------------
# The run


@dataclass
class BatchOutcome:
    """What a batch run produced: the index page, failures, and which tasks ran this time."""

    out_dir: Path
    index: Path
    failures: list[dict[str, Any]] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


class _State:
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
            "finished": _now(),
        }
        entry = {
            "task": key,
            "ok": ok,
            "seconds": round(seconds, 3),
            "error": error,
            "finished": self.tasks[key]["finished"],
        }
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        write_text_atomic(
            self.path, json.dumps({"tasks": self.tasks}, indent=1, ensure_ascii=False)
        )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _notebook_source(ref: str | NotebookSpec, base: Path) -> tuple[str, Path, dict[str, Any]]:
    spec = ref if isinstance(ref, NotebookSpec) else NotebookSpec(notebook=ref)
    p = Path(spec.notebook)
    candidates = [notebooks_dir() / f"{spec.notebook}.ipynb"] if p.suffix != ".ipynb" else []
    if p.suffix == ".ipynb":
        candidates += [base / p, p, notebooks_dir() / p]
    for c in candidates:
        if c.is_file():
            return p.stem, c.resolve(), spec.parameters
    raise BatchError(f"notebooks: no notebook {spec.notebook!r} (looked in {notebooks_dir()})")


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
    """Run a batch file; see the module docstring. Returns a :class:`BatchOutcome`."""
    from tqdm.auto import tqdm

    from .scenario import load_scenario, scenario_hash

    batch_path = Path(batch_path)
    batch = load_batch(batch_path)
    base = batch_path.resolve().parent
    name = batch.name or batch_path.stem
    out = Path(out_dir) if out_dir else Path("reports") / safe_name(name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(
            f"{out}: cannot create the batch's output folder ({exc.strerror}); give another "
            "with --out"
        ) from None
    out = out.resolve()
    _clear_leftovers(out)
    show = batch.show_code if show_code is None else show_code
    specs = expand_scenarios(batch, base)
    scen_nbs = _unique([_notebook_source(r, base) for r in batch.notebooks.scenario])
    batch_nbs = _unique([_notebook_source(r, base) for r in batch.notebooks.batch])
    state = _State(out, resume)
    write_text_atomic(out / "batch.yaml", batch_path.read_text(encoding="utf-8"))

    failures: list[dict[str, Any]] = []
    ran: list[str] = []
    skipped: list[str] = []

    # 1. Load every scenario (a broken one is a recorded failure, not the end of the batch).
    loaded: list[tuple[ScenarioSpec, Any]] = []
    for spec in specs:
        try:
            scen = load_scenario(spec.ref, spec.overrides)
            if not spec.explicit_name:
                own = spec.overrides[len(_override_list(batch.set)) :]
                spec.name = f"{scen.name} ({', '.join(own)})" if own else scen.name
            loaded.append((spec, scen.model_copy(update={"name": spec.name})))
        except Exception as exc:
            spec.name = spec.name or spec.ref
            head, detail = _error_text(exc)
            loaded.append((spec, None))
            failures.append(
                {
                    "kind": "scenario",
                    "name": spec.name,
                    "error": head,
                    "detail": detail,
                    "links": [],
                }
            )
            state.record(f"simulate:{spec.name}", "", False, 0.0, head, detail)
    seen: dict[str, str] = {}
    for spec, _ in loaded:
        if spec.name in seen:
            raise BatchError(
                f"{batch_path}: scenarios: two scenarios are named {spec.name!r}; "
                "give each a distinct `name`"
            )
        seen[spec.name] = spec.ref

    kernel = ensure_kernel() if (scen_nbs or batch_nbs) else ""
    total = len(loaded) * (1 + len(scen_nbs)) + len(batch_nbs)
    bar = tqdm(total=total, disable=not progress, unit="task", desc=f"batch {name}")

    # 2. Simulations, through the executor.
    results: dict[str, Any] = {}
    sim_fp: dict[str, str] = {}
    rerun: set[str] = set()
    tasks = []
    for spec, scen in loaded:
        if scen is None:
            bar.update(1 + len(scen_nbs))
            continue
        fp = _fingerprint(scenario_hash(scen), batch.replications, batch.seed)
        sim_fp[spec.name] = fp
        folder = within(out, "results", spec.name)
        if resume and state.done(f"simulate:{spec.name}", fp, folder / "manifest.json"):
            skipped.append(f"simulate:{spec.name}")
            bar.update(1)
            continue
        tasks.append(
            {
                "name": spec.name,
                "scenario": scen,
                "replications": batch.replications,
                "seed": batch.seed,
            }
        )
    if tasks:
        from .experiment import executor_scope, simulate

        with executor_scope(executor, workers, scheduler) as ex:
            for task in tasks:
                key = f"simulate:{task['name']}"
                ran.append(key)
                start = time.perf_counter()
                try:
                    result = simulate(
                        task["scenario"],
                        replications=task["replications"],
                        seed=task["seed"],
                        executor=ex,
                    )
                    result.write(within(out, "results", task["name"]))
                    rerun.add(task["name"])
                    state.record(key, sim_fp[task["name"]], True, time.perf_counter() - start)
                except Exception as exc:  # recorded; the batch goes on
                    head, detail = _error_text(exc)
                    failures.append(
                        {
                            "kind": "scenario",
                            "name": task["name"],
                            "error": head,
                            "detail": detail,
                            "links": [],
                        }
                    )
                    state.record(
                        key, sim_fp[task["name"]], False, time.perf_counter() - start, head, detail
                    )
                bar.update(1)
    from .results import SimulationResult

    for spec, scen in loaded:
        folder = within(out, "results", spec.name)
        if (
            scen is not None
            and (folder / "manifest.json").is_file()
            and not any(f["kind"] == "scenario" and f["name"] == spec.name for f in failures)
        ):
            results[spec.name] = SimulationResult.read(folder)

    # 3. Scenario notebooks.
    nb_status: dict[tuple[str, str], dict[str, Any]] = {}
    for spec, _scen in loaded:
        if spec.name not in results:
            continue
        res_dir = within(out, "results", spec.name)
        for nb_name, nb_path, extra in scen_nbs:
            folder = within(out, "scenarios", spec.name, nb_name)
            ipynb = folder / f"{safe_name(nb_name)}.ipynb"
            html = folder / f"{safe_name(nb_name)}.html"
            standard = {
                "scenario": str(res_dir / "resolved.yaml"),
                "results_dir": str(res_dir),
                "replications": batch.replications,
                "seed": batch.seed,
                "output_dir": str(folder),
            }
            params = {**_declared(nb_path, standard), **extra}
            key = f"notebook:{spec.name}:{nb_name}"
            fp = _fingerprint(sim_fp[spec.name], params, _file_hash(nb_path), show)
            status = _run_notebook(
                key,
                fp,
                nb_path,
                ipynb,
                html,
                params,
                kernel,
                folder,
                state,
                resume,
                spec.name not in rerun,
                show,
                f"{spec.name}: {nb_name}",
                batch.execution_timeout,
                root=out,
            )
            nb_status[(spec.name, nb_name)] = {"ipynb": ipynb, "html": html, **status}
            (ran if status["ran"] else skipped).append(key)
            if not status["ok"]:
                failures.append(
                    {
                        "kind": "notebook",
                        "name": f"{spec.name}: {nb_name}",
                        "error": status["error"],
                        "detail": status["detail"],
                        "links": _links(out, ipynb, html),
                    }
                )
            bar.update(1)

    # 4. Tables of the batch, then batch-level notebooks.
    names = [s.name for s, _ in loaded if s.name in results]
    comparison = pd.DataFrame()
    if results:
        headline = headline_table(pd.concat([results[n].summary for n in names]))
        _write_table(headline, out / "results" / "headline.csv")
        comparison = _comparison({n: results[n] for n in names})
        _write_table(comparison, out / "results" / "comparison.csv")
        _write_table(comparison, out / "results" / "comparison.parquet")
    batch_status: list[dict[str, Any]] = []
    upstream = _fingerprint([sim_fp.get(n) for n in names])
    for nb_name, nb_path, extra in batch_nbs:
        folder = within(out, "batch", nb_name)
        ipynb = folder / f"{safe_name(nb_name)}.ipynb"
        html = folder / f"{safe_name(nb_name)}.html"
        key = f"batch:{nb_name}"
        if len(names) == 0:
            bar.update(1)
            batch_status.append({"name": nb_name, "ok": False, "links": []})
            failures.append(
                {
                    "kind": "batch notebook",
                    "name": nb_name,
                    "error": "no scenario completed",
                    "detail": "",
                    "links": [],
                }
            )
            continue
        standard = {
            "scenario": str(within(out, "results", names[0]) / "resolved.yaml"),
            "scenarios": [str(within(out, "results", n) / "resolved.yaml") for n in names],
            "results_dirs": [str(within(out, "results", n)) for n in names],
            "replications": batch.replications,
            "seed": batch.seed,
            "output_dir": str(folder),
        }
        params = {**_declared(nb_path, standard), **extra}
        fp = _fingerprint(upstream, params, _file_hash(nb_path), show)
        status = _run_notebook(
            key,
            fp,
            nb_path,
            ipynb,
            html,
            params,
            kernel,
            folder,
            state,
            resume,
            not rerun,
            show,
            nb_name,
            batch.execution_timeout,
            root=out,
        )
        (ran if status["ran"] else skipped).append(key)
        batch_status.append(
            {"name": nb_name, "ok": status["ok"], "links": _links(out, ipynb, html)}
        )
        if not status["ok"]:
            failures.append(
                {
                    "kind": "batch notebook",
                    "name": nb_name,
                    "error": status["error"],
                    "detail": status["detail"],
                    "links": _links(out, ipynb, html),
                }
            )
        bar.update(1)
    bar.close()

    # 5. The index page.
    index = _write_index(
        out,
        batch,
        name,
        loaded,
        results,
        nb_status,
        scen_nbs,
        batch_status,
        comparison,
        failures,
        batch_path,
    )
    return BatchOutcome(out_dir=out, index=index, failures=failures, ran=ran, skipped=skipped)


def _clear_leftovers(out: Path) -> None:
    """Remove what an interrupted earlier run left half-written in the batch folder: temporary
    files and folders (hidden names with ``.tmp`` or ``.old-``, notebooks still ``.running``).
    Finished results are only ever renamed into place, so none of these is one. One batch run
    per output folder at a time."""
    import shutil

    for path in sorted(out.rglob(".*"), key=lambda p: len(p.parts), reverse=True):
        name = path.name
        if ".tmp" in name or ".old-" in name or name.endswith(".running.ipynb"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _declared(notebook: Path, standard: dict[str, Any]) -> dict[str, Any]:
    """The batch's standard parameters that ``notebook`` declares in its parameters cell."""
    import papermill as pm

    try:
        names = set(pm.inspect_notebook(str(notebook)))
    except Exception:  # an unreadable notebook fails when it runs, with its own error
        return standard
    return {k: v for k, v in standard.items() if k in names}


def _unique(
    notebooks: list[tuple[str, Path, dict[str, Any]]],
) -> list[tuple[str, Path, dict[str, Any]]]:
    """The same notebook listed twice (with other parameters) gets ``-2``, ``-3`` ... names."""
    seen: dict[str, int] = {}
    out = []
    for name, path, params in notebooks:
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}-{seen[name]}", path, params))
    return out


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _links(out: Path, ipynb: Path, html: Path) -> list[dict[str, str]]:
    links = []
    if html.exists():
        links.append({"href": html.relative_to(out).as_posix(), "text": "report"})
    if ipynb.exists():
        links.append({"href": ipynb.relative_to(out).as_posix(), "text": "notebook"})
    return links


def _run_notebook(
    key: str,
    fp: str,
    source: Path,
    ipynb: Path,
    html: Path,
    params: dict[str, Any],
    kernel: str,
    folder: Path,
    state: _State,
    resume: bool,
    upstream_unchanged: bool,
    show_code: bool,
    title: str,
    timeout: int | None,
    root: Path | None = None,
) -> dict[str, Any]:
    if resume and upstream_unchanged and state.done(key, fp, ipynb, html):
        return {"ok": True, "ran": False, "error": "", "detail": ""}
    start = time.perf_counter()
    error = detail = ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "outputs.json").unlink(missing_ok=True)
        execute_notebook(source, ipynb, params, kernel, folder, timeout)
    except Exception as exc:
        error, detail = _error_text(exc)
    try:
        if ipynb.exists():
            shown = _without_local_paths(ipynb, root or folder)
            notebook_to_html(shown, html, show_code=show_code, title=title)
    except Exception as exc:
        if not error:
            error, detail = _error_text(exc)
    ok = not error
    state.record(key, fp, ok, time.perf_counter() - start, error, detail)
    return {"ok": ok, "ran": True, "error": error, "detail": detail}


def _local_paths(root: Path) -> list[tuple[str, str]]:
    """(absolute local path, what a shared report shows instead), longest first."""
    import simlib

    pairs = {
        str(root): ".",
        str(Path(simlib.__file__).resolve().parent.parent): "<simlib>",
        sys.prefix: "<python>",
        str(Path.home()): "~",
    }
    with contextlib.suppress(OSError):
        pairs.setdefault(str(root.resolve()), ".")
    return sorted(
        ((k, v) for k, v in pairs.items() if len(k) > 1), key=lambda kv: len(kv[0]), reverse=True
    )


def _without_local_paths(ipynb: Path, root: Path) -> Any:
    """The executed notebook as shown in its HTML report: absolute paths of this machine (the
    batch folder, the kit, the Python installation, the home folder, which names the user)
    turned into relative or neutral forms in every output and cell. The ``.ipynb`` file itself
    is left as executed."""
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    pairs = _local_paths(root)

    def clean(text: str) -> str:
        for path, shown in pairs:
            if path in text:
                text = text.replace(path + os.sep, "" if shown == "." else shown + "/")
                text = text.replace(path, shown)
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            for key in list(value):
                if not (isinstance(value[key], str) and key.startswith("image/")):
                    value[key] = walk(value[key])
            return value
        return value

    for cell in nb.cells:
        cell["source"] = clean(cell.get("source", ""))
        if "outputs" in cell:
            cell["outputs"] = [walk(o) for o in cell["outputs"]]
    return nb


def _write_index(
    out: Path,
    batch: BatchFile,
    name: str,
    loaded: list[tuple[ScenarioSpec, Any]],
    results: dict[str, Any],
    nb_status: dict[tuple[str, str], dict[str, Any]],
    scen_nbs: list[tuple[str, Path, dict[str, Any]]],
    batch_status: list[dict[str, Any]],
    comparison: pd.DataFrame,
    failures: list[dict[str, Any]],
    batch_path: Path,
) -> Path:
    rows = []
    failed_names = {f["name"] for f in failures if f["kind"] == "scenario"}
    for spec, scen in loaded:
        res = results.get(spec.name)
        currency = scen.economics.currency if scen is not None else "USD"
        cells = []
        if res is not None:
            head = headline_table(res).set_index("metric")
            for m in HEADLINE_METRICS:
                r = head.loc[m]
                cells.append(
                    {
                        "mean": format_value(r["mean"], m, currency),
                        "interval": ""
                        if pd.isna(r["half_width"])
                        else format_interval(
                            float("nan"), r["ci_low"], r["ci_high"], m, currency
                        ).removeprefix("– "),
                    }
                )
        else:
            cells = [{"mean": "–", "interval": ""}] * len(HEADLINE_METRICS)
        links = []
        for nb_name, _, _ in scen_nbs:
            st = nb_status.get((spec.name, nb_name))
            if st is None:
                continue
            for link in _links(out, st["ipynb"], st["html"]):
                text = link["text"] if len(scen_nbs) == 1 else f"{nb_name} {link['text']}"
                links.append({"href": link["href"], "text": text})
        if res is not None:
            summary = within(out, "results", spec.name) / "summary.csv"
            links.append({"href": summary.relative_to(out).as_posix(), "text": "summary.csv"})
        ok = (
            res is not None
            and spec.name not in failed_names
            and all(st.get("ok") for (n, _), st in nb_status.items() if n == spec.name)
        )
        rows.append({"name": spec.name, "ok": ok, "cells": cells, "links": links})

    charts = []
    if results:
        try:
            charts = _index_charts(results, comparison)
        except Exception as exc:  # a chart must not cost the index
            head, detail = _error_text(exc)
            failures.append(
                {
                    "kind": "index chart",
                    "name": "comparison charts",
                    "error": head,
                    "detail": detail,
                    "links": [],
                }
            )
    text = render_index(
        title=batch.title or f"Batch {name}",
        batch_name=name,
        description=batch.description,
        generated=_now(),
        replications=batch.replications,
        seed=batch.seed,
        scenarios=rows,
        metrics=HEADLINE_METRICS,
        batch_reports=batch_status,
        charts=charts,
        failures=failures,
        parameters=yaml.safe_dump(
            batch.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
        ),
        versions=_versions(),
    )
    return write_text_atomic(out / "index.html", text)


def _index_charts(results: dict[str, Any], comparison: pd.DataFrame) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from . import plots
    from .reports import figure_data_uri

    summary = pd.concat([r.summary for r in results.values()], ignore_index=True)
    monthly = pd.concat([r.monthly for r in results.values()], ignore_index=True)
    charts = [
        {
            "title": "Headline metrics by scenario",
            "uri": figure_data_uri(
                plots.metric_bars(
                    summary, ("ltv_mean", "logo_churn_monthly", "arpa_end", "net_value")
                )
            ),
        },
        {"title": "MRR by scenario", "uri": figure_data_uri(plots.overlaid_mrr(monthly))},
    ]
    if len(results) > 1 and not comparison.empty:
        charts.append(
            {
                "title": "Paired differences against the baseline",
                "uri": figure_data_uri(
                    plots.forest_plot(
                        comparison, ("ltv_mean", "logo_churn_monthly", "arpa_end", "net_value")
                    )
                ),
            }
        )
    return charts
