"""Executors: one interface, and results identical bit for bit whichever runs them."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import dask_executor

import simlib
from simlib.executors import DaskExecutor, LocalExecutor, available_cpus, get_executor

SMALL = ["population.initial_accounts=300", "horizon_months=24"]


def _square(x: int) -> int:
    return x * x


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_maps_in_order(workers):
    with get_executor("local", workers=workers) as ex:
        assert isinstance(ex, LocalExecutor) and ex.workers == workers
        assert list(ex.map(_square, range(7))) == [x * x for x in range(7)]
        pairs = sorted(ex.imap_unordered(_square, [3, 4]))
        assert pairs == [(0, 9), (1, 16)]
        with pytest.raises(ValueError, match="three"):
            list(ex.map(_fail_on_three, range(5)))


def test_get_executor_defaults_and_bad_input():
    with get_executor() as ex:
        assert isinstance(ex, LocalExecutor) and ex.workers == available_cpus()
    with pytest.raises(simlib.UserInputError, match="unknown executor 'spark'"):
        get_executor("spark")
    with pytest.raises(simlib.UserInputError, match="workers must be >= 1"):
        get_executor("local", workers=0)
    with pytest.raises(simlib.UserInputError, match="for the dask executor"):
        get_executor("local", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(simlib.UserInputError, match="unknown executor"):
        simlib.simulate("textbook", executor="threads")


def _tables(result: simlib.SimulationResult) -> dict[str, pd.DataFrame]:
    return {"summary": result.summary, "monthly": result.monthly, "accounts": result.accounts}


@pytest.mark.slow
def test_results_are_identical_on_every_executor(tmp_path):
    """local with 1 worker (in this process), with 2 (processes, each storing its results in the
    cache), and Dask on a LocalCluster of 2 worker processes: the same tables bit for bit."""
    scenario = simlib.load_scenario("b2b_saas", SMALL)
    runs = {
        "local-1": simlib.simulate(scenario, replications=4, seed=8, workers=1),
        "local-2": simlib.simulate(scenario, replications=4, seed=8, workers=2),
        "local-2-cache": simlib.simulate(
            scenario, replications=4, seed=8, workers=2, cache=tmp_path / "local"
        ),
    }
    comparisons = {
        "local-2": simlib.compare(
            [scenario, "textbook"], replications=3, seed=8, overrides=None, workers=2
        )
    }
    with dask_executor(2) as (_, ex):
        assert isinstance(ex, DaskExecutor) and ex.workers == 2
        runs["dask"] = simlib.simulate(scenario, replications=4, seed=8, executor=ex)
        runs["dask-cache"] = simlib.simulate(
            scenario, replications=4, seed=8, executor=ex, cache=tmp_path / "dask"
        )
        comparisons["dask"] = simlib.compare(
            [scenario, "textbook"], replications=3, seed=8, executor=ex
        )
    reference = _tables(runs["local-1"])
    for name, result in runs.items():
        for table, df in _tables(result).items():
            pd.testing.assert_frame_equal(df, reference[table], check_exact=True, obj=name)
    pd.testing.assert_frame_equal(
        comparisons["dask"].table, comparisons["local-2"].table, check_exact=True
    )
    # each replication was stored once, by the workers (local) or by this process (Dask)
    assert len(list((tmp_path / "local").glob("*/*/seed-8/rep-*"))) == 4
    assert len(list((tmp_path / "dask").glob("*/*/seed-8/rep-*"))) == 4


# --------------------------------------------------------------------------------------------
# A local worker process that dies (SIGKILL, out of memory) costs nothing but time


def _die_in(monkeypatch, tmp_path, replication: int, once: bool) -> None:
    """Make replication ``replication`` kill its own worker process: once (a marker file in
    ``tmp_path`` records it, so the re-run succeeds) or every time. The local pool forks its
    workers, so they run the patched function. Returns a list that counts the deaths seen."""
    import os
    import signal

    from simlib import experiment

    original = experiment._replication  # what run_task calls in the worker
    marker = tmp_path / "killed"
    parent = os.getpid()

    def dying(scenario, seed, rep, on_month, inputs, panel):
        if rep == replication and os.getpid() != parent:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.close(fd)
                first = True
            except FileExistsError:
                first = False
            if first or not once:
                os.kill(os.getpid(), signal.SIGKILL)
        return original(scenario, seed, rep, on_month, inputs, panel)

    monkeypatch.setattr(experiment, "_replication", dying)


def test_a_killed_local_worker_is_replaced_and_the_tables_are_identical(tmp_path, monkeypatch):
    scenario = simlib.load_scenario("b2b_saas", SMALL)
    reference = simlib.simulate(scenario, replications=4, seed=3, workers=1)
    _die_in(monkeypatch, tmp_path, replication=2, once=True)
    result = simlib.simulate(scenario, replications=4, seed=3, workers=2, cache=tmp_path / "c")
    assert (tmp_path / "killed").exists(), "no worker was killed"
    for table, df in _tables(result).items():
        pd.testing.assert_frame_equal(df, _tables(reference)[table], check_exact=True, obj=table)
    assert len(list((tmp_path / "c").glob("*/*/seed-3/rep-*"))) == 4


def test_a_worker_that_keeps_dying_is_reported_by_replication(tmp_path, monkeypatch):
    from simlib.executors import LocalExecutor

    scenario = simlib.load_scenario("b2b_saas", SMALL)
    _die_in(monkeypatch, tmp_path, replication=1, once=False)
    with pytest.raises(simlib.SimlibError, match=r"died 3 times .*b2b_saas replication 1\b"):
        simlib.simulate(scenario, replications=3, seed=3, workers=2)
    assert LocalExecutor.restarts == 2
