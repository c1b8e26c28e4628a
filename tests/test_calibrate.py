"""Calibration: sBG fits from retention tables and account data, closed forms, bad data, import.

Tolerances come from sampling error: a fitted parameter is checked within 3 of its own standard
errors (two-sided p = 0.003 per parameter, fixed seeds); the standard errors themselves are
checked against the spread of fits over replicated samples; closed forms against direct sums.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import integrate
from scipy import stats as st
from scipy.special import betaln

import simlib
from simlib import calibrate as cal
from simlib.errors import DataError

Z = 3.0
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "examples" / "retention.csv"


def _within(fit: cal.SBGFit, alpha: float, beta: float, z: float = Z) -> None:
    assert fit.converged, fit.warnings
    assert abs(fit.alpha - alpha) <= z * fit.alpha_se, (fit.alpha, fit.alpha_se, alpha)
    assert abs(fit.beta - beta) <= z * fit.beta_se, (fit.beta, fit.beta_se, beta)


# ------------------------------------------------------------------------------------------
# Closed forms


@pytest.mark.parametrize(("a", "b"), [(0.3, 2.0), (0.668, 3.806), (1.0, 20.0), (4.0, 60.0)])
def test_survival_churn_and_retention_match_integrals(a, b):
    """S(t) = E[(1-theta)^t], P(T=t) = E[theta (1-theta)^(t-1)], r(t) = S(t)/S(t-1)."""
    pdf = st.beta(a, b).pdf
    for t in (1, 2, 5, 12, 40):
        s = integrate.quad(lambda x, t=t: (1 - x) ** t * pdf(x), 0, 1, limit=200)[0]
        p = integrate.quad(lambda x, t=t: x * (1 - x) ** (t - 1) * pdf(x), 0, 1, limit=200)[0]
        assert cal.survival(a, b, t) == pytest.approx(s, rel=1e-6)
        assert cal.churn_probability(a, b, t) == pytest.approx(p, rel=1e-6)
        r = cal.survival(a, b, t) / cal.survival(a, b, t - 1)
        assert cal.retention_rate(a, b, t) == pytest.approx(r, rel=1e-12)
    t = np.arange(1, 200)
    total = cal.churn_probability(a, b, t).sum() + cal.survival(a, b, t[-1])
    assert total == pytest.approx(1.0, abs=1e-12)


def _direct_sum(a: float, b: float, d: float, n: int) -> float:
    """sum_{t>=n} S(t)/S(n-1) (1+d)^-(t-n), summed until the terms vanish."""
    t = np.arange(n, n + 400_000, dtype=np.float64)
    terms = np.exp(betaln(a, b + t) - betaln(a, b + n - 1) - (t - n) * np.log1p(d))
    assert terms[-1] < 1e-18
    return float(terms.sum())


@pytest.mark.parametrize(
    ("a", "b"), [(0.05, 0.2), (0.668, 3.806), (1.0, 20.0), (2.0, 1.0), (50.0, 100.0), (5, 1e4)]
)
@pytest.mark.parametrize("d", [1.1 ** (1 / 12) - 1, 0.1, 0.5])
def test_del_and_derl_match_direct_summation(a, b, d):
    """DEL = 2F1(1, b; a+b; 1/(1+d)), DERL via 2F1 too (Fader & Hardie 2010), to 1e-6."""
    z = 1 / (1 + d)
    direct_del = 1.0 + z * _direct_sum(a, b, d, 1)
    assert cal.discounted_expected_lifetime(a, b, d) == pytest.approx(direct_del, rel=1e-6)
    for n in (1, 2, 7, 30):
        derl = cal.discounted_expected_residual_lifetime(a, b, d, n)
        assert derl == pytest.approx(_direct_sum(a, b, d, n), rel=1e-6)


def test_del_of_a_homogeneous_cohort_is_geometric():
    """With a huge alpha + beta every account churns with p = alpha/(alpha+beta):
    DEL = sum (1-p)^t/(1+d)^t = (1+d)/(d+p)."""
    p, d = 0.05, 0.01
    a = 1e6 * p
    assert cal.discounted_expected_lifetime(a, 1e6 - a, d) == pytest.approx(
        (1 + d) / (d + p), rel=1e-4
    )
    with pytest.raises(ValueError):
        cal.discounted_expected_lifetime(1.0, 2.0, 0.0)


# ------------------------------------------------------------------------------------------
# Fits: known answers and round trips


def test_fit_reproduces_fader_hardie_2007():
    """The paper's two segments, 7 years of a 1000-customer cohort: published estimates
    alpha 0.668, beta 3.806 (high end) and 0.704, 1.182 (regular); LL -1611.2 and -1680.3."""
    high = [1000, 869, 743, 653, 593, 551, 517, 491]
    regular = [1000, 631, 468, 382, 326, 289, 262, 241]
    table = pd.DataFrame(
        {
            "segment": ["high"] * 8 + ["regular"] * 8,
            "period": list(range(8)) * 2,
            "alive": high + regular,
        }
    )
    fits = {f.group: f for f in cal.fit_retention(table, period_months=12)}
    assert fits["high"].alpha == pytest.approx(0.668, abs=6e-4)
    assert fits["high"].beta == pytest.approx(3.806, abs=6e-4)
    assert fits["regular"].alpha == pytest.approx(0.704, abs=6e-4)
    assert fits["regular"].beta == pytest.approx(1.182, abs=6e-4)
    assert fits["high"].log_likelihood == pytest.approx(-1611.2, abs=0.06)
    assert fits["regular"].log_likelihood == pytest.approx(-1680.3, abs=0.06)
    # the maximum: the exact gradient vanishes and every nearby point is worse
    f = fits["high"]
    for da, db in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)):
        c, e, w = cal._Counts(
            np.arange(1, 8.0), -np.diff(high).astype(float), np.array([7.0]), np.array([491.0])
        ).terms()
        assert cal._loglik(f.alpha + da, f.beta + db, c, e, w) < f.log_likelihood


def _sample_cohort(rng: np.random.Generator, a: float, b: float, n: int, periods: int):
    theta = rng.beta(a, b, size=n)
    t = rng.geometric(theta)  # renewal at which each account churns, >= 1
    alive = np.array([(t > k).sum() for k in range(periods + 1)])
    return pd.DataFrame({"period": np.arange(periods + 1), "alive": alive})


def test_standard_errors_match_the_spread_of_fits():
    """Over 200 samples the SD of the estimates matches the mean Hessian standard error.

    The SD of 200 values has a relative standard error of 1/sqrt(2 x 199) = 5 %; the band
    [0.8, 1.25] allows 4 of those plus the asymptotic approximation.
    """
    rng = np.random.default_rng(20261123)
    a, b = 0.9, 10.0
    fits = [cal.fit_retention(_sample_cohort(rng, a, b, 4000, 12))[0] for _ in range(200)]
    alphas = np.array([f.alpha for f in fits])
    betas = np.array([f.beta for f in fits])
    for est, se, truth in (
        (alphas, [f.alpha_se for f in fits], a),
        (betas, [f.beta_se for f in fits], b),
    ):
        ratio = est.std(ddof=1) / np.mean(se)
        assert 0.8 <= ratio <= 1.25, ratio
        # nearly unbiased: the mean of 200 estimates within 4 of its standard errors
        assert abs(est.mean() - truth) <= 4 * est.std(ddof=1) / math.sqrt(len(est)) + 0.02 * truth


def test_round_trip_retention_table_from_textbook_simulation():
    alpha, beta, n = 0.8, 12.0, 20_000
    res = simlib.simulate(
        "textbook",
        seed=5,
        overrides=[
            f"population.initial_accounts={n}",
            f"churn.monthly.alpha={alpha}",
            f"churn.monthly.beta={beta}",
        ],
    )
    table = cal.retention_table_from_accounts(res.accounts, 36, by=None)
    assert list(table.columns) == ["period", "alive"]
    assert table["period"].iloc[-1] == 35  # the renewal at the end of month 35 is beyond
    assert table["alive"].iloc[0] == n
    (fit,) = cal.fit_retention(table)
    _within(fit, alpha, beta)
    assert fit.n == n and fit.periods == 35 and fit.period_months == 1
    # the fitted curve lies within the sampling band of the observed one
    s_obs = table["alive"].to_numpy() / n
    s_fit = fit.survival(table["period"].to_numpy())
    assert np.all(np.abs(s_obs - s_fit) <= 4 * np.sqrt(s_fit * (1 - s_fit) / n) + 1e-12)


def test_round_trip_two_segments_example_table():
    """The shipped example (smb ~ Beta(0.8, 12), mid_market ~ Beta(1.5, 40))."""
    fits = {f.group: f for f in cal.fit_retention(EXAMPLE)}
    assert set(fits) == set(cal.DEMO_SEGMENTS)
    for name, seg in cal.DEMO_SEGMENTS.items():
        _within(fits[name], seg["churn"]["monthly"]["alpha"], seg["churn"]["monthly"]["beta"])


def test_round_trip_accounts_with_censoring():
    """Accounts arriving every month are censored at many different tenures."""
    alpha, beta = 1.2, 15.0
    res = simlib.simulate(
        "textbook",
        seed=8,
        overrides=[
            "population.initial_accounts=4000",
            "acquisition.new_accounts_per_month=400",
            "acquisition.process=fixed",
            f"churn.monthly.alpha={alpha}",
            f"churn.monthly.beta={beta}",
        ],
    )
    data = cal.survival_data_from_accounts(res.accounts)
    censored = data[data["event"] == 0]
    assert len(censored) > 5000 and censored["duration_months"].nunique() == 36
    (fit,) = cal.fit_accounts(data, "duration_months", "event")
    _within(fit, alpha, beta)
    assert fit.n == len(data) and fit.churned == int(data["event"].sum())

    # the opening cohort alone: account-level and cohort-table likelihoods are the same
    cohort = res.accounts[res.accounts["start_month"] == 0]
    (f_acc,) = cal.fit_accounts(cal.survival_data_from_accounts(cohort), "duration_months", "event")
    (f_tab,) = cal.fit_retention(cal.retention_table_from_accounts(cohort, 36, by=None))
    assert f_acc.log_likelihood == pytest.approx(f_tab.log_likelihood, rel=1e-10)
    assert f_acc.alpha == pytest.approx(f_tab.alpha, rel=1e-6)
    assert f_acc.beta == pytest.approx(f_tab.beta, rel=1e-6)


def test_round_trip_annual_contracts_in_months():
    """Durations in months, 12 months per renewal period; 4 annual renewals observed."""
    res = simlib.simulate(
        "textbook",
        seed=9,
        overrides=[
            "population.initial_accounts=20000",
            "horizon_months=60",
            "contracts.annual_share=1.0",
            "churn.annual.alpha=1.0",
            "churn.annual.beta=5.0",
        ],
    )
    data = cal.survival_data_from_accounts(res.accounts)
    assert set(data.loc[data["event"] == 1, "duration_months"]) == {12, 24, 36, 48}
    (fit,) = cal.fit_accounts(data, "duration_months", "event", period_months=12)
    _within(fit, 1.0, 5.0)
    assert fit.periods == 4 and fit.period_months == 12
    assert fit.to_dict()["discount_rate_per_period"] == pytest.approx(0.1)


def test_holdout_projection_within_its_uncertainty():
    table = pd.read_csv(EXAMPLE)
    k = 12
    ho = cal.holdout_table(table, fit_periods=k)
    assert set(ho["part"]) == {"fit", "holdout"}
    assert (ho.loc[ho["period"] <= k, "part"] == "fit").all()
    fits = {f.group: f for f in cal.fit_retention(table, fit_periods=k)}
    for name, part in ho.groupby("group"):
        f = fits[name]
        later = part[part["part"] == "holdout"]
        n = part["observed_alive"].iloc[0]
        t = later["period"].to_numpy()
        # delta-method standard error of the projected S(t) plus the binomial error of S(t)
        h = 1e-6
        ga = (cal.survival(f.alpha * (1 + h), f.beta, t) - cal.survival(f.alpha, f.beta, t)) / (
            f.alpha * h
        )
        gb = (cal.survival(f.alpha, f.beta * (1 + h), t) - cal.survival(f.alpha, f.beta, t)) / (
            f.beta * h
        )
        g = np.stack([ga, gb])
        var_fit = np.einsum("it,ij,jt->t", g, f.covariance, g)
        s = later["fitted_survival"].to_numpy()
        band = 4 * np.sqrt(var_fit + s * (1 - s) / n)
        assert np.all(np.abs(later["observed_survival"].to_numpy() - s) <= band)


def test_no_heterogeneity_is_flagged_not_hidden():
    """A constant churn probability (a geometric cohort): alpha, beta run off to the bound."""
    rng = np.random.default_rng(4)
    t = rng.geometric(0.05, size=20_000)
    alive = [int((t > k).sum()) for k in range(25)]
    (fit,) = cal.fit_retention(pd.DataFrame({"period": range(25), "alive": alive}))
    assert fit.mean_churn == pytest.approx(0.05, abs=0.003)
    if not fit.converged:
        assert fit.warnings and "no sign of heterogeneity" in fit.warnings[0]
    else:  # an interior maximum: then heterogeneity is tiny
        assert fit.alpha > 20


# ------------------------------------------------------------------------------------------
# Kaplan-Meier


def test_kaplan_meier_of_a_cohort_table_is_alive_over_size():
    table = pd.read_csv(EXAMPLE)
    km = cal.kaplan_meier_retention(table)
    for name, part in table.groupby("segment"):
        curve = km[km["group"] == name].set_index("time")
        s = part["alive"].to_numpy() / part["alive"].iloc[0]
        assert np.allclose(curve.loc[part["period"], "survival"].to_numpy(), s)
        inner = curve.loc[1:]
        assert np.all(inner["ci_low"] < inner["survival"])
        assert np.all(inner["survival"] < inner["ci_high"])


def test_kaplan_meier_of_accounts_matches_lifelines():
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(2)
    n = 3000
    theta = rng.beta(1.0, 8.0, n)
    t = rng.geometric(theta)
    c = rng.integers(1, 30, n)
    data = pd.DataFrame({"d": np.minimum(t, c), "e": (t <= c).astype(int)})
    km = cal.kaplan_meier_accounts(data, "d", "e")
    ref = lifelines.KaplanMeierFitter().fit(data["d"], data["e"])
    ours = km.set_index("time")["survival"]
    theirs = ref.survival_function_.iloc[:, 0]
    common = ours.index.intersection(theirs.index)
    assert np.allclose(ours.loc[common], theirs.loc[common], atol=1e-12)
    ci = ref.confidence_interval_survival_function_
    assert np.allclose(
        km.set_index("time").loc[common, "ci_low"], ci.iloc[:, 0].loc[common], atol=1e-6
    )


# ------------------------------------------------------------------------------------------
# Output: JSON, fragments, CLI


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_retention_json_out_fragment_and_holdout(tmp_path, run_cli):
    out, frag = tmp_path / "fit.json", tmp_path / "sub" / "churn.yaml"
    code, stdout, stderr = run_cli(
        "calibrate",
        "retention",
        str(EXAMPLE),
        "--out",
        str(out),
        "--fragment",
        str(frag),
        "--holdout",
        "12",
    )
    assert code == 0, stderr
    result = json.loads(stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == result
    keys = {"group", "alpha", "beta", "alpha_se", "beta_se", "log_likelihood", "n", "period_months"}
    assert [r["group"] for r in result["fits"]] == ["smb", "mid_market"]
    for rec in result["fits"]:
        assert keys <= set(rec)
        assert rec["period_months"] == 1 and rec["holdout"]["fit_periods"] == 12
        assert rec["holdout"]["periods"] == list(range(13, 25))
        assert rec["del"] > rec["derl"]["1"] > 0
    assert not [p for p in tmp_path.rglob(".*tmp*")]

    # the fragment goes straight into an extends-based scenario
    scenario_file = _write(tmp_path, "calibrated.yaml", "extends: textbook\n" + frag.read_text())
    scenario = simlib.load_scenario(scenario_file)
    segs = scenario.segment_table()
    fits = {r["group"]: r for r in result["fits"]}
    for name in ("smb", "mid_market"):
        assert segs[name].churn.monthly.alpha == pytest.approx(fits[name]["alpha"], rel=1e-5)
        assert segs[name].churn.monthly.beta == pytest.approx(fits[name]["beta"], rel=1e-5)
    assert sum(s.share for s in segs.values()) == pytest.approx(1.0)
    # ... and as --set overrides
    over = simlib.load_scenario("textbook", overrides=result["overrides"])
    assert over.segment_table()["smb"].churn.monthly.beta == segs["smb"].churn.monthly.beta


@pytest.mark.parametrize(("months", "kind"), [(1, "monthly"), (12, "annual")])
def test_single_fit_fragment_sets_top_level_churn(tmp_path, months, kind):
    data = pd.DataFrame({"d": [1, 2, 2, 3, 5, 5, 6, 8, 8, 9], "e": [1, 1, 0, 1, 1, 0, 1, 0, 1, 0]})
    data["d"] *= months
    fits = cal.fit_accounts(data, "d", "e", period_months=months)
    text = cal.scenario_fragment(fits, "accounts.csv")
    assert yaml.safe_load(text) == {
        "churn": {kind: {"alpha": cal._round(fits[0].alpha), "beta": cal._round(fits[0].beta)}}
    }
    scenario = simlib.load_scenario(_write(tmp_path, "s.yaml", "extends: textbook\n" + text))
    assert getattr(scenario.churn, kind).alpha == pytest.approx(fits[0].alpha, rel=1e-5)
    assert getattr(scenario.segment_table()["all"].churn, kind).beta == pytest.approx(
        fits[0].beta, rel=1e-5
    )
    with pytest.raises(ValueError, match="monthly"):
        cal.scenario_fragment([cal.SBGFit(**{**fits[0].__dict__, "period_months": 3})])


def test_cli_accounts_with_groups(tmp_path, run_cli):
    res = simlib.simulate(_demo_scenario(), seed=2)
    data = cal.survival_data_from_accounts(res.accounts)
    path = tmp_path / "accounts.csv"
    data.to_csv(path, index=False)
    code, stdout, stderr = run_cli(
        "calibrate",
        "accounts",
        str(path),
        "--duration",
        "duration_months",
        "--event",
        "event",
        "--group",
        "segment",
    )
    assert code == 0, stderr
    fits = {r["group"]: r for r in json.loads(stdout)["fits"]}
    assert set(fits) == {"smb", "mid_market"}
    for name, seg in cal.DEMO_SEGMENTS.items():
        truth = seg["churn"]["monthly"]
        assert abs(fits[name]["alpha"] - truth["alpha"]) <= Z * fits[name]["alpha_se"]
        assert abs(fits[name]["beta"] - truth["beta"]) <= Z * fits[name]["beta_se"]
    assert sum(f["n"] for f in fits.values()) == len(data)


def _demo_scenario() -> dict:
    return {
        "extends": "textbook",
        "population": {"initial_accounts": 3000, "segments": cal.DEMO_SEGMENTS},
        "acquisition": {"new_accounts_per_month": 100},
    }


def test_apply_fits_clones_the_single_segment_and_simulates():
    fits = cal.fit_retention(EXAMPLE)
    scenario = cal.apply_fits("textbook", fits)
    segs = scenario.segment_table()
    assert list(segs) == ["smb", "mid_market"]
    assert segs["smb"].plans == {"standard": 100.0}
    assert segs["smb"].churn.monthly.alpha == fits[0].alpha
    assert segs["smb"].share == pytest.approx(fits[0].n / (fits[0].n + fits[1].n), abs=1e-6)
    res = simlib.simulate(scenario, seed=1, overrides=["horizon_months=3"])
    assert set(res.accounts["segment"].astype(str)) == {"smb", "mid_market"}


# ------------------------------------------------------------------------------------------
# Bad data

RETENTION_CASES = [
    ("negative", "period,alive\n0,100\n1,-3\n2,1\n", ["line 3 (data row 2)", "'alive'", ">= 0"]),
    ("rises", "period,alive\n0,100\n1,80\n2,90\n", ["line 4 (data row 3)", "'alive'", "rises"]),
    ("missing", "period,count\n0,100\n1,80\n", ["missing column", "'alive'"]),
    ("text", "period,alive\n0,100\n1,eighty\n", ["line 3 (data row 2)", "'alive'", "eighty"]),
    ("empty", "", ["empty"]),
    ("blank", "\n  \n", ["empty"]),
    ("header", "period,alive\n", ["no data rows"]),
    ("fraction", "period,alive\n0,100\n1,80.5\n", ["line 3", "'alive'", "whole number"]),
    ("gap", "period,alive\n0,100\n1,80\n3,70\n", ["line 4", "'period'", "gaps"]),
    ("no_zero", "period,alive\n1,100\n2,80\n3,70\n", ["line 2", "'period'", "period 0"]),
    ("twice", "period,alive\n0,100\n1,80\n1,80\n", ["line 4", "'period'", "twice", "line 3"]),
    ("cells", "period,alive\n0,100\n1,80,3\n", ["line 3", "2"]),
    ("nan", "period,alive\n0,100\n1,nan\n", ["line 3", "'alive'", "finite"]),
    ("short", "period,alive\n0,100\n1,80\n", ["periods 0, 1 and 2"]),
    ("no_churn", "period,alive\n0,100\n1,100\n2,100\n", ["no account churned"]),
    ("segment", "segment,period,alive\na,0,10\n,1,8\n", ["line 3", "'segment'", "empty"]),
]

ACCOUNT_CASES = [
    ("event", "tenure,churned\n3,1\n4,2\n5,0\n", ["line 3 (data row 2)", "'churned'", "0"]),
    ("negative", "tenure,churned\n3,1\n-4,0\n", ["line 3 (data row 2)", "'tenure'", ">= 0"]),
    ("text", "tenure,churned\n3,1\nfour,0\n", ["line 3", "'tenure'", "four"]),
    ("missing", "tenure,state\n3,1\n", ["missing column", "'churned'"]),
    ("zero", "tenure,churned\n3,1\n0,1\n", ["line 3", "'tenure'", "> 0"]),
    ("empty_event", "tenure,churned\n3,1\n4,\n", ["line 3", "'churned'", "empty"]),
    ("no_churn", "tenure,churned\n3,0\n4,0\n", ["no account churned"]),
    ("first_only", "tenure,churned\n1,1\n1,0\n", ["first renewal"]),
]


@pytest.mark.parametrize(("name", "text", "needles"), RETENTION_CASES, ids=lambda c: str(c)[:12])
def test_bad_retention_tables_are_refused(tmp_path, run_cli, name, text, needles):
    path = _write(tmp_path, f"{name}.csv", text)
    with pytest.raises(DataError) as err:
        cal.fit_retention(path)
    message = str(err.value)
    assert message.startswith(str(path))
    for needle in needles:
        assert needle in message, message
    out, frag = tmp_path / "out.json", tmp_path / "frag.yaml"
    code, stdout, stderr = run_cli(
        "calibrate", "retention", str(path), "--out", str(out), "--fragment", str(frag)
    )
    assert code == 2 and stdout == ""
    assert needles[0] in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.csv"]


@pytest.mark.parametrize(("name", "text", "needles"), ACCOUNT_CASES, ids=lambda c: str(c)[:12])
def test_bad_account_tables_are_refused(tmp_path, run_cli, name, text, needles):
    path = _write(tmp_path, f"{name}.csv", text)
    with pytest.raises(DataError) as err:
        cal.fit_accounts(path, "tenure", "churned")
    for needle in needles:
        assert needle in str(err.value), str(err.value)
    out = tmp_path / "out.json"
    code, stdout, stderr = run_cli(
        "calibrate",
        "accounts",
        str(path),
        "--duration",
        "tenure",
        "--event",
        "churned",
        "--out",
        str(out),
    )
    assert code == 2 and stdout == "" and needles[0] in stderr
    assert not out.exists()


def test_bad_dataframe_rows_are_named_by_data_row():
    table = pd.DataFrame({"period": [0, 1, 2], "alive": [100, 120, 90]})
    with pytest.raises(DataError, match=r"data row 2: column 'alive'"):
        cal.fit_retention(table)


def test_cli_refuses_a_fragment_for_quarterly_periods(tmp_path, run_cli):
    frag = tmp_path / "f.yaml"
    code, _, stderr = run_cli(
        "calibrate", "retention", str(EXAMPLE), "--period-months", "3", "--fragment", str(frag)
    )
    assert code == 2 and "--period-months" in stderr and not frag.exists()


def test_cli_holdout_out_of_range(run_cli):
    code, _, stderr = run_cli("calibrate", "retention", str(EXAMPLE), "--holdout", "24")
    assert code == 2 and "holdout" in stderr


# ------------------------------------------------------------------------------------------
# population.from_csv: start from a real book

BOOK = """id,segment,plan,mrr,contract,tenure_months,satisfaction
acme,smb,team,,monthly,3,0.9
globex,smb,,60,monthly,0,
initech,mid_market,scale,2500,annual,5,0.2
umbrella,mid_market,growth,,annual,11,
hooli,mid_market,premium,,annual,0,0.5
"""

BOOK_SCENARIO = """extends: textbook
horizon_months: 13
population:
  from_csv: {path}
  segments:
    smb:
      share: 0.5
      plans: {{starter: 49, team: 149}}
      churn:
        monthly: {{alpha: 0.0001, beta: 10000}}
    mid_market:
      share: 0.5
      plans: {{growth: 800, scale: 2000, premium: 5000}}
      churn:
        annual: {{alpha: 10000, beta: 0.0001}}
