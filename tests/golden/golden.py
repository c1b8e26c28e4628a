"""Golden outputs: every preset simulated at seed 1 with two replications, pinned to the bit.

What is pinned, per preset, in this folder:

* ``<preset>.summary.csv``: the summary table (every figure, 17 significant digits, so a float
  read back is the float written);
* ``<preset>.monthly.csv``: the monthly table, likewise;
* ``accounts.json``: a SHA-256 digest of each preset's accounts table (its values, column by
  column; too large to keep as text) and the columns it covers.

A column added since (a new figure, a new mechanism's column) is not a change of the pinned
results; ``make golden`` pins it too.

A change that is meant to change results refreshes them with ``make golden`` (this module run as
a script with ``--refresh``) and says so in its commit message; any other change leaves them as
they are, and ``tests/test_golden.py`` proves it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from simlib.experiment import run_replication
from simlib.scenario import load_scenario, preset_names

HERE = Path(__file__).resolve().parent
SEED = 1
REPLICATIONS = 2
FLOAT_FORMAT = "%.17g"


def simulate_preset(name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(summary, monthly, accounts) of preset ``name`` at the golden seed, in-process."""
    scenario = load_scenario(name)
    monthly, accounts, rows = [], [], []
    for replication in range(REPLICATIONS):
        m, a, row, _ = run_replication(scenario, SEED, replication)
        monthly.append(m)
        accounts.append(a)
        rows.append(row)
    return (
        pd.DataFrame(rows),
        pd.concat(monthly, ignore_index=True),
        pd.concat(accounts, ignore_index=True),
    )


def table_digest(table: pd.DataFrame) -> str:
    """SHA-256 over a table's column names and values (categoricals by label, nulls marked)."""
    digest = hashlib.sha256()
    for column in table.columns:
        series = table[column]
        digest.update(column.encode())
        numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        if not numeric or isinstance(series.dtype, pd.CategoricalDtype):
            values = series.astype(object).where(series.notna(), "<NA>").astype(str)
            digest.update("\x1f".join(values).encode())
        else:
            mask = series.isna().to_numpy()
            filled = series.to_numpy(dtype=np.float64, na_value=np.nan)
            digest.update(np.ascontiguousarray(filled).tobytes())
            digest.update(np.packbits(mask).tobytes())
    return digest.hexdigest()


def to_csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def refresh() -> None:
    """Rewrite every golden file from the current code."""
    digests: dict[str, dict] = {}
    for name in preset_names():
        summary, monthly, accounts = simulate_preset(name)
        (HERE / f"{name}.summary.csv").write_text(to_csv_text(summary))
        (HERE / f"{name}.monthly.csv").write_text(to_csv_text(monthly))
        digests[name] = {"columns": list(accounts.columns), "digest": table_digest(accounts)}
        print(f"{name}: {len(summary)} replications, {len(accounts):,} accounts")
    (HERE / "accounts.json").write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh", action="store_true", help="rewrite the golden files")
    args = parser.parse_args()
    if not args.refresh:
        parser.error("pass --refresh to rewrite the golden files (the tests compare against them)")
    refresh()


if __name__ == "__main__":
    main()
