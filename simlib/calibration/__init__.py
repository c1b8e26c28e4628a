"""Calibration: fit the churn model to a company's own data, and put the fit into a scenario.

* :mod:`~simlib.calibration.sbg`: the shifted-beta-geometric (sBG) model of Fader & Hardie
  (2007): closed forms of survival, churn and retention by renewal, DEL/DERL customer value
  (Fader & Hardie 2010) and :class:`SBGFit`, a fitted distribution;
* :mod:`~simlib.calibration.fitting`: maximum-likelihood fits (exact gradient and Hessian,
  standard errors from the observed information) from counts, cohort retention tables and
  right-censored account data, and the holdout check;
* :mod:`~simlib.calibration.tenure`: the sBG with a tenure profile (a log-odds shift of churn at
  the first renewals, early-life churn), its quadrature closed forms and joint fit;
* :mod:`~simlib.calibration.models`: both models fitted side by side and checked (observed
  against fitted hazards, a likelihood-ratio test, warnings in words, a recommended model);
* :mod:`~simlib.calibration.readers`: those tables validated, every bad cell named by file, CSV
  line (and 1-based data row) and column (:mod:`simlib.io.csv`); nothing is fitted on bad data;
* :mod:`~simlib.calibration.curves`: Kaplan–Meier curves of the data and the gap to a simulation;
* :mod:`~simlib.calibration.covariate`: the sBG with the health score as a covariate of the churn
  odds, and :mod:`~simlib.calibration.covariate_checks` its model checks;
* :mod:`~simlib.calibration.panel`: the links fitted from an account-month panel (a CRM export),
  with :mod:`~simlib.calibration.panel_read` (the panel checked),
  :mod:`~simlib.calibration.panel_noise` (the health score's noise and its regression
  calibration) and :mod:`~simlib.calibration.panel_churn` (the churn model with monthly and
  annual renewals, a tenure profile, groups, and its clustered standard errors);
* :mod:`~simlib.calibration.simulated`: a simulation's accounts as calibration data;
* :mod:`~simlib.calibration.fragments`: fits as a scenario fragment, ``--set`` overrides or a
  scenario; :mod:`~simlib.calibration.report`: the JSON object ``simlib calibrate`` prints.

Nothing here imports the experiment layer; :mod:`simlib.calibrate` holds the same names (and the
demo table, which runs the simulator) for scripts, notebooks and the command line.
"""

from __future__ import annotations

from .curves import kaplan_meier_accounts, kaplan_meier_retention, survival_gap
from .fitting import fit_accounts, fit_retention, fit_sbg, holdout_table
from .fragments import apply_fits, scenario_fragment, scenario_overrides
from .models import (
    fit_accounts_models,
    fit_retention_models,
    hazard_table,
    model_checks,
    model_table,
)
from .readers import AccountData, RetentionData, read_accounts, read_retention
from .report import calibration_json
from .sbg import (
    SBGFit,
    churn_probability,
    discounted_expected_lifetime,
    discounted_expected_residual_lifetime,
    period_discount_rate,
    retention_rate,
    survival,
)
from .simulated import (
    DEMO_SEGMENTS,
    demo_scenario,
    retention_table_from_accounts,
    survival_data_from_accounts,
)
from .tenure import (
    TenureFit,
    fit_tenure_sbg,
    tenure_churn_probability,
    tenure_hazard,
    tenure_survival,
)

__all__ = [
    "DEMO_SEGMENTS",
    "AccountData",
    "RetentionData",
    "SBGFit",
    "TenureFit",
    "apply_fits",
    "calibration_json",
    "churn_probability",
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
    "period_discount_rate",
    "read_accounts",
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
