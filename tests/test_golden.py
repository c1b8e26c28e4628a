"""Every preset's results at seed 1 stay bit-identical to the pinned golden outputs.

A failure here means a change moved results. If that was intended, run ``make golden`` and say
why in the commit message; if not, the change broke bit-identity (common random numbers, the
order of MRR changes, the sum of churn-odds terms ...).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

import golden

from simlib.scenario import preset_names

DIGESTS = json.loads((golden.HERE / "accounts.json").read_text())


def test_every_preset_is_pinned() -> None:  # a new preset: run make golden
    assert sorted(DIGESTS) == sorted(preset_names())


def _moved(pinned_text: str, now_text: str) -> str | None:
    """Where the table now differs from the pinned one in a pinned column (None: nowhere).

    A column the pinned file does not have (a figure added since) is not a difference: the
    pinned results stay what they were; ``make golden`` pins the new column too."""
    pinned = pd.read_csv(io.StringIO(pinned_text), dtype=str, keep_default_na=False)
    now = pd.read_csv(io.StringIO(now_text), dtype=str, keep_default_na=False)
    missing = [c for c in pinned.columns if c not in now.columns]
    if missing:
        return f"columns {missing} are gone"
    if len(now) != len(pinned):
        return f"{len(now)} rows instead of {len(pinned)}"
    for column in pinned.columns:
        differs = (now[column] != pinned[column]).to_numpy()
        if differs.any():
            i = int(differs.argmax())
            return (
                f"column {column!r} at row {i + 1}: pinned {pinned[column].iloc[i]}, "
                f"now {now[column].iloc[i]}"
            )
    return None


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_preset_matches_golden(name: str) -> None:
    summary, monthly, accounts = golden.simulate_preset(name)
    for kind, table in (("summary", summary), ("monthly", monthly)):
        pinned = (golden.HERE / f"{name}.{kind}.csv").read_text()
        moved = _moved(pinned, golden.to_csv_text(table))
        if moved:
            pytest.fail(f"{name} {kind} table moved: {moved}")
    pinned_columns = DIGESTS[name]
    now = golden.table_digest(
        accounts[[c for c in accounts.columns if c in pinned_columns["columns"]]]
    )
    assert now == pinned_columns["digest"], f"{name} accounts table moved"


def test_the_comparison_sees_a_moved_value_and_allows_a_new_column() -> None:
    pinned = "a,b\n1,2\n3,4\n"
    assert _moved(pinned, "a,b,c\n1,2,9\n3,4,9\n") is None
    assert "column 'b' at row 2" in str(_moved(pinned, "a,b\n1,2\n3,5\n"))
    assert "gone" in str(_moved(pinned, "a\n1\n3\n"))


def test_digest_sees_a_one_ulp_change() -> None:
    _, _, accounts = golden.simulate_preset("textbook")
    before = golden.table_digest(accounts)
    accounts.loc[0, "ltv"] = float(accounts.loc[0, "ltv"]) * (1 + 2**-52)
    assert golden.table_digest(accounts) != before
