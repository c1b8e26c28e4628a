"""The hypothesis lab: the decomposition adds up, no hidden channel, gates shrink the effect of
satisfaction on ARPA, the CRM's regression is biased exactly where it should be, the verdict
follows the numbers.

Statistical tests use fixed seeds and the Student-t intervals of paired per-replication
differences (common random numbers); a claim "the interval excludes zero" is what a strategist
reads off the lab's tables, so the tests check the same intervals.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simlib
from simlib import lab
from simlib.errors import UserInputError
from simlib.stats import mean_ci

SMALL = {"population.initial_accounts": 600, "horizon_months": 30}


# ------------------------------------------------------------------------------------------
# The decomposition adds up


def _fake_result(name: str, accounts: np.ndarray, revenue: np.ndarray, segs: list[str]):
    """A stand-in for a SimulationResult with opening-cohort columns: ``accounts`` and
    ``revenue`` of shape (replications, months, segments)."""
    reps, months, _ = accounts.shape
    data: dict[str, object] = {
        "scenario": name,
        "replication": np.repeat(np.arange(reps), months),
        "month": np.tile(np.arange(months), reps),
    }
    for g, seg in enumerate(segs):
        data[f"opening_accounts.{seg}"] = accounts[:, :, g].ravel()
        data[f"opening_revenue.{seg}"] = revenue[:, :, g].ravel()
    return SimpleNamespace(monthly=pd.DataFrame(data), scenario=SimpleNamespace(name=name))


def _cohort(
    rng: np.random.Generator, start: np.ndarray, months: int, reps: int, churn: float
) -> tuple[np.ndarray, np.ndarray]:
    """Opening-cohort paths: accounts only leave (binomial deaths at ``churn`` a month, so
    segments and whole cohorts can die out); each survivor pays an arbitrary price."""
    segs = start.size
    accounts = np.zeros((reps, months, segs))
    revenue = np.zeros((reps, months, segs))
    for r in range(reps):
        alive = start.copy()
        for t in range(months):
            accounts[r, t] = alive
            revenue[r, t] = alive * rng.lognormal(5.0, 2.0, segs) * (rng.random(segs) > 0.1)
            alive = alive - rng.binomial(alive, churn)
    return accounts, revenue


@st.composite
def _pairs(draw):
    reps, months, segs = draw(st.integers(1, 3)), draw(st.integers(1, 24)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    start = rng.integers(0, 60, segs)
    n0, r0 = _cohort(rng, start, months, reps, draw(st.floats(0.0, 0.9)))
    n1, r1 = _cohort(rng, start, months, reps, draw(st.floats(0.0, 0.9)))
    return n0, r0, n1, r1, [f"seg{i}" for i in range(segs)]


def _check_adds_up(d: pd.DataFrame, scale: float) -> None:
    tol = 1e-9 * max(scale, 1.0)
    assert np.allclose(d["total"], d["retention"] + d["expansion"], rtol=0, atol=tol)
    assert np.allclose(d["expansion"], d["mix"] + d["within"], rtol=0, atol=tol)
    assert np.allclose(d["arpa_change"], d["arpa_mix"] + d["arpa_within"], rtol=0, atol=tol)


@settings(max_examples=60, deadline=None)
@given(_pairs())
def test_decomposition_adds_up_for_arbitrary_cohort_paths(pair) -> None:
    """Exact Shapley identities, whatever the paths: dR = retention + expansion and
    expansion = mix + within (also with segments or whole cohorts dying out)."""
    n0, r0, n1, r1, segs = pair
    base, other = _fake_result("a", n0, r0, segs), _fake_result("b", n1, r1, segs)
    d = lab.decompose_revenue(base, other)
    scale = float(max(r0.sum(), r1.sum()))
    _check_adds_up(d, scale)
    size = n0[:, 0, :].sum(axis=1)
    expected = np.where(
        size > 0, (r1.sum(axis=(1, 2)) - r0.sum(axis=(1, 2))) / np.maximum(size, 1), 0
    )
    assert np.allclose(d["total"], expected, rtol=0, atol=1e-9 * max(scale, 1.0))
    by_month = lab.decompose_revenue(base, other, by_month=True)
    sums = by_month.groupby("replication")[["total", "retention", "mix", "within"]].sum()
    for col in ("total", "retention", "mix", "within"):
        assert np.allclose(
            sums[col].to_numpy(), d[col].to_numpy(), rtol=0, atol=1e-9 * max(scale, 1.0)
        )


@pytest.fixture(scope="module")
def preset_pairs() -> list[tuple[simlib.SimulationResult, simlib.SimulationResult]]:
    on = {**SMALL, "reporting.opening_cohort": True}
    pairs = []
    for a, b in [
        ("b2b_saas", "downsell_saves"),
        ("b2c_subscription", "irrelevant_cross_sell"),
        ("b2b_no_friction", "b2b_approval_friction"),
    ]:
        ra = simlib.simulate(a, replications=2, seed=5, overrides=simlib_overrides(on))
        rb = simlib.simulate(b, replications=2, seed=5, overrides=simlib_overrides(on))
        pairs.append((ra, rb))
    return pairs


def simlib_overrides(values: dict) -> list[str]:
    from simlib.reports import as_overrides

    return as_overrides(values)


def test_decomposition_adds_up_for_preset_pairs(preset_pairs) -> None:
    """On real runs of different presets: the parts add up, and R is the opening book's
    revenue per account from the accounts table (two independent routes to the same figure)."""
    for base, other in preset_pairs:
        d = lab.decompose_revenue(base, other)
        _check_adds_up(d, float(d["revenue"].abs().max()))
        for res, col in ((base, "baseline_revenue"), (other, "revenue")):
            acc = res.accounts[res.accounts["start_month"] == 0]
            per = acc.groupby("replication")["revenue"].sum() / acc.groupby("replication").size()
            assert np.allclose(d[col].to_numpy(), per.to_numpy(), rtol=1e-12)


def test_opening_cohort_figures_change_no_outcome() -> None:
    """Recording the opening cohort draws nothing: every table is the same with it off."""
    plain = simlib.simulate(
        "b2b_no_friction", replications=2, seed=3, overrides=simlib_overrides(SMALL)
    )
    tracked = simlib.simulate(
        "b2b_no_friction",
        replications=2,
        seed=3,
        overrides=simlib_overrides({**SMALL, "reporting.opening_cohort": True}),
    )
    pd.testing.assert_frame_equal(plain.summary, tracked.summary)
    pd.testing.assert_frame_equal(plain.accounts, tracked.accounts)
    with pytest.raises(UserInputError, match="opening_cohort"):
        lab.opening_cohort_paths(plain)
    paths = lab.opening_cohort_paths(tracked)
    first = paths[paths["month"] == 0].groupby("replication")["accounts"].sum()
    assert (first == SMALL["population.initial_accounts"]).all()


# ------------------------------------------------------------------------------------------
# No hidden channel

#: Every link from satisfaction to revenue in the model, switched off:
#: offer intent (offers.intent.satisfaction_to_intent), churn (churn.satisfaction_effect), usage
#: growth (usage.satisfaction_effect: usage near the plan limit is a strong reason to buy and
#: lowers approver rejection), offer targeting (offers.kinds.*.min_satisfaction), health-score
#: alerts (coverage.alerts: an alert served before a renewal can save the account) and loyalty
#: (fans buy more readily, promoters refer; already off in b2b_no_friction).
NO_CHANNEL = {
    **SMALL,
    "offers.intent.satisfaction_to_intent": 0.0,
    "churn.satisfaction_effect": 0.0,
    "usage.satisfaction_effect": 0.0,
    "offers.kinds.upsell.min_satisfaction": 0.0,
    "offers.kinds.cross_sell.min_satisfaction": 0.0,
    "coverage.alerts.enabled": False,
    "loyalty.enabled": False,
}


@pytest.mark.slow
def test_no_hidden_channel_from_satisfaction_to_revenue() -> None:
    exp = lab.run_intervention(
        "b2b_no_friction", 0.15, replications=5, seed=7, overrides=NO_CHANNEL
    )
    rows = exp.table.set_index("metric")
    assert rows.loc["mean_satisfaction", "ci_low"] > 0.05  # the intervention did raise it
    for metric in ("arpa_end", "ltv_mean", "ltv_opening_book", "revenue_per_opening_account"):
        r = rows.loc[metric]
        assert r["ci_low"] <= 0 <= r["ci_high"], (metric, r.to_dict())
    # the control: one channel back on (offer intent) and the same check fails
    control = lab.run_intervention(
        "b2b_no_friction",
        0.15,
        replications=5,
        seed=7,
        overrides={**NO_CHANNEL, "offers.intent.satisfaction_to_intent": 8.0},
    )
    assert control.table.set_index("metric").loc["ltv_opening_book", "ci_low"] > 0


# ------------------------------------------------------------------------------------------
# Gates shrink the effect of satisfaction on ARPA

STRONG = {**SMALL, "population.initial_accounts": 800, "offers.intent.satisfaction_to_intent": 8.0}


def _effect(exp: lab.LabExperiment, metric: str) -> np.ndarray:
    m = exp.metrics
    base = m[m["scenario"] == exp.baseline.scenario.name].sort_values("replication")
    other = m[m["scenario"] == exp.treated.scenario.name].sort_values("replication")
    return other[metric].to_numpy() - base[metric].to_numpy()


@pytest.mark.slow
def test_strong_intent_raises_arpa_and_gates_shrink_it() -> None:
    free = lab.run_intervention("b2b_no_friction", 0.15, replications=6, seed=11, overrides=STRONG)
    gated = lab.run_intervention(
        "b2b_approval_friction", 0.15, replications=6, seed=11, overrides=STRONG
    )
    arpa = free.table.set_index("metric").loc["arpa_end"]
    assert arpa["ci_low"] > 0, arpa.to_dict()
    # the same seeds throughout: the difference of the two effects is paired too
    shrink = mean_ci(_effect(free, "arpa_end") - _effect(gated, "arpa_end"))
    assert shrink.low > 0, shrink
    within = mean_ci(free.decomposition()["within"] - gated.decomposition()["within"])
    assert within.low > 0, within


# ------------------------------------------------------------------------------------------
# The CRM's regression against the intervention


def _book(policy: str) -> dict:
    """One segment, sizes spread wide, no offers and no link from satisfaction to revenue: the
    causal effect of satisfaction on ARPA is zero by construction."""
    return {
        "name": f"book {policy}",
        "horizon_months": 24,
        "population": {
            "initial_accounts": 1500,
            "segments": {"all": {"plans": {"standard": 500}, "size_sigma": 0.9}},
        },
        "churn": {"monthly": {"alpha": 1.0, "beta": 40.0}, "satisfaction_effect": 0.0},
        "satisfaction": {"enabled": True},
        "coverage": {
            "policy": policy,
            "shares": {"high": 0.1, "low": 0.3},
            "csm": {"count": 10},
            "alerts": {"enabled": False},
        },
    }


@pytest.mark.slow
def test_naive_regression_is_biased_under_confounding_only() -> None:
    confounded = lab.run_intervention(_book("tiered_by_arr"), 0.1, replications=5, seed=2)
    nc = confounded.naive_vs_causal().set_index("estimate")
    assert nc.loc["naive_minus_causal", "ci_low"] > 0, nc  # big accounts: touched and paying more
    assert nc.loc["causal", "ci_low"] <= 0 <= nc.loc["causal", "ci_high"], nc
    clean = lab.run_intervention(_book("none"), 0.1, replications=5, seed=2)
    nc = clean.naive_vs_causal().set_index("estimate")
    bias = nc.loc["naive_minus_causal"]
    assert bias["ci_low"] <= 0 <= bias["ci_high"], nc


# ------------------------------------------------------------------------------------------
# The verdict follows the numbers


def _synthetic(retention: np.ndarray, expansion: np.ndarray, arpa: np.ndarray) -> tuple:
    reps = retention.size
    decomposition = pd.DataFrame(
        {
            "scenario": "raised",
            "replication": np.arange(reps),
            "baseline_revenue": 10_000.0,
            "revenue": 10_000.0 + retention + expansion,
            "total": retention + expansion,
            "retention": retention,
            "expansion": expansion,
            "mix": expansion * 0.0,
            "within": expansion,
            "baseline_arpa_end": 500.0,
            "arpa_end": 500.0 + arpa,
            "arpa_change": arpa,
            "arpa_mix": arpa * 0.0,
            "arpa_within": arpa,
        }
    )
    table = pd.DataFrame(
        [
            {
                "metric": "mean_satisfaction",
                "dose": 0.1,
                "difference": 0.08,
                "ci_low": 0.07,
                "ci_high": 0.09,
            },
            {
                "metric": "logo_churn_monthly",
                "dose": 0.1,
                "difference": -0.002,
                "ci_low": -0.003,
                "ci_high": -0.001,
            },
        ]
    )
    return table, decomposition


def test_verdict_names_the_dominant_effect_and_its_certainty() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, 8)
    table, d = _synthetic(500 + 10 * noise, 20 + 5 * noise[::-1], 0.5 * noise)
    text = lab.verdict(table, d, currency="EUR")
    assert text.startswith("Raising satisfaction by 0.1")
    assert "Retention (accounts staying longer) dominates" in text
    assert "ranking is sure" in text and "revenue goes up" in text
    assert "no measurable rise in ARPU" in text
    total = mean_ci(d["total"])
    assert f"{total.mean:,.0f} EUR" in text  # the figure itself, not a fixed sentence

    table, d = _synthetic(5 + noise, 400 + 10 * noise[::-1], 30 + noise)
    text = lab.verdict(table, d, currency="EUR")
    assert "Expansion (surviving accounts paying more) dominates" in text
    assert "satisfaction measurably raises ARPU" in text

    centred = noise - noise.mean()  # every mean exactly zero, every interval around it
    table, d = _synthetic(centred, centred[::-1], centred)
    text = lab.verdict(table, d)
    assert "cannot tell a gain from no effect" in text and "not sure" in text


def test_verdict_reports_the_regression_bias() -> None:
    table, d = _synthetic(np.full(4, 100.0) + np.arange(4), np.full(4, 10.0), np.arange(4.0))
    nc = pd.DataFrame(
        [
            {"estimate": "naive", "mean": 900.0, "ci_low": 800.0, "ci_high": 1000.0},
            {"estimate": "causal", "mean": 100.0, "ci_low": 50.0, "ci_high": 150.0},
            {"estimate": "naive_minus_causal", "mean": 800.0, "ci_low": 700.0, "ci_high": 900.0},
        ]
    )
    text = lab.verdict(table, d, nc)
    assert "+900" in text and "+100" in text and "off by +800" in text
    nc.loc[2, ["mean", "ci_low", "ci_high"]] = [5.0, -20.0, 30.0]
    assert "agree within the interval" in lab.verdict(table, d, nc)
    with pytest.raises(UserInputError):
        lab.verdict(table.iloc[:0], d)


#: A number signed with the ASCII hyphen-minus, and an interval written ``[a, b]``: the verdict
#: writes neither (the report tables write the minus sign U+2212 and ``[a to b]``).
HYPHEN_NUMBER = re.compile(r"(?<![\w.)])-\d")
COMMA_INTERVAL = re.compile(r"\[[^\]]*\d, [^\]]*\]")


def test_verdict_writes_numbers_as_the_report_tables_do() -> None:
    """Known figures in, known text out: the minus sign U+2212, thousands separators, units,
    ``[a to b]`` intervals, a relative change in %, churn in percentage points, and for each
    part of the decomposition the very text of the lab's table cell."""
    from simlib import reports
    from simlib.formatting import format_interval

    retention = np.array([1180.0, 1220.0, 1190.0, 1210.0])
    expansion = np.array([-830.0, -770.0, -810.0, -790.0])  # total +400: 4 % of 10,000
    table, d = _synthetic(retention, expansion, np.array([-12.0, -14.0, -13.0, -12.6]))
    nc = pd.DataFrame(
        [
            {"estimate": "naive", "mean": 5477.0, "ci_low": 4665.0, "ci_high": 6288.0},
            {"estimate": "within_segment", "mean": 419.0, "ci_low": 67.0, "ci_high": 771.0},
            {"estimate": "causal", "mean": -416.0, "ci_low": -481.0, "ci_high": -350.0},
            {"estimate": "naive_minus_causal", "mean": 5893.0, "ci_low": 5100.0, "ci_high": 6700.0},
        ]
    )
    text = lab.verdict(table, d, nc, currency="USD")
    assert not HYPHEN_NUMBER.search(text), HYPHEN_NUMBER.findall(text)
    assert not COMMA_INTERVAL.search(text), COMMA_INTERVAL.findall(text)
    assert "(+4.0 % of 10,000 USD, 95 % interval)" in text  # relative change: a percentage
    assert "moved +0.080)" in text
    assert "Monthly logo churn changed by −0.20 pp [−0.30 to −0.10]" in text
    assert "would report +5,477 USD/month per unit of satisfaction" in text
    assert "the intervention shows −416 USD/month [−481 to −350]" in text
    assert "it reports +419 USD/month [+67 to +771]." in text
    assert "off by +5,893 USD/month" in text
    # the same words as the lab's decomposition table, cell for cell
    parts = lab.decomposition_summary(d)
    cells = reports.lab_parts_table(parts).frame["change [95 % interval]"].tolist()
    assert len(cells) == 5
    for cell in cells[:3]:  # total, retention, expansion: the three the verdict names
        assert cell in text, (cell, text)
    exp = mean_ci(d["expansion"])
    assert format_interval(exp.mean, exp.low, exp.high, "money", signed=True) in text
    assert "against expansion −800 USD [−" in text


