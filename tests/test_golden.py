"""Every preset's results at seed 1 stay bit-identical to the pinned golden outputs.

A failure here means a change moved results. If that was intended, run ``make golden`` and say
why in the commit message; if not, the change broke bit-identity (common random numbers, the
order of MRR changes, the sum of churn-odds terms ...).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

import golden

from simlib.scenario import preset_names

DIGESTS = json.loads((golden.HERE / "accounts.json").read_text())


def test_every_preset_is_pinned() -> None:
    assert sorted(DIGESTS) == sorted(preset_names())


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_preset_matches_golden(name: str) -> None:
    summary, monthly, accounts = golden.simulate_preset(name)
    for kind, table in (("summary", summary), ("monthly", monthly)):
        pinned = (golden.HERE / f"{name}.{kind}.csv").read_text()
        now = golden.to_csv_text(table)
        if now != pinned:
            old, new = pinned.splitlines(), now.splitlines()
            first = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                min(len(old), len(new)),
            )
            header = old[0] if old else ""
            pytest.fail(
                f"{name} {kind} table moved at line {first + 1} (columns {header}):\n"
                f"  pinned: {old[first] if first < len(old) else '<none>'}\n"
                f"  now:    {new[first] if first < len(new) else '<none>'}"
            )
    assert golden.table_digest(accounts) == DIGESTS[name], f"{name} accounts table moved"


def test_digest_sees_a_one_ulp_change() -> None:
    _, _, accounts = golden.simulate_preset("textbook")
    before = golden.table_digest(accounts)
    accounts.loc[0, "ltv"] = float(accounts.loc[0, "ltv"]) * (1 + 2**-52)
    assert golden.table_digest(accounts) != before
