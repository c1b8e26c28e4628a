"""Calibration: fit the churn model to a company's own data (the names scripts and notebooks use).

The code lives in :mod:`simlib.calibration` (sBG maths, fits, data readers, Kaplan–Meier
curves, scenario fragments, the JSON report) and CSV reading in :mod:`simlib.io.csv`; this
module keeps ``from simlib.calibrate import X`` and ``simlib.calibrate.X`` working (the private
helpers that tests reach for included), and holds :func:`demo_retention_table`, which runs the
simulator (calibration does not import it).
"""

from __future__ import annotations

import pandas as pd

from . import calibration as _calibration
from .calibration import *  # noqa: F403 - every public name of simlib.calibration
from .calibration.fitting import _BOUNDS as _BOUNDS
from .calibration.fitting import _HOMOGENEOUS as _HOMOGENEOUS
from .calibration.fitting import _Counts as _Counts
from .calibration.fitting import _gradient as _gradient
from .calibration.fitting import _hessian as _hessian
from .calibration.fitting import _loglik as _loglik
from .calibration.fitting import _newton_polish as _newton_polish
from .calibration.fragments import _fragment_dict as _fragment_dict
from .calibration.fragments import _kind as _kind
from .calibration.fragments import _round as _round
from .calibration.fragments import _shares as _shares
from .calibration.sbg import _hyp2f1_1 as _hyp2f1_1
from .calibration.simulated import (
    DEMO_PANEL_KEYS,
    demo_panel_scenario,
    demo_scenario,
    retention_table_from_accounts,
)
from .io.csv import CsvTable, parse_number, parse_numbers, read_csv

__all__ = [
    *_calibration.__all__,
    "CsvTable",
    "DEMO_PANEL_KEYS",
    "demo_panel",
    "demo_panel_scenario",
    "demo_retention_table",
    "parse_number",
    "parse_numbers",
    "read_csv",
]


def demo_retention_table(
    seed: int = 1, initial_accounts: int = 3000, periods: int = 24
) -> pd.DataFrame:
    """A two-segment monthly cohort retention table simulated from the ``textbook`` preset.

    Segments ``smb`` (churn ~ Beta(0.8, 12)) and ``mid_market`` (~ Beta(1.5, 40)), 60 % / 40 %
    of ``initial_accounts``, observed for ``periods`` monthly renewals.
    """
    from .experiment import simulate

    result = simulate(demo_scenario(initial_accounts, periods), seed=seed)
    return retention_table_from_accounts(result.accounts, periods + 1)


def demo_panel(seed: int = 1, initial_accounts: int = 800, months: int = 24) -> pd.DataFrame:
    """A synthetic CRM export: the account-month panel of :func:`demo_panel_scenario` (one
    replication), with ``health`` on a 0-100 score (rounded to 0.1) as CRMs show it. Made by
    simlib, not a company's data: ``data/examples/crm_panel.csv`` is ``demo_panel(seed=1)``."""
    from .experiment import simulate

    result = simulate(demo_panel_scenario(initial_accounts, months), seed=seed, panel=True)
    assert result.panel is not None
    panel = result.panel.drop(columns=["replication"])
    panel["health"] = (100 * panel["health"]).round(1)
    panel["mrr"] = panel["mrr"].round(2)
    return panel[["account_id", "month", "segment", "plan", "mrr", "health", "churned"]]
