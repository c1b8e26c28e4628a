"""Shared fixtures and helpers for the test suite."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy.special import betaln

import simlib
from simlib.engine import Simulation

#: Inputs tried by the fuzz tests, by kind; printed in the test summary.
FUZZ_COUNTS: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter) -> None:
    if FUZZ_COUNTS:
        parts = ", ".join(f"{n:,} {kind}" for kind, n in sorted(FUZZ_COUNTS.items()))
        terminalreporter.write_line(f"fuzzing: tried {parts}")


@contextlib.contextmanager
def dask_executor(workers: int) -> Iterator[tuple[Any, Any]]:
    """``(cluster, executor)``: a Dask executor on a LocalCluster of ``workers`` worker
    processes (one thread each), started here and stopped on exit."""
    import logging

    from distributed import LocalCluster

    from simlib.executors import get_executor

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as cluster,
        get_executor("dask", scheduler=cluster.scheduler_address) as ex,
    ):
        yield cluster, ex


def sbg_survival(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    """Shifted-beta-geometric survival S(t) = B(alpha, beta + t) / B(alpha, beta)."""
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def waterfall_reconciles(monthly: Any) -> bool:
    """The MRR waterfall of a monthly table holds in every month: mrr(m) = mrr(m - 1) + new +
    expansion - contraction - churned (to rounding)."""
    mrr = monthly["mrr"].to_numpy()
    flows = (
        monthly["new_mrr"]
        + monthly["expansion_mrr"]
        - monthly["contraction_mrr"]
        - monthly["churned_mrr"]
    ).to_numpy()
    return bool(np.allclose(mrr[1:], mrr[:-1] + flows[1:], rtol=1e-12, atol=1e-6))


def survived(accounts, t: np.ndarray) -> np.ndarray:
    """Share of accounts that survived t renewal decisions (lifetime longer than t months)."""
    life = accounts["lifetime_months"].to_numpy()
    return np.array([(life > k).mean() for k in t])


@pytest.fixture(scope="session")
def run_cli(tmp_path_factory):
    """Call ``simlib`` in-process; returns (exit code, stdout, stderr)."""
    import contextlib
    import io

    from simlib.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
        return code, out.getvalue(), err.getvalue()

    return run


@pytest.fixture(scope="session")
def textbook_default():
    """One replication of the textbook preset (10,000 accounts, 36 months), seed 11."""
    return simlib.simulate("textbook", seed=11)


class Recorder:
    """Copies of book columns after each month's open calls (``Simulation(on_month=...)``)."""

    def __init__(self, *columns: str) -> None:
        self.columns = columns
        self.sim: Simulation | None = None
        self.months: list[dict[str, np.ndarray]] = []

    def __call__(self, month: int) -> None:
        assert self.sim is not None and month == len(self.months)
        book = self.sim.book
        self.months.append({c: getattr(book, c).copy() for c in self.columns})


def run_recorded(
    preset: str, overrides: list[str], seed: int, columns: tuple[str, ...] = ()
) -> tuple[Simulation, Recorder]:
    """Run ``preset`` with ``overrides`` at ``seed``, recording ``columns`` month by month."""
    rec = Recorder(*columns)
    sim = Simulation(simlib.load_scenario(preset, overrides), seed=seed, on_month=rec)
    rec.sim = sim
    sim.run()
    return sim, rec
