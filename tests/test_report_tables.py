"""The one formatter of report tables: units, separators, intervals, percentages, dashes with
reasons, no row numbers, no scientific notation, no control characters."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import simlib
from simlib import report_tables as rt
from simlib import reports

RAW_FLOAT = re.compile(r"\d\.\d{4,}|\d[eE][-+]?\d|\bnan\b|\bNaN\b|\binf\b")


def test_interval_is_written_for_people() -> None:
    assert rt.format_interval(1266.2, 941.4, 1591.0, "money") == "1,266 USD [941 to 1,591]"
    assert rt.format_interval(14.23, 13.1, 15.5, "money_month") == ("14.2 USD/month [13.1 to 15.5]")
    assert rt.format_interval(0.0215, 0.019, 0.024, "share") == "2.15 % [1.90 to 2.40]"
    # differences carry their sign; a difference of shares is in percentage points
    assert rt.format_interval(-0.0025, -0.004, 0.001, "share", signed=True) == (
        "−0.25 pp [−0.40 to +0.10]"
    )
    # no spread across replications: no interval to show
    assert rt.format_interval(5.0, 5.0, 5.0, "count") == "5"


def test_one_number_formatter_for_tables_and_sentences() -> None:
    from simlib import formatting

    # the report tables write their numbers with the lowest layer's formatter
    assert rt.format_interval is formatting.format_interval
    assert rt.format_number is formatting.format_number
    assert formatting.format_interval(-12.93, -20.1, -5.72, "money") == "−12.9 USD [−20.1 to −5.7]"
    assert formatting.format_number(-1234567.8, "money_month", "EUR") == "−1,234,568 EUR/month"
    assert formatting.format_percent(0.0234, signed=True) == "+2.3 %"
    assert formatting.format_percent(-0.35, decimals=0) == "−35 %"
    assert formatting.format_plain(0.1) == "0.1" and formatting.format_plain(-0.05) == "−0.05"
    assert (
        formatting.format_plain(1500) == "1,500" and formatting.format_plain(2.5e7) == "25,000,000"
    )
    assert formatting.format_plain(3.3e-7) == "0.00000033"
    assert formatting.format_plain(float("nan")) == formatting.DASH
    assert "-" not in formatting.format_number(-0.004, "share", signed=True)  # −0.40 pp


@pytest.mark.parametrize("value", [1e-12, 3.3e-7, 1.288753e1, 1130.455842, 2.5e12, -7e15])
@pytest.mark.parametrize("unit", ["money", "money_month", "share", "score", "count", ""])
def test_no_scientific_notation_and_no_long_decimals(value: float, unit: str) -> None:
    text = rt.format_number(value, unit)
    assert not RAW_FLOAT.search(text), text
    assert "e+" not in text and "e-" not in text


def test_a_missing_value_is_a_dash_with_its_reason() -> None:
    r = simlib.simulate("textbook", replications=2, seed=1, overrides={"horizon_months": 10})
    table = reports.headline_display(r)
    shown = table.frame.to_string()
    assert "nan" not in shown.lower()
    grr = table.frame.set_index("figure").loc["GRR (12 months)"].iloc[0]
    assert grr.startswith(rt.DASH)
    assert any("13 months or more" in n for n in table.notes)
    page = table.to_html()
    assert "13 months or more" in page and "nan" not in page.lower()
    # no row numbers: the index is hidden
    assert "row_heading" not in page and not RAW_FLOAT.search(page)
    assert "GRR and NRR need a horizon of 13 months" in reports.scenario_answer(r)


def test_every_report_table_of_a_summary_reads_well() -> None:
    r = simlib.simulate(
        "b2b_saas",
        replications=2,
        seed=1,
        overrides={"population.initial_accounts": 100, "horizon_months": 14},
    )
    for table in (reports.headline_display(r), reports.describe_scenario(r)):
        page = table.to_html()
        assert not RAW_FLOAT.search(table.frame.to_string()), table.frame
        assert "<table" in page and "row_heading" not in page
    labels = set(reports.headline_display(r).frame["figure"])
    assert labels == {simlib.metrics.metric_label(m) for m in reports.HEADLINE_METRICS}


def test_figures_table_across_a_column() -> None:
    frame = pd.DataFrame(
        {
            "dose": [0.1, 0.2, 0.1, 0.2],
            "metric": ["arpa_end", "arpa_end", "nrr_12m", "nrr_12m"],
            "difference": [3.0, 6.5, 0.01, np.nan],
            "ci_low": [1.0, 2.0, 0.0, np.nan],
            "ci_high": [5.0, 11.0, 0.02, np.nan],
        }
    )
    t = rt.figures_table(frame, mean="difference", across="dose", signed=True)
    assert list(t.frame.columns) == ["figure", "0.1", "0.2"]
    assert t.frame.iloc[0].tolist() == [
        "ARPA at the last month",
        "+3.00 USD/month [+1.00 to +5.00]",
        "+6.5 USD/month [+2.0 to +11.0]",
    ]
    assert t.frame.iloc[1, 2] == f"{rt.DASH} [1]" and len(t.notes) == 1


def test_control_characters_are_stripped_from_names() -> None:
    assert rt.clean_text("a\x00b\x1bc\td") == "abc d"
    assert reports.md_text("x*<b>\x00") == r"x\*&lt;b&gt;"


def test_the_calibration_report_reads_for_people() -> None:
    """The calibration's answer and tables: its figures, rounded, with units, no row numbers."""
    from simlib import calibrate as cal

    table = cal.demo_retention_table(seed=1)
    fits = cal.fit_retention_models(table)
    held = cal.fit_retention_models(table, fit_periods=12)
    holdout = cal.holdout_table(table, fit_periods=12, fits=held)
    gap = pd.DataFrame(
        [
            {
                "group": "smb",
                "max_abs_gap": 0.01234,
                "period": 7,
                "observed_n": 1810,
                "simulated_n": 3620,
            }
        ]
    )
    text = reports.calibration_answer(fits, holdout, gap)
    smb = next(f for f in fits if f.group == "smb")
    assert smb.checks["recommended"] == "sbg"  # then the first renewal's churn is the Beta's mean
    assert f"probability **{rt.format_number(smb.mean_churn, 'share')}**" in text
    part = holdout[(holdout["group"] == "smb") & (holdout["part"] == "holdout")]
    err = (part["fitted_survival"] - part["observed_survival"]).abs()
    assert f"within {100 * err.mean():.2f} pp of the data on average" in text
    assert "within 1.23 pp of the data's Kaplan–Meier curve (largest gap at month 7)" in text
    assert not RAW_FLOAT.search(text)
    shown = [
        reports.calibration_data_table(table),
        reports.calibration_fit_table(fits),
        reports.calibration_model_table(held),
        reports.calibration_gap_table(gap),
    ]
    for t in shown:
        assert "row_heading" not in t.to_html()  # no row numbers
        assert not RAW_FLOAT.search(t.frame.to_string()), t.frame
    fit = shown[1].frame.set_index("group")
    assert fit.loc["smb", "accounts"] == "1,810"
    assert fit.loc["smb", "alpha"] == (
        f"{rt.format_number(smb.alpha, '')} (se {rt.format_number(smb.alpha_se, '')})"
    )
    assert list(shown[0].frame.columns) == ["period", "smb", "mid_market"]  # the table's order
    assert "holdout: mean gap" in shown[2].frame.columns
    fragment = reports.CodeBlock("alpha: 0.694293")
    assert 'class="simlib-code"' in fragment._repr_html_() and repr(fragment) == "alpha: 0.694293"


def test_an_effect_sentence_says_the_direction_once() -> None:
    from types import SimpleNamespace

    from simlib.reports import effect_sentence

    row = SimpleNamespace(
        metric="net_value", difference=-5000.0, paired_ci_low=-7000.0, paired_ci_high=-3000.0
    )
    text = effect_sentence(row)
    assert text.startswith("lowers net value") and "(worse)" in text
    assert " by " not in text and "\u22125,000 USD [\u22127,000 to \u22123,000]" in text
    assert text.endswith("the 95 % paired interval excludes zero")