def test_cs_verdict_writes_numbers_as_the_report_tables_do() -> None:
    roi = pd.DataFrame(
        [
            {"figure": "cs_cost", "mean": 12000.0, "ci_low": 11000.0, "ci_high": 13000.0},
            {"figure": "revenue", "mean": 7800.0, "ci_low": 2100.0, "ci_high": 13500.0},
            {"figure": "net_value", "mean": -4200.0, "ci_low": -7100.0, "ci_high": -1300.0},
            {"figure": "roi", "mean": -0.35, "ci_low": -0.59, "ci_high": -0.11},
        ]
    )
    text = lab.cs_verdict(roi, "EUR")
    assert text.startswith("The CS team cost 12,000 EUR over the horizon")
    assert "changed revenue by +7,800 EUR [+2,100 to +13,500]" in text
    assert "gained −4,200 EUR [−7,100 to −1,300] (ROI −35 % of the cost)" in text
    assert text.endswith("it does not earn its cost back.")


# ------------------------------------------------------------------------------------------
# Closed form, inputs, CS ROI


def test_churn_floor_closed_form() -> None:
    """R(c) = a (1 - (1 - c)^H) / c without expansion; a / c as H grows (LTV = a / (1 - r))."""
    c = np.array([0.03, 0.01, 0.005])
    cf = lab.churn_floor_closed_form(c, arpa=100.0, horizon_months=60)
    assert np.allclose(cf["revenue"], 100 * (1 - (1 - c) ** 60) / c, rtol=1e-12)
    assert np.allclose(cf["retention_headroom"], 100 * 60 - cf["revenue"], rtol=1e-12)
    long = lab.churn_floor_closed_form(c, arpa=100.0, horizon_months=20_000)
    assert np.allclose(long["revenue"], 100 / c, rtol=1e-9)
    # the headroom retention still has shrinks as churn falls; expansion's per-point value does not
    assert (np.diff(cf["retention_headroom"]) < 0).all()
    assert (np.diff(cf["per_point_expansion"]) > 0).all()


