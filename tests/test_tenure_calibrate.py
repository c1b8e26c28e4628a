"""Calibration with a tenure profile (simlib/calibration/tenure.py, models.py) and its checks.

Known answers: with no shifts the quadrature gives the sBG closed forms (Fader & Hardie 2007,
2010); with shifts it matches direct integration over the Beta density. Round trips: a book
simulated with a rising early hazard (the simulator's tenure term) is fitted back, every
parameter within 3 of its standard errors (as tests/test_calibrate.py); the plain sBG on it is
flagged; on an sBG-shaped book the likelihood-ratio test does not reject.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import integrate
from scipy import stats as st
from scipy.special import expit, logit

import simlib
from simlib import calibrate as cal
from simlib.calibration import sbg
from simlib.calibration.models import fit_accounts_models, fit_retention_models
from simlib.calibration.tenure import (
    TenureFit,
    beta_nodes,
    tenure_churn_probability,
    tenure_hazard,
    tenure_survival,
)
from simlib.errors import DataError

Z = 3.0
EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "retention.csv"
SHAPES = [(0.05, 0.2), (0.668, 3.806), (1.0, 20.0), (5.0, 1e4), (2e3, 3e4)]

# a book whose hazard rises over the first renewals: renewal 1 nearly free (a trial month),
# renewals 2 and 3 far riskier than a seasoned account
ALPHA, BETA, PROFILE = 1.0, 15.0, [-3.0, 1.0, 1.6]


@pytest.mark.parametrize(("a", "b"), SHAPES)
def test_without_shifts_the_quadrature_is_the_sbg_closed_form(a, b):
    t = np.arange(0, 120)
    assert np.allclose(tenure_survival(a, b, [], t), sbg.survival(a, b, t), rtol=1e-9, atol=0)
    assert np.allclose(
        tenure_churn_probability(a, b, [0.0, 0.0], t[1:]),
        sbg.churn_probability(a, b, t[1:]),
        rtol=1e-9,
        atol=0,
    )
    fit = TenureFit(None, a, b, 0.0, 0.0, np.eye(2), 0.0, 1, 1, 1, tenure_profile=[0.0])
    for d in (1.1 ** (1 / 12) - 1, 0.1, 0.5):
        assert fit.discounted_expected_lifetime(d) == pytest.approx(
            sbg.discounted_expected_lifetime(a, b, d), rel=1e-8
        )
        for n in (1, 2, 7):
            assert fit.discounted_expected_residual_lifetime(d, n) == pytest.approx(
                sbg.discounted_expected_residual_lifetime(a, b, d, n), rel=1e-8
            )


def test_beta_nodes_match_scipy_gauss_jacobi():
    from scipy.special import roots_jacobi

    theta, w = beta_nodes(0.7, 8.9)
    x, wj = roots_jacobi(64, 0.7 - 1, 8.9 - 1)
    order = np.argsort((1 - x) / 2)
    assert np.allclose(np.sort(theta), ((1 - x) / 2)[order], rtol=1e-10, atol=1e-14)
    assert np.allclose(w[np.argsort(theta)], (wj / wj.sum())[order], rtol=1e-8, atol=1e-15)


@pytest.mark.parametrize(("a", "b"), [(0.4, 3.0), (1.0, 15.0), (3.0, 40.0)])
def test_with_shifts_the_quadrature_matches_direct_integration(a, b):
    profile = [-3.0, 1.0, 2.5]
    pdf = st.beta(a, b).pdf
    d = np.array([0.0, *profile] + [0.0] * 20)

    def s(x: float, t: int) -> float:
        return float(np.prod(1 - expit(logit(x) + d[1 : t + 1]))) * pdf(x)

    for t in (1, 2, 3, 4, 9):
        exact = integrate.quad(s, 0, 1, args=(t,), limit=400, epsabs=1e-13)[0]
        assert tenure_survival(a, b, profile, t) == pytest.approx(exact, rel=1e-7)
    t = np.arange(1, 10)
    h = tenure_hazard(a, b, profile, t)
    assert np.allclose(
        h, 1 - tenure_survival(a, b, profile, t) / tenure_survival(a, b, profile, t - 1)
    )


def _rising_book(seed: int, profile=PROFILE) -> pd.DataFrame:
    res = simlib.simulate(
        "textbook",
        seed=seed,
        overrides={
            "population.initial_accounts": 5000,
            "acquisition.new_accounts_per_month": 200,
            "acquisition.process": "fixed",
            "horizon_months": 24,
            "churn.monthly.alpha": ALPHA,
            "churn.monthly.beta": BETA,
            "churn.tenure_profile.monthly": list(profile),
        },
    )
    return cal.survival_data_from_accounts(res.accounts)


@pytest.fixture(scope="module")
def rising() -> pd.DataFrame:
    return _rising_book(11)


def test_round_trip_a_rising_early_hazard(rising):
    (fit,) = fit_accounts_models(rising, "duration_months", "event", tenure_pieces=4)
    assert isinstance(fit, TenureFit) and fit.converged, fit.warnings
    assert abs(fit.alpha - ALPHA) <= Z * fit.alpha_se, (fit.alpha, fit.alpha_se)
    assert abs(fit.beta - BETA) <= Z * fit.beta_se, (fit.beta, fit.beta_se)
    for d, se, truth in zip(fit.tenure_profile, fit.tenure_profile_se, PROFILE, strict=True):
        assert abs(d - truth) <= Z * se, (d, se, truth)
    assert max(fit.tenure_profile_se) < 0.3  # the profile is measured, not just allowed
    checks = fit.checks
    assert checks["recommended"] == "sbg_tenure" and checks["likelihood_ratio"]["rejects_sbg"]
    record = fit.to_dict()
    assert record["model"] == "sbg_tenure" and record["tenure_pieces"] == 4
    assert len(record["tenure_profile"]) == 3 and len(record["tenure_profile_se"]) == 3


def test_the_plain_sbg_on_a_rising_book_says_it_cannot_follow(rising):
    (fit,) = fit_accounts_models(rising, "duration_months", "event")
    assert not isinstance(fit, TenureFit)
    checks = fit.checks
    assert checks["recommended"] == "sbg_tenure"
    assert checks["likelihood_ratio"]["p_value"] < 1e-6
    assert any("hazard rises" in w and "--tenure-profile 4" in w for w in checks["warnings"])
    hz = pd.DataFrame(checks["hazard"]).set_index("period")
    # the fitted profile follows the observed hazard at renewal 3, the plain sBG does not
    assert hz.loc[3, "observed_ci_low"] <= hz.loc[3, "sbg_tenure"] <= hz.loc[3, "observed_ci_high"]
    assert not hz.loc[3, "observed_ci_low"] <= hz.loc[3, "sbg"] <= hz.loc[3, "observed_ci_high"]
    # the published-shape fit itself is what fit_accounts gives, to the bit
    (plain,) = cal.fit_accounts(rising, "duration_months", "event")
    assert (fit.alpha, fit.beta, fit.log_likelihood) == (
        plain.alpha,
        plain.beta,
        plain.log_likelihood,
    )


def test_a_rising_book_with_no_heterogeneity_sends_the_plain_beta_to_its_edge():
    """The shape of the issue's SaaS table: hazards about 0, 16, 30 and 44 % at renewals 1-4
    (seasoned risk Beta(2000, 38000), 5 % with sd 0.1 %, observed for 8 renewals): the plain
    sBG's flattest hazard is its best answer, so alpha + beta runs without limit."""
    res = simlib.simulate(
        "textbook",
        seed=3,
        overrides={
            "population.initial_accounts": 4000,
            "horizon_months": 9,
            "churn.monthly.alpha": 2000.0,
            "churn.monthly.beta": 38000.0,
            "churn.tenure_profile.monthly": [-5.0, 1.3, 2.1, 2.7],
        },
    )
    data = cal.survival_data_from_accounts(res.accounts)
    (fit,) = fit_accounts_models(data, "duration_months", "event")
    warnings = " ".join(fit.checks["warnings"])
    assert "degenerate edge" in warnings and "hazard rises" in warnings, warnings
    hz = pd.DataFrame(fit.checks["hazard"]).set_index("period")["observed"]
    assert hz.loc[1] < 0.01 and 0.40 < hz.loc[4] < 0.48  # about 0 % ... 44 %