contracts:
  annual_discount: 0.1
"""


def _book_scenario(tmp_path: Path, book: str = BOOK, path: str = "data/book.csv") -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "book.csv").write_text(book, encoding="utf-8")
    return _write(tmp_path, "scenario.yaml", BOOK_SCENARIO.format(path=path))


def test_from_csv_starts_from_the_real_book(tmp_path, monkeypatch):
    scenario_file = _book_scenario(tmp_path)
    monkeypatch.chdir("/")  # the CSV is found beside the scenario, not in the working folder
    scenario = simlib.load_scenario(scenario_file)
    assert scenario.population.from_csv == str((tmp_path / "data" / "book.csv").resolve())
    assert "from_csv: " + str(tmp_path) in simlib.to_yaml(scenario)
    acc = simlib.simulate(scenario, seed=1).accounts
    assert len(acc) == 5
    assert acc["segment"].astype(str).tolist() == ["smb"] * 2 + ["mid_market"] * 3
    assert acc["contract"].astype(str).tolist() == ["monthly"] * 2 + ["annual"] * 3
    # team at list price; 60 is nearest the 49 starter plan; annual plans less the 10 % discount
    assert acc["initial_mrr"].tolist() == pytest.approx([149.0, 60.0, 2500.0, 720.0, 4500.0])
    assert (acc["start_month"] == 0).all()
    # monthly accounts (risk ~ 0) stay; annual ones (risk ~ 1) leave at their real anniversary:
    # tenure 5 -> end of month 6, tenure 11 -> end of month 0, tenure 0 -> end of month 11
    assert acc["churned"].tolist() == [False, False, True, True, True]
    assert acc["end_month"].iloc[2:].tolist() == [6, 0, 11]


def test_imported_accounts_share_the_keyed_draws(tmp_path):
    """Risk and fit of imported account i = those create_accounts draws for the same key."""
    from simlib.engine import Simulation

    scenario = simlib.load_scenario(_book_scenario(tmp_path), ["horizon_months=1"])
    imported = Simulation(scenario, seed=3).run().book
    generated_scenario = simlib.load_scenario(
        scenario.model_dump(mode="python"),
        ["population.from_csv=null", "population.initial_accounts=5"],
    )
    generated = Simulation(generated_scenario, seed=3).run().book
    assert np.array_equal(imported.key, generated.key)
    same_segment = imported.segment == generated.segment
    same = same_segment & (imported.contract == generated.contract)
    assert same.any() and not same.all()
    # acme (row 0) has survived 3 monthly renewals: its risk comes from Beta(alpha, beta + 3),
    # smaller at the same keyed uniform; the others have survived none and match exactly
    fresh = same.copy()
    fresh[0] = False
    assert np.array_equal(imported.risk[fresh], generated.risk[fresh])
    if same[0]:
        assert imported.risk[0] < generated.risk[0]
    assert np.array_equal(imported.fit[same_segment], generated.fit[same_segment])
    assert imported.satisfaction[0] == pytest.approx(0.9)
    assert imported.satisfaction[1] == imported.fit[1]


def test_imported_seasoned_accounts_have_the_survivors_risk(tmp_path):
    """After n renewals the survivors' risk is Beta(alpha, beta + n): mean alpha/(alpha+beta+n)."""
    n_accounts, alpha, beta, tenure = 4000, 1.0, 10.0, 6
    rows = "".join(f"a{i},all,standard,,monthly,{tenure},\n" for i in range(n_accounts))
    (tmp_path / "book.csv").write_text(
        "id,segment,plan,mrr,contract,tenure_months,satisfaction\n" + rows
    )
    scenario = simlib.load_scenario(
        "textbook",
        [
            f"population.from_csv={tmp_path / 'book.csv'}",
            "horizon_months=1",
            f"churn.monthly.alpha={alpha}",
            f"churn.monthly.beta={beta}",
        ],
    )
    from simlib.engine import Simulation

    risk = Simulation(scenario, seed=2).run().book.risk
    b = beta + tenure
    mean = alpha / (alpha + b)
    sd = np.sqrt(alpha * b / ((alpha + b) ** 2 * (alpha + b + 1)))
    assert abs(risk.mean() - mean) <= 4 * sd / np.sqrt(n_accounts)


