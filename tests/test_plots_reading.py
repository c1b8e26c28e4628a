"""Charts that read well: log-axis money ticks, dose ticks, alt text and data of every chart
(one tidy table, its columns named from the chart's axes: known answers), and one warning in
words when a label's script has no installed font."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simlib import plots
from simlib.plots import _LogMoney
from simlib.plots import lab as lab_plots


def test_log_money_ticks_name_each_decade_in_its_own_unit() -> None:
    fmt = _LogMoney()
    assert [fmt(x) for x in (10, 100, 1e3, 1e4, 1e5, 1e6, 1e9)] == [
        "10",
        "100",
        "1k",
        "10k",
        "100k",
        "1M",
        "1B",
    ]
    assert fmt(2e5) == "" and fmt(0) == ""  # between decades: unlabelled


def test_the_ltv_histogram_axis_reads_in_decades() -> None:
    rng = np.random.default_rng(3)
    accounts = pd.DataFrame({"ltv": 10 ** rng.uniform(1, 6, 500), "segment": "smb"})
    fig = plots.ltv_distribution(accounts, None, "USD")
    fig.canvas.draw()
    shown = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert shown and all("0.0000" not in s for s in shown), shown
    assert set(shown) <= {"1", "10", "100", "1k", "10k", "100k", "1M", "10M"}, shown


def test_dose_ticks_are_the_doses_written_once() -> None:
    doses = [0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2]
    table = pd.DataFrame(
        {
            "dose": doses,
            "metric": "arpa_end",
            "difference": np.linspace(1, 8, len(doses)),
            "ci_low": 0.0,
            "ci_high": 9.0,
        }
    )
    fig = lab_plots.dose_response(table, ["arpa_end"])
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    plt.close(fig)
    assert 2 <= len(labels) <= 6 and len(set(labels)) == len(labels)
    assert all(len(label) <= 5 for label in labels), labels  # never "0.0000.025..."


def _monthly() -> pd.DataFrame:
    """Two scenarios, three replications, four months of MRR, active accounts and ARPA."""
    rng = np.random.default_rng(5)
    rows = []
    for scenario in ("base", "bold"):
        for rep in range(3):
            for month in range(4):
                rows.append(
                    {
                        "scenario": scenario,
                        "replication": rep,
                        "month": month,
                        "mrr": 1000.0 * (month + 1) + rng.normal(0, 50),
                        "active_accounts": 100 - month + rep,
                        "arpa": 10.0 + rng.normal(0, 1),
                    }
                )
    return pd.DataFrame(rows)


def _expected_band(monthly: pd.DataFrame, col: str) -> pd.DataFrame:
    from simlib.stats import mean_ci

    rows = []
    for (scenario, month), part in monthly.groupby(["scenario", "month"], sort=False):
        ci = mean_ci(part[col].to_numpy())
        rows.append((scenario, month, ci.mean, ci.low, ci.high))
    return pd.DataFrame(rows, columns=["scenario", "month", "mean", "low", "high"])


def test_every_chart_has_alt_text_and_its_data() -> None:
    monthly = _monthly()
    fig = plots.overlaid_mrr(monthly, "USD")
    alt = repr(fig)
    assert alt.startswith("Chart: ") and "MRR" in alt
    assert f"charts/chart-{fig.chart_number:02d}.csv" in alt
    data = plots.chart_data(fig)
    plt.close(fig)
    # columns named from the chart: its x axis, its legend, its y axis (with the unit), the band
    assert list(data.columns) == [
        "month_since_start_of_simulation",
        "scenario",
        "mrr_usd_per_month",
        "ci_low",
        "ci_high",
    ]
    # the numbers drawn: the mean across replications and its Student-t 95 % interval
    want = _expected_band(monthly, "mrr")
    assert data["scenario"].tolist() == want["scenario"].tolist()
    assert data["month_since_start_of_simulation"].tolist() == want["month"].tolist()
    for got, col in (("mrr_usd_per_month", "mean"), ("ci_low", "low"), ("ci_high", "high")):
        assert np.allclose(data[got], want[col], rtol=1e-12), got


def test_panels_that_draw_the_same_points_sit_side_by_side() -> None:
    monthly = _monthly()
    fig = plots.active_accounts_and_arpa(monthly, "USD")
    data = plots.chart_data(fig)
    plt.close(fig)
    assert len(data) == 2 * 4  # one row per scenario and month, both panels in it
    assert list(data.columns[:3]) == [
        "month_since_start_of_simulation",
        "scenario",
        "active_accounts",
    ]
    assert "arpa_usd_per_account_per_month_ci_high" in data.columns
    want = _expected_band(monthly, "arpa")
    assert np.allclose(data["arpa_usd_per_account_per_month"], want["mean"], rtol=1e-12)
    assert np.allclose(
        data["active_accounts_ci_low"], _expected_band(monthly, "active_accounts")["low"]
    )


def test_bars_of_registered_figures_are_named_by_the_registry() -> None:
    from simlib.stats import mean_ci

    summary = pd.DataFrame(
        {
            "scenario": np.repeat(["base", "bold"], 4),
            "ltv_mean": [10.0, 12.0, 11.0, 13.0, 20.0, 22.0, 21.0, 25.0],
            "logo_churn_monthly": [0.02, 0.03, 0.025, 0.02, 0.01, 0.012, 0.011, 0.013],
        }
    )
    fig = plots.metric_bars(summary, ("ltv_mean", "logo_churn_monthly"))
    data = plots.chart_data(fig).set_index("scenario")
    plt.close(fig)
    assert list(data.index) == ["base", "bold"]
    for metric in ("ltv_mean", "logo_churn_monthly"):
        for name in ("base", "bold"):
            ci = mean_ci(summary.loc[summary["scenario"] == name, metric].to_numpy())
            got = data.loc[name, [metric, f"{metric}_ci_low", f"{metric}_ci_high"]]
            assert np.allclose(got.to_numpy(dtype=float), [ci.mean, ci.low, ci.high]), metric


def test_a_waterfall_keeps_its_steps_and_where_each_bar_starts() -> None:
    monthly = pd.DataFrame(
        {
            "replication": 0,
            "month": [0, 1, 2],
            "mrr": [100.0, 130.0, 120.0],
            "new_mrr": [0.0, 40.0, 0.0],
            "expansion_mrr": [0.0, 0.0, 5.0],
            "contraction_mrr": [0.0, 10.0, 0.0],
            "churned_mrr": [0.0, 0.0, 15.0],
        }
    )
    fig = plots.mrr_waterfall(monthly, "EUR")
    data = plots.chart_data(fig)
    plt.close(fig)
    assert list(data.columns) == ["category", "mrr_eur_per_month", "bar_start", "bar_end"]
    assert data["category"].tolist()[1:5] == ["New", "Expansion", "Contraction", "Churned"]
    assert data["mrr_eur_per_month"].tolist() == [100.0, 40.0, 5.0, -10.0, -15.0, 120.0]
    assert data["bar_end"].tolist() == [100.0, 140.0, 145.0, 135.0, 120.0, 120.0]


def test_a_forest_plot_gives_each_difference_its_paired_interval() -> None:
    table = pd.DataFrame(
        [
            {
                "scenario": s,
                "metric": m,
                "difference": d,
                "paired_ci_low": d - 1,
                "paired_ci_high": d + 2,
            }
            for s, shift in (("bold", 0.0), ("timid", -5.0))
            for m, d in (("ltv_mean", 3.0 + shift), ("net_value", 7.0 + shift))
        ]
    )
    fig = plots.forest_plot(table)
    data = plots.chart_data(fig).set_index("scenario")
    plt.close(fig)
    assert data.loc["timid", "delta_ltv_mean"] == -2.0
    assert data.loc["bold", ["delta_net_value_ci_low", "delta_net_value_ci_high"]].tolist() == [
        6.0,
        9.0,
    ]
    # a difference that does not exist leaves its cells empty; the scenario keeps its row
    fig = plots.forest_plot(table.drop(index=2))  # timid's LTV
    data = plots.chart_data(fig).set_index("scenario")
    plt.close(fig)
    assert list(data.index) == ["bold", "timid"]
    assert (
        np.isnan(data.loc["timid", "delta_ltv_mean"])
        and data.loc["timid", "delta_net_value"] == 2.0
    )


def test_a_heatmap_and_a_histogram_give_their_cells_and_bins() -> None:
    accounts = pd.DataFrame(
        {
            "start_month": [0, 0, 0, 0, 2, 2],
            "lifetime_months": [1, 3, 6, 6, 2, 4],
            "ltv": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "segment": "smb",
        }
    )
    fig = plots.cohort_retention_heatmap(accounts, horizon_months=6, cohort_months=3)
    data = plots.chart_data(fig)
    plt.close(fig)
    assert list(data.columns) == [
        "months_since_the_account_started",
        "start_cohort",
        "share_of_cohort_still_subscribed",
    ]
    opening = data[data["start_cohort"] == "opening book (month 0): 4"]
    # share of the opening book alive after 0, 1, 2, ... months: 4/4, 3/4, 3/4, 2/4 ...
    assert opening["share_of_cohort_still_subscribed"].tolist()[:4] == [1.0, 0.75, 0.75, 0.5]
    assert opening["months_since_the_account_started"].tolist()[:4] == [0, 1, 2, 3]

    fig = plots.satisfaction_distribution(
        pd.DataFrame(
            {"final_satisfaction": [0.1, 0.1, 0.6, 0.9], "churned": [True, True, False, False]}
        )
    )
    data = plots.chart_data(fig)
    plt.close(fig)
    assert list(data.columns) == ["satisfaction", "status", "density"]
    churned = data[data["status"] == "churned"]
    # 40 bins of width 0.025 on [0, 1]; both churned accounts in the bin starting at 0.1
    assert len(churned) == 40
    assert churned.loc[churned["density"] > 0, "satisfaction"].round(6).tolist() == [0.1]
    assert churned["density"].max() == pytest.approx(1 / 0.025)


def test_lab_charts_name_their_panels() -> None:
    table = pd.DataFrame(
        {
            "dose": [0.1, 0.1, 0.2, 0.2],
            "metric": ["arpa_end", "logo_churn_monthly"] * 2,
            "difference": [1.0, -0.002, 2.0, -0.004],
            "ci_low": [0.5, -0.003, 1.5, -0.005],
            "ci_high": [1.5, -0.001, 2.5, -0.003],
        }
    )
    fig = lab_plots.dose_response(table)
    data = plots.chart_data(fig)
    plt.close(fig)
    assert list(data.columns) == [
        "satisfaction_raised_by",
        "delta_arpa_end",
        "delta_arpa_end_ci_low",
        "delta_arpa_end_ci_high",
        "delta_logo_churn_monthly",
        "delta_logo_churn_monthly_ci_low",
        "delta_logo_churn_monthly_ci_high",
    ]
    assert data["delta_logo_churn_monthly_ci_low"].tolist() == [0.0, -0.003, -0.005]


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("MRR (USD per month)", "mrr_usd_per_month"),
        ("month since start of simulation", "month_since_start_of_simulation"),
        ("LTV per account", "ltv_mean"),
        ("Δ logo churn per month", "delta_logo_churn_monthly"),
        ("LTV per account (USD, discounted gross margin, log scale)", "ltv_per_account_usd"),
        (
            "retention - expansion (EUR per opening account)",
            "retention_minus_expansion_eur_per_opening_account",
        ),
        ("monthly logo churn (%)", "monthly_logo_churn_pct"),
        ("start cohort: accounts", "start_cohort"),
    ],
)
def test_column_names_come_from_the_labels(label: str, name: str) -> None:
    from simlib.plots.data import column_name

    assert column_name(label) == name


def test_a_script_without_a_font_warns_once_in_words() -> None:
    plots._GLYPH_WARNED = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            fig, ax = plots._figure()
            ax.set_title("\ue000\ue001 \u1200\u1201")  # private use and Ethiopic letters
            fig.canvas.draw()
            plt.close(fig)
    texts = [str(w.message) for w in caught]
    assert not [t for t in texts if "Glyph" in t], texts
    assert sum("no installed font" in t for t in texts) == 1, texts