def test_on_an_sbg_shaped_book_the_richer_model_is_not_preferred():
    book = _rising_book(12, profile=[])
    (fit,) = fit_accounts_models(book, "duration_months", "event", tenure_pieces=4)
    checks = fit.checks
    assert not checks["likelihood_ratio"]["rejects_sbg"], checks["likelihood_ratio"]
    assert checks["recommended"] == "sbg" and checks["warnings"] == []
    for d, se in zip(fit.tenure_profile, fit.tenure_profile_se, strict=True):
        assert abs(d) <= Z * se


def test_fader_hardie_estimates_come_back_exactly_with_the_checks():
    high = [1000, 869, 743, 653, 593, 551, 517, 491]
    regular = [1000, 631, 468, 382, 326, 289, 262, 241]
    table = pd.DataFrame(
        {
            "segment": ["high"] * 8 + ["regular"] * 8,
            "period": list(range(8)) * 2,
            "alive": high + regular,
        }
    )
    old = {f.group: f for f in cal.fit_retention(table, period_months=12)}
    new = {f.group: f for f in fit_retention_models(table, period_months=12)}
    for g in ("high", "regular"):
        assert (new[g].alpha, new[g].beta, new[g].alpha_se, new[g].beta_se) == (
            old[g].alpha,
            old[g].beta,
            old[g].alpha_se,
            old[g].beta_se,
        )
        assert new[g].log_likelihood == old[g].log_likelihood
        models = new[g].checks["models"]
        assert [m["model"] for m in models] == ["sbg", "sbg_tenure"]
        assert models[1]["log_likelihood"] >= models[0]["log_likelihood"] - 1e-9
    assert new["high"].alpha == pytest.approx(0.668, abs=6e-4)


