"""The plan of a batch: the batch file's model, reading and validating it, and the tasks it
expands into, each with a fingerprint of its inputs (``--resume`` reuses a finished task whose
fingerprint is unchanged).

A batch expands into one simulation task per scenario (``simulate:<scenario>``), one notebook
task per scenario and scenario notebook (``notebook:<scenario>:<notebook>``) and one per
batch-level notebook (``batch:<notebook>``). A simulation's fingerprint covers the resolved
scenario, the replications and the seed; a notebook's covers its upstream simulations, its
parameters, the notebook file and whether code is shown.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config.loader import parse_yaml
from ..errors import ScenarioError, UserInputError
from ..paths import safe_name, within
from .notebooks import declared_parameters, notebooks_dir

__all__ = [
    "BatchError",
    "BatchFile",
    "CompareSpec",
    "GridSpec",
    "NotebookRef",
    "NotebookSource",
    "NotebookSpec",
    "NotebookTask",
    "Notebooks",
    "Overrides",
    "ScenarioEntry",
    "ScenarioSpec",
    "SimulationTask",
    "batch_notebook_task",
    "check_common_set",
    "expand_scenarios",
    "fingerprint",
    "load_batch",
    "notebook_sources",
    "own_overrides",
    "scenario_notebook_task",
    "simulation_task",
]


class BatchError(UserInputError):
    """A batch file is invalid (exit code 2); the message names the file and the key."""


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

    scenario: list[NotebookRef] = Field(
        default_factory=lambda: cast("list[NotebookRef]", ["scenario_report"])
    )
    batch: list[NotebookRef] = Field(
        default_factory=lambda: cast("list[NotebookRef]", ["policy_comparison"])
    )


class CompareSpec(_Strict):
    """A question of the batch: each variant against its own counterfactual, the baseline,
    paired (same book, same seed). Names are scenario names of the batch."""

    baseline: str = Field(min_length=1, description="the counterfactual: a scenario's name")
    variants: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    question: str | None = Field(default=None, max_length=300, description="shown on the index")
    figure: str = Field(default="net_value", description="the figure the answer is read on")


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
    compare: list[CompareSpec] = Field(
        default_factory=list, description="questions: variants against their baseline"
    )
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
    try:  # the scenario loader's YAML: duplicate keys, complex keys and alias bombs refused
        doc = parse_yaml(text, str(path))
    except ScenarioError as exc:
        raise BatchError(f"{path}: " + "; ".join(m for _, m in exc.problems)) from None
    if not isinstance(doc, dict):
        raise BatchError(f"{path}: a batch file is a YAML mapping")
    try:
        return BatchFile.model_validate(doc)
    except ValidationError as exc:
        raise BatchError(_validation_message(path, exc)) from None


def _validation_message(path: Path, exc: ValidationError) -> str:
    """One line per error: the dotted key path (without pydantic's union-member names) and
    what is wrong."""
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
    return "\n".join(lines)


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
        else:
            out.extend(_expand_grid(entry.grid, common, base))
    return out


def _expand_grid(g: GridSpec, common: list[str], base: Path) -> list[ScenarioSpec]:
    """One scenario per combination of the grid's values, named after the values."""
    out: list[ScenarioSpec] = []
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


def check_common_set(batch: BatchFile, batch_path: Path) -> None:
    """Check the batch-wide ``set`` before anything runs: applied to each scenario the batch
    names (each distinct preset or file once), it must load wherever the scenario loads without
    it. Otherwise a :class:`BatchError` names the batch file and each key of ``set`` with what
    is wrong (exit code 2). A scenario that does not load even on its own is left to the run,
    which records it as that scenario's failure."""
    from ..plugins import load_scenario  # loads, then checks plug-in names

    common = _override_list(batch.set)
    if not common:
        return
    base = batch_path.resolve().parent
    refs = [e.scenario if e.grid is None else e.grid.scenario for e in batch.scenarios]
    for ref in dict.fromkeys(_resolve_ref(r, base) for r in refs if r is not None):
        try:
            load_scenario(ref, common)
        except UserInputError as exc:
            try:
                load_scenario(ref, [])
            except Exception:
                continue  # broken on its own: that scenario's failure, recorded by the run
            raise BatchError(_common_set_message(batch_path, ref, exc)) from None


def _common_set_message(batch_path: Path, ref: str, exc: UserInputError) -> str:
    """``BATCH: set: KEY: what is wrong`` for each problem (scenario ``ref`` named)."""
    problems = getattr(exc, "problems", None) or [("", str(exc))]
    lines = [f"{batch_path}: set: invalid for scenario {ref!r} (nothing was run)"]
    for key, message in problems:
        key = "set" if key in ("", "--set") else f"set.{key}"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def own_overrides(batch: BatchFile, spec: ScenarioSpec) -> list[str]:
    """The overrides of ``spec`` beyond the batch's common ``set``."""
    return spec.overrides[len(_override_list(batch.set)) :]


# ------------------------------------------------------------------------------------------
# Notebooks


class NotebookSource(NamedTuple):
    """A notebook of the batch: its name in the batch folder, its file, its extra parameters."""

    name: str
    path: Path
    parameters: dict[str, Any]


def _notebook_source(ref: str | NotebookSpec, base: Path) -> NotebookSource:
    spec = ref if isinstance(ref, NotebookSpec) else NotebookSpec(notebook=ref)
    p = Path(spec.notebook)
    candidates = [notebooks_dir() / f"{spec.notebook}.ipynb"] if p.suffix != ".ipynb" else []
    if p.suffix == ".ipynb":
        candidates += [base / p, p, notebooks_dir() / p]
    for c in candidates:
        if c.is_file():
            return NotebookSource(p.stem, c.resolve(), spec.parameters)
    raise BatchError(f"notebooks: no notebook {spec.notebook!r} (looked in {notebooks_dir()})")


def notebook_sources(refs: list[NotebookRef], base: Path) -> list[NotebookSource]:
    """The notebooks ``refs`` name (a name in the kit's folder, or a path relative to ``base``),
    or :class:`BatchError`. The same notebook listed twice (with other parameters) gets ``-2``,
    ``-3`` ... names."""
    seen: dict[str, int] = {}
    out = []
    for name, path, params in [_notebook_source(r, base) for r in refs]:
        seen[name] = seen.get(name, 0) + 1
        out.append(
            NotebookSource(name if seen[name] == 1 else f"{name}-{seen[name]}", path, params)
        )
    return out


# ------------------------------------------------------------------------------------------
# Tasks and their fingerprints


def fingerprint(*parts: Any) -> str:
    """A short hash of ``parts`` (JSON, keys sorted, anything else as its ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class SimulationTask:
    """Simulate one scenario into ``folder`` (``results/<scenario>/``)."""

    name: str
    scenario: Any
    replications: int
    seed: int
    fingerprint: str
    folder: Path

    @property
    def key(self) -> str:
        return f"simulate:{self.name}"


def simulation_task(out: Path, batch: BatchFile, name: str, scenario: Any) -> SimulationTask:
    """The task simulating the loaded ``scenario`` with the batch's replications and seed."""
    from ..scenario import scenario_hash

    return SimulationTask(
        name=name,
        scenario=scenario,
        replications=batch.replications,
        seed=batch.seed,
        fingerprint=fingerprint(scenario_hash(scenario), batch.replications, batch.seed),
        folder=within(out, "results", name),
    )


@dataclass(frozen=True)
class NotebookTask:
    """Execute one notebook into ``ipynb`` and render it to ``html``, both in ``folder``."""

    key: str
    title: str
    source: Path
    folder: Path
    ipynb: Path
    html: Path
    parameters: dict[str, Any]
    fingerprint: str


def _notebook_task(
    key: str,
    title: str,
    notebook: NotebookSource,
    folder: Path,
    standard: dict[str, Any],
    upstream: str,
    show_code: bool,
) -> NotebookTask:
    """The task for ``notebook``: the standard parameters it declares, then its own."""
    params = {**declared_parameters(notebook.path, standard), **notebook.parameters}
    return NotebookTask(
        key=key,
        title=title,
        source=notebook.path,
        folder=folder,
        ipynb=folder / f"{safe_name(notebook.name)}.ipynb",
        html=folder / f"{safe_name(notebook.name)}.html",
        parameters=params,
        fingerprint=fingerprint(upstream, params, _file_hash(notebook.path), show_code),
    )


def scenario_notebook_task(
    out: Path,
    batch: BatchFile,
    scenario: str,
    notebook: NotebookSource,
    upstream: str,
    show_code: bool,
) -> NotebookTask:
    """``notebook`` for one scenario, reading its results; ``upstream`` is the fingerprint of
    the scenario's simulation."""
    res_dir = within(out, "results", scenario)
    folder = within(out, "scenarios", scenario, notebook.name)
    standard = {
        "scenario": str(res_dir / "resolved.yaml"),
        "results_dir": str(res_dir),
        "replications": batch.replications,
        "seed": batch.seed,
        "output_dir": str(folder),
    }
    key = f"notebook:{scenario}:{notebook.name}"
    title = f"{scenario}: {notebook.name}"
    return _notebook_task(key, title, notebook, folder, standard, upstream, show_code)


def batch_notebook_task(
    out: Path,
    batch: BatchFile,
    names: list[str],
    notebook: NotebookSource,
    upstream: str,
    show_code: bool,
) -> NotebookTask:
    """``notebook`` once for the batch, reading every finished scenario (``names``, baseline
    first, at least one); ``upstream`` is the fingerprint of their simulations."""
    folder = within(out, "batch", notebook.name)
    standard = {
        "scenario": str(within(out, "results", names[0]) / "resolved.yaml"),
        "scenarios": [str(within(out, "results", n) / "resolved.yaml") for n in names],
        "results_dirs": [str(within(out, "results", n)) for n in names],
        "replications": batch.replications,
        "seed": batch.seed,
        "output_dir": str(folder),
    }
    key = f"batch:{notebook.name}"
    return _notebook_task(key, notebook.name, notebook, folder, standard, upstream, show_code)
