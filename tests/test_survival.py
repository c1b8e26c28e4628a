"""Kaplan–Meier with Greenwood bands against a hand-computed example."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simlib.survival import SURVIVAL_COLUMNS, account_survival, kaplan_meier

# Six accounts: churn at months 1, 2, 3 and 5; censored at 2 and 4.
DURATIONS = [1, 2, 2, 3, 4, 5]
EVENTS = [True, True, False, True, False, True]
Z = 1.959963984540054


def _hand() -> list[tuple[int, int, int, float, float]]:
    """(time, at_risk, events, survival, Greenwood sum) worked out by hand."""
    s1 = 5 / 6  # 1 - 1/6
    s2 = s1 * (1 - 1 / 5)  # 2/3
    s3 = s2 * (1 - 1 / 3)  # 4/9
    g1 = 1 / (6 * 5)
    g2 = g1 + 1 / (5 * 4)
    g3 = g2 + 1 / (3 * 2)
    return [
        (0, 6, 0, 1.0, 0.0),
        (1, 6, 1, s1, g1),
        (2, 5, 1, s2, g2),
        (3, 3, 1, s3, g3),
        (4, 2, 0, s3, g3),
        (5, 1, 1, 0.0, math.inf),
    ]


def test_columns_and_point_estimates() -> None:
    table = kaplan_meier(DURATIONS, EVENTS)
    assert tuple(table.columns[: len(SURVIVAL_COLUMNS)]) == SURVIVAL_COLUMNS
    assert list(table["group"].unique()) == ["all"]
    for row, (t, n, d, s, _) in zip(table.itertuples(), _hand(), strict=True):
        assert row.time == t
        assert row.at_risk == n
        assert row.events == d
        assert row.survival == pytest.approx(s, abs=1e-12)
    assert table["censored"].tolist() == [0, 0, 1, 0, 1, 0]


def test_plain_greenwood_band() -> None:
    table = kaplan_meier(DURATIONS, EVENTS, ci="plain")
    for row, (_, _, _, s, g) in zip(table.itertuples(), _hand(), strict=True):
        if s in (0.0, 1.0):
            assert row.ci_low == row.ci_high == s
            continue
        half = Z * math.sqrt(s * s * g)
        assert row.ci_low == pytest.approx(max(s - half, 0.0), abs=1e-12)
        assert row.ci_high == pytest.approx(min(s + half, 1.0), abs=1e-12)
    # month 1 by hand: S = 5/6, Var = (5/6)^2 / 30 -> sd 0.15215, half-width 0.29822
    assert table.loc[1, "ci_low"] == pytest.approx(0.535134, abs=1e-6)


def test_log_log_greenwood_band() -> None:
    table = kaplan_meier(DURATIONS, EVENTS)
    for row, (_, _, _, s, g) in zip(table.itertuples(), _hand(), strict=True):
        if s in (0.0, 1.0):
            continue
        se = math.sqrt(g) / abs(math.log(s))
        assert row.ci_low == pytest.approx(s ** math.exp(Z * se), abs=1e-12)
        assert row.ci_high == pytest.approx(s ** math.exp(-Z * se), abs=1e-12)
        assert row.ci_low < row.survival < row.ci_high
    # the same figures survival software prints for this example
    assert table.loc[1, ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.273123, 0.974712], abs=1e-6
    )


def test_groups_are_separate_curves() -> None:
    groups = ["a", "a", "a", "b", "b", "b"]
    table = kaplan_meier(DURATIONS, EVENTS, groups)
    assert set(table["group"]) == {"a", "b"}
    a = table[table["group"] == "a"]
    # a: durations 1 (event), 2 (event), 2 (censored) -> S(1) = 2/3, S(2) = 1/3
    assert a["survival"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    b = kaplan_meier([3, 4, 5], [True, False, True])
    assert table[table["group"] == "b"]["survival"].tolist() == pytest.approx(
        b["survival"].tolist()
    )


def test_no_events_and_bad_input() -> None:
    table = kaplan_meier([3, 5], [False, False])
    assert (table["survival"] == 1).all() and (table["ci_low"] == 1).all()
    with pytest.raises(ValueError):
        kaplan_meier([1, -1], [True, True])
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [True])


def test_account_survival_from_accounts_table() -> None:
    accounts = pd.DataFrame(
        {
            # an account alive at the horizon was billed one month more than renewals it passed
            "lifetime_months": np.asarray(DURATIONS) + 1 - np.asarray(EVENTS, dtype=int),
            "churned": EVENTS,
            "segment": pd.Categorical(["smb"] * 3 + ["enterprise"] * 3),
        }
    )
    pooled = account_survival(accounts)
    assert pooled["survival"].tolist() == pytest.approx([h[3] for h in _hand()])
    by = account_survival(accounts, by="segment")
    assert set(by["group"]) == {"smb", "enterprise"}
    assert np.all(np.diff(by[by["group"] == "smb"]["survival"]) <= 0)