def test_holdout_reports_the_gap_of_each_model():
    """Fitted on renewals 0..10 of a cohort, projected to renewal 18: the profile model's
    largest gap stays within 4 binomial standard errors (at S = 0.5, the widest) plus the
    spread of its own projection; the plain sBG's is larger."""
    res = simlib.simulate(
        "textbook",
        seed=4,
        overrides={
            "population.initial_accounts": 6000,
            "horizon_months": 19,
            "churn.monthly.alpha": ALPHA,
            "churn.monthly.beta": BETA,
            "churn.tenure_profile.monthly": PROFILE,
        },
    )
    table = cal.retention_table_from_accounts(res.accounts, 19, by=None)
    (fit,) = fit_retention_models(table, fit_periods=10)
    gaps = {m["model"]: m["holdout"] for m in fit.checks["models"]}
    assert set(gaps) == {"sbg", "sbg_tenure"}
    assert gaps["sbg_tenure"]["max_abs_error"] < gaps["sbg"]["max_abs_error"]
    assert gaps["sbg_tenure"]["max_abs_error"] <= 4 * np.sqrt(0.25 / 6000) + 0.01


def _write_book(tmp_path, data: pd.DataFrame) -> str:
    path = tmp_path / "accounts.csv"
    data.to_csv(path, index=False)
    return str(path)


