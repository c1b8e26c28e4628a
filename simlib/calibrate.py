"""Calibration: fit the churn model to a company's own data (the names scripts and notebooks use).

The code lives in :mod:`simlib.calibration` (sBG maths, fits, data readers, Kaplan–Meier
curves, scenario fragments, the JSON report) and CSV reading in :mod:`simlib.io.csv`; this
module keeps ``from simlib.calibrate import X`` and ``simlib.calibrate.X`` working (the private
helpers that tests reach for included), and holds :func:`demo_retention_table`, which runs the
simulator (calibration does not import it).
"""

from __future__ import annotations

import pandas as pd

from .calibration.curves import kaplan_meier_accounts, kaplan_meier_retention, survival_gap
from .calibration.fitting import _BOUNDS as _BOUNDS
from .calibration.fitting import _HOMOGENEOUS as _HOMOGENEOUS
from .calibration.fitting import _Counts as _Counts
from .calibration.fitting import _gradient as _gradient
from .calibration.fitting import _hessian as _hessian
from .calibration.fitting import _loglik as _loglik
from .calibration.fitting import _newton_polish as _newton_polish
from .calibration.fitting import fit_accounts, fit_retention, fit_sbg, holdout_table
from .calibration.fragments import _fragment_dict as _fragment_dict
from .calibration.fragments import _kind as _kind
from .calibration.fragments import _round as _round
from .calibration.fragments import _shares as _shares
from .calibration.fragments import apply_fits, scenario_fragment, scenario_overrides
from .calibration.models import (
    fit_accounts_models,
    fit_retention_models,
    hazard_table,
    model_checks,
    model_table,
)
from .calibration.readers import AccountData, RetentionData, read_accounts, read_retention
from .calibration.report import calibration_json
from .calibration.sbg import (
    SBGFit,
    churn_probability,
    discounted_expected_lifetime,
    discounted_expected_residual_lifetime,
    period_discount_rate,
    retention_rate,
    survival,
)
from .calibration.sbg import _hyp2f1_1 as _hyp2f1_1
from .calibration.simulated import (
    DEMO_PANEL_KEYS,
    DEMO_SEGMENTS,
    demo_panel_scenario,
    demo_scenario,
    retention_table_from_accounts,
    survival_data_from_accounts,
)
from .calibration.tenure import (
    TenureFit,
    fit_tenure_sbg,
    tenure_churn_probability,
    tenure_hazard,
    tenure_survival,
)
from .io.csv import CsvTable, parse_number, parse_numbers, read_csv

__all__ = [
    "DEMO_PANEL_KEYS",
    "DEMO_SEGMENTS",
    "AccountData",
    "CsvTable",
    "RetentionData",
    "SBGFit",
    "TenureFit",
    "apply_fits",
    "calibration_json",
    "churn_probability",
    "demo_panel",
    "demo_panel_scenario",
    "demo_retention_table",
    "demo_scenario",
    "discounted_expected_lifetime",
    "discounted_expected_residual_lifetime",
    "fit_accounts",
    "fit_accounts_models",
    "fit_retention",
    "fit_retention_models",
    "fit_sbg",
    "fit_tenure_sbg",
    "hazard_table",
    "holdout_table",
    "kaplan_meier_accounts",
    "kaplan_meier_retention",
    "model_checks",
    "model_table",
    "parse_number",
    "parse_numbers",
    "period_discount_rate",
    "read_accounts",
    "read_csv",
    "read_retention",
    "retention_rate",
    "retention_table_from_accounts",
    "scenario_fragment",
    "scenario_overrides",
    "survival",
    "survival_data_from_accounts",
    "survival_gap",
    "tenure_churn_probability",
    "tenure_hazard",
    "tenure_survival",
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
