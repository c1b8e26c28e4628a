"""Metrics: from one replication's book and ledger to tidy tables, and the registry of figures.

* :mod:`~simlib.metrics.tables`: the monthly, accounts and summary tables (definitions there);
* :mod:`~simlib.metrics.registry`: :class:`Metric` and the registry every table, comparison and
  report reads (name, label, unit, direction, computation);
* :mod:`~simlib.metrics.figures`: the built-in figures and views.
"""

from __future__ import annotations

from . import figures as _figures  # noqa: F401 - importing registers the built-in figures
from .registry import (
    ID_COLUMNS,
    METRICS,
    Metric,
    define_view,
    derived_figures,
    metric_label,
    metric_unit,
    metric_view,
    register_metric,
    summary_columns,
)
from .tables import ACCOUNT_COLUMNS, TIER_NAMES, account_table, monthly_table, summary_row

#: Columns of the summary table with the built-in figures (CONTRACT.md); a figure registered
#: later is in :func:`summary_columns` too.
SUMMARY_COLUMNS = summary_columns()

__all__ = [
    "ACCOUNT_COLUMNS",
    "ID_COLUMNS",
    "METRICS",
    "SUMMARY_COLUMNS",
    "TIER_NAMES",
    "Metric",
    "account_table",
    "define_view",
    "derived_figures",
    "metric_label",
    "metric_unit",
    "metric_view",
    "monthly_table",
    "register_metric",
    "summary_columns",
    "summary_row",
]
