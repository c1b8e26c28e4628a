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
