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

The package, by job: :mod:`~simlib.batch.plan` (the batch file, its scenarios and notebooks, tasks
with fingerprints), :mod:`~simlib.batch.runner` (running the tasks, ``--resume``, the progress
bar), :mod:`~simlib.batch.failures` (the kinds of failure and their records),
:mod:`~simlib.batch.notebooks` (papermill, the kernel, HTML rendering) and
:mod:`~simlib.batch.index` (the index page).
"""

from __future__ import annotations

from .failures import Failure, FailureKind
from .index import write_index
from .notebooks import ensure_kernel, execute_notebook, notebooks_dir, render_html
from .plan import (
    BatchError,
    BatchFile,
    GridSpec,
    NotebookRef,
    Notebooks,
    NotebookSpec,
    NotebookTask,
    Overrides,
    ScenarioEntry,
    ScenarioSpec,
    SimulationTask,
    expand_scenarios,
    load_batch,
)
from .runner import BatchOutcome, RunState, run_batch

__all__ = [
    "BatchError",
    "BatchFile",
    "BatchOutcome",
    "Failure",
    "FailureKind",
    "GridSpec",
    "NotebookRef",
    "NotebookSpec",
    "NotebookTask",
    "Notebooks",
    "Overrides",
    "RunState",
    "ScenarioEntry",
    "ScenarioSpec",
    "SimulationTask",
    "ensure_kernel",
    "execute_notebook",
    "expand_scenarios",
    "load_batch",
    "notebooks_dir",
    "render_html",
    "run_batch",
    "write_index",
]
