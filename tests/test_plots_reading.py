"""Charts that read well: log-axis money ticks, dose ticks, alt text and data of every chart,
and one warning in words when a label's script has no installed font."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

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


def test_every_chart_has_alt_text_and_its_data() -> None:
    monthly = pd.DataFrame(
        {
            "scenario": "s",
            "replication": np.repeat([0, 1], 4),
            "month": np.tile(np.arange(4), 2),
            "mrr": np.arange(8, dtype=float) * 1000,
        }
    )
    fig = plots.overlaid_mrr(monthly, "USD")
    alt = repr(fig)
    assert alt.startswith("Chart: ") and "MRR" in alt
    assert f"charts/chart-{fig.chart_number:02d}.csv" in alt
    data = plots.chart_data(fig)
    plt.close(fig)
    assert {"panel", "series", "x", "y"} <= set(data.columns)
    assert np.isclose(data["y"].max(), monthly.groupby("month")["mrr"].mean().max())


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