def test_cli_tenure_profile_json_and_fragment(tmp_path, run_cli, rising):
    path = _write_book(tmp_path, rising)
    out, frag = tmp_path / "fit.json", tmp_path / "churn.yaml"
    code, stdout, stderr = run_cli(
        "calibrate",
        "accounts",
        path,
        "--duration",
        "duration_months",
        "--event",
        "event",
        "--tenure-profile",
        "4",
        "--out",
        str(out),
        "--fragment",
        str(frag),
    )
    assert code == 0, stderr
    assert "simlib calibrate: warning: all accounts: the hazard rises with tenure" in stderr
    result = json.loads(stdout)
    assert json.loads(out.read_text()) == result
    (rec,) = result["fits"]
    assert any("hazard rises" in w for w in rec["warnings"])
    assert rec["model"] == "sbg_tenure" and rec["checks"]["recommended"] == "sbg_tenure"
    assert any(o.startswith("churn.tenure_profile.monthly=[") for o in result["overrides"])
    doc = yaml.safe_load(frag.read_text())
    assert doc["churn"]["tenure_profile"]["monthly"] == pytest.approx(
        rec["tenure_profile"], rel=1e-5
    )
    scenario = simlib.load_scenario({"extends": "textbook", **doc})
    assert scenario.churn.tenure_profile.monthly == doc["churn"]["tenure_profile"]["monthly"]


def test_cli_every_command_checks_the_model(run_cli):
    example = EXAMPLE
    code, stdout, stderr = run_cli("calibrate", "retention", str(example))
    assert code == 0, stderr
    for rec in json.loads(stdout)["fits"]:
        checks = rec["checks"]
        assert rec["model"] == "sbg" and checks["recommended"] in ("sbg", "sbg_tenure")
        assert len(checks["hazard"]) == 24 and checks["likelihood_ratio"]["df"] == 3


def test_cli_profile_fragment_by_group_and_a_profile_too_long(tmp_path, run_cli, rising):
    """Fits by group with a profile write each segment's own profile
    (population.segments.S.churn.tenure_profile); the fragment loads and runs."""
    path = _write_book(tmp_path, rising)
    out, frag = tmp_path / "fit.json", tmp_path / "churn.yaml"
    code, stdout, stderr = run_cli(
        "calibrate",
        "accounts",
        path,
        "--duration",
        "duration_months",
        "--event",
        "event",
        "--group",
        "segment",
        "--tenure-profile",
        "3",
        "--out",
        str(out),
        "--fragment",
        str(frag),
    )
    assert code == 0, stderr
    result = json.loads(stdout)
    ((name, rec),) = ((r["group"], r) for r in result["fits"])
    key = f"population.segments.{name}.churn.tenure_profile.monthly="
    assert any(o.startswith(key) for o in result["overrides"]), result["overrides"]
    doc = yaml.safe_load(frag.read_text())
    seg = doc["population"]["segments"][name]["churn"]
    assert seg["tenure_profile"]["monthly"] == pytest.approx(rec["tenure_profile"], rel=1e-5)
    scenario = simlib.load_scenario({"extends": "textbook", **doc})
    assert scenario.segment_table()[name].churn.tenure_profile.monthly == pytest.approx(
        rec["tenure_profile"], rel=1e-5
    )
    run = simlib.simulate(scenario, seed=1, overrides=["horizon_months=3"])
    assert len(run.accounts) > 0
    code, _, stderr = run_cli(
        "calibrate",
        "accounts",
        path,
        "--duration",
        "duration_months",
        "--event",
        "event",
        "--tenure-profile",
        "30",
    )
    assert code == 2 and "--tenure-profile 30" in stderr and path in stderr
    code, _, stderr = run_cli(
        "calibrate",
        "accounts",
        path,
        "--duration",
        "duration_months",
        "--event",
        "event",
        "--tenure-profile",
        "1",
    )
    assert code == 2 and "--tenure-profile" in stderr


def test_apply_fits_puts_the_profile_into_the_scenario(rising):
    (fit,) = fit_accounts_models(rising, "duration_months", "event", tenure_pieces=4)
    scenario = cal.apply_fits("textbook", [fit])
    assert scenario.churn.tenure_profile.monthly == fit.tenure_profile
    assert scenario.churn.monthly.alpha == fit.alpha
    grouped = fit_accounts_models(rising, "duration_months", "event", "segment", 1, 4)
    scenario = cal.apply_fits("textbook", grouped)
    (seg,) = scenario.segment_table().values()
    assert seg.churn.tenure_profile.monthly == grouped[0].tenure_profile
    assert "tenure_profile" in cal.scenario_fragment(grouped)


