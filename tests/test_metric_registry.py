"""The metric registry: one entry per figure, read by summary, compare, reports and the lab."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import simlib
from simlib import reports
from simlib.compare import compare, default_metrics
from simlib.experiment import run_replication
from simlib.metrics import (
    METRICS,
    SUMMARY_COLUMNS,
    Metric,
    metric_label,
    metric_view,
    register_metric,
    summary_columns,
)
from simlib.metrics import registry as registry_mod


def test_built_in_summary_columns_are_the_contracts_in_order() -> None:
    assert summary_columns() == SUMMARY_COLUMNS
    assert SUMMARY_COLUMNS[:4] == ("scenario", "replication", "seed", "accounts")
    # the contract's figures end at mean_satisfaction; figures added since follow, in order
    contract_end = SUMMARY_COLUMNS.index("mean_satisfaction") + 1
    assert SUMMARY_COLUMNS[contract_end:] == (
        "cac_total",
        "payback_months",
        "ltv_cac",
        "ltv_with_tail_mean",
    )


def test_every_figure_has_label_unit_and_direction() -> None:
    for metric in METRICS.values():
        assert metric.label and metric.unit in ("money", "money_month", "share", "score", "count")
        assert metric.better in ("higher", "lower", None)
    assert METRICS["logo_churn_monthly"].better == "lower"
    assert METRICS["nrr_12m"].better == "higher"


def test_views_name_registered_figures_only() -> None:
    for view in ("compare", "headline", "lab"):
        assert all(name in METRICS for name in metric_view(view))
    with pytest.raises(Exception, match="unknown metric"):
        registry_mod.define_view("broken", ["ltv_mean", "no_such_figure"])


def test_a_metric_needs_exactly_one_way_to_be_computed() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Metric("x", "x", "count")


@pytest.fixture
def churned_share() -> Iterator[str]:
    """A new figure: the share of accounts that churned within the horizon."""
    name = "test_churned_share"
    register_metric(
        Metric(
            name,
            "accounts churned",
            "share",
            "lower",
            compute=lambda sim, accounts, monthly: float(accounts["churned"].mean()),
            views=("compare", "headline"),
        )
    )
    yield name
    METRICS.remove(name)
    for view in ("compare", "headline"):
        registry_mod._VIEWS[view].remove(name)


def test_a_new_figure_is_one_entry(churned_share: str) -> None:
    scenario = simlib.load_scenario("textbook", ["horizon_months=12"])
    _, accounts, row, _ = run_replication(scenario, 1, 0)
    assert row[churned_share] == pytest.approx(float(accounts["churned"].mean()))
    assert summary_columns()[-1] == churned_share
    assert default_metrics()[-1] == churned_share
    assert reports.headline_metrics()[-1] == churned_share
    assert metric_label(churned_share) == "accounts churned"
    assert reports.format_value(0.1234, churned_share) == "12.34 %"


def test_a_new_figure_is_compared_with_paired_intervals(churned_share: str) -> None:
    cmp = compare(
        ["textbook", "textbook"],
        replications=3,
        seed=4,
        overrides=["horizon_months=12"],
        executor="local",
        workers=1,
    )
    rows = cmp.table[cmp.table["metric"] == churned_share]
    assert len(rows) == 1
    # the same scenario twice with common random numbers: the paired difference is exactly 0
    assert float(rows["difference"].iloc[0]) == 0.0
    assert np.isfinite(float(rows["baseline_mean"].iloc[0]))
