"""Run inputs (an imported customer book) are read once, before the replications, and handed
to every replication, so workers never read this machine's files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import simlib
from simlib.engine import load_run_inputs
from simlib.errors import DataError
from simlib.experiment import ReplicationTask, run_task
from simlib.model import book_import

BOOK = """id,segment,plan,mrr,contract,tenure_months,satisfaction
acme,smb,team,,monthly,3,0.9
globex,smb,,60,monthly,0,
initech,smb,starter,,annual,5,0.2
"""

SCENARIO = """extends: textbook
horizon_months: 6
population:
  from_csv: book.csv
  segments:
    smb:
      share: 1.0
      plans: {starter: 49, team: 149}
"""


@pytest.fixture
def book_scenario(tmp_path: Path) -> Path:
    (tmp_path / "book.csv").write_text(BOOK, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_the_book_is_read_once_for_all_replications(book_scenario: Path, monkeypatch) -> None:
    reads: list[str] = []
    real = book_import.read_book

    def counting(path, scenario):  # type: ignore[no-untyped-def]
        reads.append(str(path))
        return real(path, scenario)

    monkeypatch.setattr(book_import, "read_book", counting)
    result = simlib.simulate(book_scenario, replications=4, seed=2, executor="local", workers=1)
    assert len(reads) == 1
    assert len(result.summary) == 4 and (result.accounts.groupby("replication").size() >= 3).all()


def test_a_task_runs_where_the_file_is_not(book_scenario: Path) -> None:
    scenario = simlib.load_scenario(book_scenario)
    inputs = load_run_inputs(scenario)
    assert len(inputs["book"]) == 3
    (book_scenario.parent / "book.csv").unlink()  # the worker's machine has no such file
    out = run_task(ReplicationTask(scenario, 2, 0, inputs=inputs))
    assert out.error is None
    assert out.accounts is not None
    opening = out.accounts[out.accounts["start_month"] == 0]
    annual = 49.0 * (1 - scenario.contracts.annual_discount)  # starter, less the annual discount
    assert opening["initial_mrr"].tolist() == pytest.approx([149.0, 60.0, annual])


def test_same_results_whether_read_before_or_in_the_replication(book_scenario: Path) -> None:
    scenario = simlib.load_scenario(book_scenario)
    ahead = run_task(ReplicationTask(scenario, 2, 1, inputs=load_run_inputs(scenario)))
    inside = run_task(ReplicationTask(scenario, 2, 1))
    assert ahead.accounts is not None and inside.accounts is not None
    pd.testing.assert_frame_equal(ahead.accounts, inside.accounts)


def test_a_bad_book_fails_before_any_replication_runs(book_scenario: Path) -> None:
    (book_scenario.parent / "book.csv").write_text(BOOK + "bad,smb,gold,,monthly,1,\n")
    with pytest.raises(DataError, match=r"book\.csv"):
        simlib.simulate(book_scenario, replications=3, executor="local", workers=1)