BAD_BOOKS = [
    ("segment", "x,nowhere,team,,monthly,3,", ["line 3 (data row 2)", "'segment'", "nowhere"]),
    ("plan", "x,smb,gold,,monthly,3,", ["line 3", "'plan'", "gold", "starter, team"]),
    ("contract", "x,smb,team,,weekly,3,", ["line 3", "'contract'", "weekly"]),
    ("tenure", "x,smb,team,,monthly,-2,", ["line 3", "'tenure_months'", "-2"]),
    ("mrr", "x,smb,,lots,monthly,2,", ["line 3", "'mrr'", "lots"]),
    ("nothing", "x,smb,,,monthly,2,", ["line 3", "plan or an mrr"]),
    ("sat", "x,smb,team,,monthly,2,1.5", ["line 3", "'satisfaction'", "1.5"]),
    ("dup", "acme,smb,team,,monthly,2,", ["line 3", "'id'", "acme", "line 2"]),
]


@pytest.mark.parametrize(("name", "row", "needles"), BAD_BOOKS, ids=lambda c: str(c)[:10])
def test_bad_book_rows_are_named(tmp_path, run_cli, name, row, needles):
    header, first = BOOK.splitlines()[:2]
    scenario_file = _book_scenario(tmp_path, f"{header}\n{first}\n{row}\n")
    scenario = simlib.load_scenario(scenario_file)
    with pytest.raises(DataError) as err:
        simlib.run_replication(scenario, 1, 0)
    for needle in needles:
        assert needle in str(err.value), str(err.value)
    assert str(tmp_path / "data" / "book.csv") in str(err.value)
    # simulate() and `simlib run` pass the message on (the exit code is decided by how the
    # replication runner reports errors raised inside a replication)
    with pytest.raises(simlib.SimlibError, match=re.escape(needles[0])):
        simlib.simulate(scenario, seed=1)
    out = tmp_path / "run"
    code, _, stderr = run_cli("run", str(scenario_file), "--out", str(out), "-q")
    assert code != 0 and needles[0] in stderr and not out.exists()