def test_without_segment_profiles_a_profile_by_group_is_refused(rising, monkeypatch):
    """A scenario whose segments take no profile of their own: fits by group with a profile
    have no fragment (the scenario's profile is every segment's)."""
    from simlib.calibration import fragments

    monkeypatch.setattr(fragments, "segments_take_a_profile", lambda: False)
    grouped = fit_accounts_models(rising, "duration_months", "event", "segment", 1, 4)
    with pytest.raises(DataError, match=r"churn\.tenure_profile"):
        cal.scenario_fragment(grouped)


def test_hazard_chart_draws_each_models_fitted_hazard():
    import matplotlib

    matplotlib.use("Agg")
    from simlib.plots import calibration as calplots

    fits = fit_retention_models(EXAMPLE)
    table = cal.hazard_table(fits)
    fig = calplots.hazard_fit(table)
    assert len(fig.axes) == 2
    for ax, f in zip(fig.axes, fits, strict=True):
        assert f.group in ax.get_title() and "recommended" in ax.get_title()
        lines = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines()}
        part = table[table["group"] == f.group]
        assert np.allclose(lines["plain sBG"], part["sbg"])
        assert np.allclose(lines["sBG + tenure profile"], part["sbg_tenure"])
    models = cal.model_table(fits)
    assert list(models["model"]) == ["sbg", "sbg_tenure"] * 2
    assert models.groupby("group")["recommended"].sum().eq(1).all()


def _sample_accounts(rng: np.random.Generator, a, b, profile, n, periods) -> tuple:
    """Counts (as fit_sbg takes them) of n accounts observed for ``periods`` renewals."""
    theta = rng.beta(a, b, size=n)
    d = np.zeros(periods + 1)
    d[1 : len(profile) + 1] = profile
    left = np.full(n, periods + 1)
    for t in range(periods, 0, -1):  # the first renewal at which the account churns
        churn = rng.random(n) < expit(logit(theta) + d[t])
        left[churn] = t
    ct, cw = np.unique(left[left <= periods], return_counts=True)
    return ct, cw, [periods], [int((left > periods).sum())]


@pytest.mark.slow
def test_the_likelihood_ratio_test_holds_its_level_on_sbg_books():
    """200 sBG cohorts (3,000 accounts, 12 renewals): the 5 % test rejects Binomial(200, 0.05)
    times, mean 10, sd 3.1; at most 10 + 4 sd = 22 (and p-values spread, not piled at 1)."""
    from simlib.calibration.models import fit_counts_models

    rng = np.random.default_rng(20261203)
    p = []
    for _ in range(200):
        counts = _sample_accounts(rng, 0.9, 10.0, [], 3000, 12)
        (fit, _, _) = fit_counts_models(counts)
        p.append(fit.checks["likelihood_ratio"]["p_value"])
    p = np.array(p)
    assert (p < 0.05).sum() <= 22
    assert 0.3 <= np.median(p) <= 0.7  # Uniform(0, 1): median 0.5, sd of the median ~0.035


@pytest.mark.slow
def test_tenure_standard_errors_match_the_spread_of_fits():
    """Over 120 samples the SD of each shift's estimate matches its mean standard error; the
    SD of 120 values has a relative standard error of 1/sqrt(2 x 119) = 6.5 %, the band
    [0.75, 1.33] allows 4 of those plus the asymptotic approximation."""
    from simlib.calibration.tenure import fit_tenure_sbg

    rng = np.random.default_rng(7)
    fits = [
        fit_tenure_sbg(*_sample_accounts(rng, ALPHA, BETA, PROFILE, 4000, 12), pieces=4)
        for _ in range(120)
    ]
    est = np.array([f.tenure_profile for f in fits])
    se = np.array([f.tenure_profile_se for f in fits])
    ratio = est.std(axis=0, ddof=1) / se.mean(axis=0)
    assert np.all((ratio >= 0.75) & (ratio <= 1.33)), ratio
    bias = np.abs(est.mean(axis=0) - PROFILE)
    assert np.all(bias <= 4 * est.std(axis=0, ddof=1) / np.sqrt(len(fits)) + 0.02), bias