def test_bad_input_is_a_user_input_error() -> None:
    sc = simlib.load_scenario("b2b_saas")
    with pytest.raises(UserInputError, match="intervention"):
        lab.intervention_overrides(sc, 0.1, kind="magic")
    with pytest.raises(UserInputError, match="dose"):
        lab.intervention_overrides(sc, 2.0)
    with pytest.raises(UserInputError, match="non-zero dose"):
        lab.dose_response("b2b_saas", doses=[0.0])
    assert lab.intervention_overrides(sc, 0.1) == ["satisfaction.uplift=0.1"]
    fit = simlib.load_scenario(sc, lab.intervention_overrides(sc, 0.1, kind="fit"))
    for name, seg in fit.segment_table().items():
        assert seg.fit.mean == pytest.approx(sc.segment_table()[name].fit.mean + 0.1, rel=1e-5)


def test_dose_response_table_and_cs_roi() -> None:
    dr = lab.dose_response("b2b_saas", doses=[0.2, 0.1], replications=2, seed=1, overrides=SMALL)
    assert list(dr.table.columns[:5]) == ["dose", "metric", "difference", "ci_low", "ci_high"]
    assert sorted(dr.table["dose"].unique()) == [0.1, 0.2]
    assert set(dr.table["metric"]) == set(lab.LAB_METRICS)
    sat = dr.table[dr.table["metric"] == "mean_satisfaction"].set_index("dose")["difference"]
    assert 0 < sat[0.1] < sat[0.2]  # a bigger dose raises satisfaction more
    parts = dr.decomposition()
    assert {"dose", "part", "mean", "ci_low", "ci_high"} <= set(parts.columns)

    none = simlib.simulate(
        "coverage_none", replications=2, seed=1, overrides=simlib_overrides(SMALL)
    )
    cs = simlib.simulate(
        "cs_surveys_only", replications=2, seed=1, overrides=simlib_overrides(SMALL)
    )
    roi = lab.cs_roi(none, cs).set_index("figure")
    assert roi.loc["cs_cost", "mean"] > 0
    expected = (cs.summary["net_value"] - none.summary["net_value"]) / (
        cs.summary["cs_cost"] - none.summary["cs_cost"]
    )
    assert roi.loc["roi", "mean"] == pytest.approx(expected.mean(), rel=1e-12)