def test_book_missing_columns(tmp_path):
    scenario_file = _book_scenario(tmp_path, "id,segment,contract,tenure_months\na,smb,monthly,1\n")
    with pytest.raises(DataError, match="'plan' or an 'mrr'"):
        simlib.run_replication(simlib.load_scenario(scenario_file), 0, 0)
    scenario_file = _book_scenario(tmp_path, "id,segment,plan\na,smb,team\n")
    with pytest.raises(DataError, match=r"missing column.*'contract'.*'tenure_months'"):
        simlib.run_replication(simlib.load_scenario(scenario_file), 0, 0)


# ------------------------------------------------------------------------------------------
# Charts and the notebook


def test_calibration_charts_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simlib.plots import calibration as calplots

    table = pd.read_csv(EXAMPLE)
    fig = calplots.retention_fit(cal.holdout_table(table, 12))
    ax = fig.axes[0]
    assert "0-12" in ax.get_title() and "monthly" in ax.get_xlabel()
    assert len(ax.patches) == 1  # the shaded holdout
    km = cal.kaplan_meier_retention(table)
    fig2 = calplots.km_vs_simulated(km, km.assign(survival=km["survival"] * 0.99))
    labels = fig2.axes[0].get_legend_handles_labels()[1]
    assert "smb: data" in labels and "mid_market: simulated" in labels
    plt.close("all")


