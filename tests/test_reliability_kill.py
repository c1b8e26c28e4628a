"""Nothing finished is lost: a batch killed (SIGKILL) at random moments and resumed gives exactly
the tables of an uninterrupted batch; a Dask worker killed mid-run costs nothing but time; the
rendered reports fetch nothing from the network and show no local path or user name.

Kill times come from a fixed-seed generator. The counts of trials survived are printed (see
the README, "Reliability").
"""

from __future__ import annotations

import getpass
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import dask_executor

import simlib
from simlib.reports import external_references

ROOT = Path(__file__).resolve().parent.parent
KILL_SEED = 20_261_125
KILL_TRIALS = 5

TINY_BATCH = """\
name: tiny
replications: 3
seed: 5
set: {population.initial_accounts: 400, horizon_months: 24}
scenarios:
  - scenario: b2b_saas_no_offers
  - name: stronger satisfaction link
    scenario: b2b_saas_no_offers
    set: {churn.satisfaction_effect: 4.0}
  - scenario: coverage_none
  - scenario: textbook
notebooks: {scenario: [], batch: []}
"""

#: Result files compared byte for byte (manifest.json holds wall-clock seconds, so it is not).
TABLES = ("monthly.parquet", "accounts.parquet", "summary.parquet", "summary.csv", "resolved.yaml")


def _batch(batch: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "simlib", "batch", str(batch), "-q", "--workers", "1"]
    return subprocess.Popen(
        [*command, "--out", str(out), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=batch.parent,
    )


def _tables(out: Path) -> dict[str, bytes]:
    """Every result table of a batch folder, by relative path."""
    files = {}
    for path in sorted((out / "results").rglob("*")):
        if path.is_file() and (path.name in TABLES or path.parent == out / "results"):
            files[path.relative_to(out).as_posix()] = path.read_bytes()
    return files


@pytest.mark.slow
def test_batch_killed_at_random_moments_resumes_to_identical_tables(tmp_path: Path) -> None:
    batch = tmp_path / "tiny.yaml"
    batch.write_text(TINY_BATCH, encoding="utf-8")
    reference = tmp_path / "reference"
    start = time.perf_counter()
    proc = _batch(batch, reference)
    _, err = proc.communicate(timeout=300)
    duration = time.perf_counter() - start
    assert proc.returncode == 0, err.decode()
    expected = _tables(reference)
    assert len(expected) == 4 * len(TABLES) + 3  # + comparison.csv/.parquet, headline.csv

    rng = random.Random(KILL_SEED)
    survived = 0
    stages: list[int] = []  # scenarios finished when each kill landed
    for trial in range(KILL_TRIALS):
        out = tmp_path / f"trial-{trial}"
        kills = 0
        resume: list[str] = []
        # kill once or twice (the second time while resuming), then resume to the end
        for _ in range(1 + trial % 2):
            proc = _batch(batch, out, *resume)
            time.sleep(rng.uniform(0.15, 0.8) * duration)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                stages.append(len(list(out.glob("results/*/manifest.json"))))
            proc.wait(timeout=300)
            resume = ["--resume"]
        proc = _batch(batch, out, "--resume")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        got = _tables(out)
        assert got.keys() == expected.keys(), f"trial {trial}"
        for name in expected:
            assert got[name] == expected[name], f"trial {trial}: {name} differs"
        # nothing duplicated, nothing half-written left behind
        leftovers = [p for p in out.rglob(".*") if ".tmp" in p.name or ".old-" in p.name]
        assert leftovers == [], leftovers
        state = json.loads((out / "run.json").read_text(encoding="utf-8"))["tasks"]
        assert sorted(state) == sorted(
            json.loads((reference / "run.json").read_text(encoding="utf-8"))["tasks"]
        )
        assert all(t["ok"] for t in state.values())
        index = (out / "index.html").read_text(encoding="utf-8")
        assert index.count('class="scenario-row') == 4
        survived += kills > 0
    print(
        f"kill/resume: {len(stages)} SIGKILLs in {survived} of {KILL_TRIALS} trials (scenarios "
        f"finished at each kill: {stages}); every resume gave identical tables"
    )
    assert survived >= KILL_TRIALS - 1  # the kill times land inside the run


@pytest.mark.slow
def test_dask_worker_killed_mid_run_gives_identical_results() -> None:
    from simlib.executors import DaskExecutor

    scenario = simlib.load_scenario(
        "b2b_saas_no_offers", ["population.initial_accounts=50000", "horizon_months=120"]
    )
    reference = simlib.simulate(scenario, replications=4, seed=7, workers=1)
    killed: list[int] = []
    with dask_executor(2) as (cluster, ex):
        assert isinstance(ex, DaskExecutor) and ex.retries >= 1
        client = ex.client

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(0.4)  # well inside the task (a replication takes about 1 s)
                    for nanny in cluster.workers.values():
                        if nanny.worker_address in busy and nanny.pid:
                            killed.append(nanny.pid)
                            os.kill(nanny.pid, signal.SIGKILL)
                            return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        result = simlib.simulate(scenario, replications=4, seed=7, executor=ex)
        killer.join(timeout=60)
    assert len(killed) == 1, "no worker was killed"
    for table in ("summary", "monthly", "accounts"):
        pd.testing.assert_frame_equal(
            getattr(result, table), getattr(reference, table), check_exact=True, obj=table
        )
    print("dask: 1 worker killed mid-run, results identical")


REPORT_BATCH = """\
name: reports
replications: 2
seed: 1
set: {population.initial_accounts: 200, horizon_months: 24}
scenarios:
  - scenario: b2b_saas_no_offers
  - scenario: textbook
notebooks:
  scenario: [scenario_report]
  batch: [policy_comparison]
"""


@pytest.mark.slow
def test_rendered_reports_fetch_nothing_and_show_no_local_paths(tmp_path: Path) -> None:
    """The ci batch's notebooks on a smaller batch: every page offline, no local path."""
    batch = tmp_path / "reports.yaml"
    batch.write_text(REPORT_BATCH, encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "simlib", "batch", str(batch), "-q", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 1 + 2 + 1  # the index, a report per scenario, one for the batch
    forbidden = {str(tmp_path), str(tmp_path.resolve()), str(Path.home()), str(ROOT)}
    user = getpass.getuser()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert external_references(text) == [], page
        for needle in ('src="http', "src='http", 'src="//', 'href="http', 'href="//'):
            assert needle not in text, (page, needle)
        for path in forbidden:
            assert path not in text, (page, path)
        for form in (f"/{user}/", f"\\{user}\\", f"/home/{user}", f"/Users/{user}"):
            assert form not in text, (page, form)
    # the notebooks themselves keep what they executed with (paths included)
    executed = out / "scenarios" / "textbook" / "scenario_report" / "scenario_report.ipynb"
    assert str(out) in executed.read_text(encoding="utf-8")