def test_survival_gap_reads_both_step_curves_at_every_period():
    obs = pd.DataFrame(
        {"group": "a", "time": [0, 1, 3], "at_risk": [10, 10, 5], "survival": [1.0, 0.8, 0.5]}
    )
    # the simulated curve has no step at 3: it still holds 0.7 there; none at 2 in either
    sim = pd.DataFrame(
        {"group": "a", "time": [0, 1, 2], "at_risk": [100, 100, 90], "survival": [1.0, 0.9, 0.7]}
    )
    gap = cal.survival_gap(obs, sim).iloc[0]
    # periods 0..3: |1 - 1|, |0.9 - 0.8|, |0.7 - 0.8|, |0.7 - 0.5|
    assert gap["max_abs_gap"] == pytest.approx(0.2) and gap["period"] == 3
    assert gap["observed_n"] == 10 and gap["simulated_n"] == 100
    assert np.isnan(cal.survival_gap(obs, sim.assign(group="b"))["max_abs_gap"].iloc[0])


def test_calibration_notebook_is_clean_and_parameterized():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "notebooks" / "calibration.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'retention_csv: str = ""' in params[0].source
    assert 'output_dir: str = "."' in params[0].source
    assert "reports.write_outputs(output_dir" in code[-1].source  # the key figures, last
