"""The sBG with the satisfaction covariate (simlib/calibration/covariate.py) and
``simlib calibrate accounts --satisfaction``.

Known answer: with the link held at 0 the fit is the plain sBG (the quadrature is exact for it).
Round trips: accounts simulated from the model with two values of the link (and with a tenure
profile, and by group) are fitted back, every parameter within 4 of its standard errors. The
held-out validation of a book with a known link passes with the link and fails without it. The
fragment drops into a scenario; bad scores are refused (exit 2, row and column named).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import expit, logit

from simlib.calibration.covariate import (
    CovariateData,
    CovariateFit,
    calibrate_scores,
    fit_satisfaction_accounts,
    satisfaction_survival,
    validate_accounts,
)
from simlib.calibration.covariate_checks import satisfaction_checks
from simlib.calibration.fitting import fit_sbg
from simlib.calibration.readers import AccountData, account_counts
from simlib.cli import main
from simlib.scenario import load_scenario

Z = 4.0


def simulate(
    n: int,
    alpha: float,
    beta: float,
    effect: float,
    periods: int,
    seed: int,
    profile: tuple[float, ...] = (),
    group: str | None = None,
    ref: float | None = None,
) -> tuple[CovariateData, float]:
    """Accounts from the model itself: theta ~ Beta, health ~ U(0.2, 0.9), churn at renewal t
    with expit(logit theta + d_t + effect (ref - health)), observed for ``periods`` renewals.
    ``ref`` defaults to the health mean rounded as the fit rounds it."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(alpha, beta, n)
    health = rng.uniform(0.2, 0.9, n)
    ref = round(float(health.mean()), 4) if ref is None else ref
    out = np.full(n, periods, dtype=np.int64)
    churned = np.zeros(n, dtype=bool)
    alive = np.ones(n, dtype=bool)
    for t in range(1, periods + 1):
        d = profile[t - 1] if t <= len(profile) else 0.0
        p = expit(logit(theta) + d + effect * (ref - health))
        leave = alive & (rng.uniform(size=n) < p)
        out[leave], churned[leave] = t, True
        alive &= ~leave
    return CovariateData(group, out, churned, health), ref


def within(value: float, truth: float, se: float) -> bool:
    return bool(np.isfinite(se) and se > 0 and abs(value - truth) <= Z * se)


@pytest.mark.parametrize("effect", [1.0, 3.0])
def test_round_trip_two_links(effect: float) -> None:
    data, ref = simulate(3000, 0.8, 8.0, effect, 24, seed=11)
    (fit,) = fit_satisfaction_accounts([data])
    assert fit.satisfaction_reference == ref
    assert within(fit.satisfaction_effect, effect, fit.satisfaction_effect_se)
    assert within(fit.alpha, 0.8, fit.alpha_se)
    assert within(fit.beta, 8.0, fit.beta_se)
    assert fit.link_test["rejects_no_link"]


@pytest.mark.slow
@pytest.mark.parametrize("effect", [1.0, 3.0])
def test_round_trip_with_noisy_health(effect: float) -> None:
    """Health recorded with noise sd 0.15 (reliability about 0.65): the naive fit is flattened,
    regression calibration brings the link back within its standard errors."""
    data, _ = simulate(3000, 0.8, 8.0, effect, 24, seed=13)
    rng = np.random.default_rng(99)
    noisy = CovariateData(None, data.periods, data.churned, data.score + rng.normal(0, 0.15, 3000))
    (naive,) = fit_satisfaction_accounts([noisy])
    calibrated, mu, lam = calibrate_scores([noisy], 0.15)
    assert 0.55 < lam < 0.72 and mu == pytest.approx(noisy.score.mean())
    (fit,) = fit_satisfaction_accounts(calibrated)
    assert within(fit.satisfaction_effect, effect, fit.satisfaction_effect_se)
    if effect == 3.0:
        assert naive.satisfaction_effect < effect - Z * naive.satisfaction_effect_se


def test_link_at_zero_is_the_plain_sbg() -> None:
    data, _ = simulate(2000, 0.7, 6.0, 0.0, 18, seed=3)
    (fit,) = fit_satisfaction_accounts([data], fixed_effect=0.0)
    plain = fit_sbg(*account_counts(AccountData(None, data.periods, data.churned)))
    assert fit.alpha == pytest.approx(plain.alpha, rel=1e-4)
    assert fit.beta == pytest.approx(plain.beta, rel=1e-4)
    assert fit.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6)
    # and the prediction at any health is the sBG survival B(a, b + t) / B(a, b)
    s = satisfaction_survival(fit, [0.1, 0.9], 10)
    np.testing.assert_allclose(s[0], plain.survival(np.arange(11)), rtol=1e-6)
    np.testing.assert_allclose(s[1], s[0], rtol=1e-12)


def test_round_trip_with_a_tenure_profile() -> None:
    data, _ = simulate(3000, 1.0, 10.0, 2.0, 20, seed=5, profile=(1.2,))
    (fit,) = fit_satisfaction_accounts([data], tenure_pieces=2)
    assert within(fit.satisfaction_effect, 2.0, fit.satisfaction_effect_se)
    assert within(fit.tenure_profile[0], 1.2, fit.tenure_profile_se[0])
    assert within(fit.alpha, 1.0, fit.alpha_se)
    assert within(fit.beta, 10.0, fit.beta_se)
    assert fit.to_dict()["model"] == "sbg_satisfaction_tenure"


def test_groups_share_the_link() -> None:
    a, _ = simulate(2000, 0.8, 8.0, 1.5, 18, seed=21, group="smb")
    b, _ = simulate(2000, 1.5, 30.0, 1.5, 18, seed=22, group="mid")
    # the fit's reference is the pooled mean (health is drawn first, whatever the reference):
    # simulate again with it so that the truth uses it too
    ref = round(float(np.concatenate([a.score, b.score]).mean()), 4)
    a, _ = simulate(2000, 0.8, 8.0, 1.5, 18, seed=21, group="smb", ref=ref)
    b, _ = simulate(2000, 1.5, 30.0, 1.5, 18, seed=22, group="mid", ref=ref)
    fits = fit_satisfaction_accounts([a, b])
    assert {f.satisfaction_effect for f in fits} == {fits[0].satisfaction_effect}
    f_smb, f_mid = fits
    assert within(f_smb.satisfaction_effect, 1.5, f_smb.satisfaction_effect_se)
    assert within(f_smb.alpha, 0.8, f_smb.alpha_se) and within(f_smb.beta, 8.0, f_smb.beta_se)
    assert within(f_mid.alpha, 1.5, f_mid.alpha_se) and within(f_mid.beta, 30.0, f_mid.beta_se)


def test_validation_passes_with_the_link_and_fails_without() -> None:
    train, ref = simulate(3000, 0.8, 8.0, 2.5, 24, seed=31)
    test, _ = simulate(3000, 0.8, 8.0, 2.5, 24, seed=32, ref=ref)
    with_link = validate_accounts(fit_satisfaction_accounts([train]), [test], bands=3)
    without = validate_accounts(fit_satisfaction_accounts([train], fixed_effect=0.0), [test], 3)
    assert with_link["validation_test"]["passes"]
    assert not without["validation_test"]["passes"]
    assert without["validation_test"]["p_value"] < 1e-3
    # without the link the low band churns more than predicted, the high band less
    z = [b["z"] for b in without["validation_bands"]]
    assert z[0] > 0 > z[-1]
    rows = pd.DataFrame(with_link["validation"])
    assert list(rows.columns) == [
        "band",
        "period",
        "at_risk",
        "observed",
        "observed_ci_low",
        "observed_ci_high",
        "predicted",
    ]
    assert sorted(rows["band"].unique()) == [1, 2, 3]
    # the observed curve starts at 1 and the at-risk counts fall
    first = rows[rows["period"] == 0]
    assert (first["observed"] == 1.0).all()
    np.testing.assert_allclose(first["predicted"], 1.0)


def _write(path: Path, data: CovariateData, lo: float = 0.0, hi: float = 100.0) -> None:
    pd.DataFrame(
        {
            "months": data.periods,
            "churned": data.churned.astype(int),
            "health": lo + data.score * (hi - lo),
        }
    ).to_csv(path, index=False)


def test_cli_fragment_drops_into_a_scenario(tmp_path: Path, capsys) -> None:
    train, ref = simulate(1500, 0.8, 8.0, 2.0, 18, seed=41)
    test, _ = simulate(1500, 0.8, 8.0, 2.0, 18, seed=42, ref=ref)
    _write(tmp_path / "train.csv", train, 1, 10)
    _write(tmp_path / "test.csv", test, 1, 10)
    frag = tmp_path / "fit.yaml"
    code = main(
        [
            "calibrate",
            "accounts",
            str(tmp_path / "train.csv"),
            "--duration=months",
            "--event=churned",
            "--satisfaction=health",
            "--satisfaction-range=1:10",
            "--satisfaction-noise=0.5",
            "--validate",
            str(tmp_path / "test.csv"),
            "--bands=4",
            "--fragment",
            str(frag),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    fit = out["fits"][0]
    assert fit["satisfaction_range"] == [1.0, 10.0]
    assert fit["satisfaction_noise_sd"] == pytest.approx(0.5)
    assert 0.9 < fit["satisfaction_reliability"] < 1.0
    assert fit["satisfaction_effect_per_point"] == pytest.approx(fit["satisfaction_effect"] / 9)
    assert {r["band"] for r in out["validation"]} == {1, 2, 3, 4}
    doc = yaml.safe_load(frag.read_text())
    scenario = load_scenario({"extends": "textbook", **doc})
    assert scenario.churn.satisfaction_effect == pytest.approx(fit["satisfaction_effect"], 1e-5)
    assert scenario.churn.satisfaction_reference == pytest.approx(fit["satisfaction_reference"])
    assert scenario.churn.monthly.alpha == pytest.approx(fit["alpha"], rel=1e-5)
    assert (
        "churn.satisfaction_reference=" + repr(doc["churn"]["satisfaction_reference"])
        in (out["overrides"])
    )


@pytest.mark.parametrize(
    ("cell", "message"),
    [("120", "must lie in the range 0..100"), ("", "health"), ("abc", "health")],
)
def test_cli_refuses_bad_scores(tmp_path: Path, capsys, cell: str, message: str) -> None:
    data, _ = simulate(300, 0.8, 8.0, 1.0, 12, seed=1)
    path = tmp_path / "a.csv"
    _write(path, data)
    lines = path.read_text().splitlines()
    lines[5] = ",".join([*lines[5].split(",")[:2], cell])
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.json"
    code = main(
        [
            "calibrate",
            "accounts",
            str(path),
            "--duration=months",
            "--event=churned",
            "--satisfaction=health",
            "--satisfaction-range=0:100",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "line 6 (data row 5)" in err and "'health'" in err and message in err
    assert not out.exists()


def test_cli_needs_the_range_and_the_column(tmp_path: Path, capsys) -> None:
    data, _ = simulate(300, 0.8, 8.0, 1.0, 12, seed=1)
    _write(tmp_path / "a.csv", data)
    base = ["calibrate", "accounts", str(tmp_path / "a.csv"), "--duration=months"]
    assert main([*base, "--event=churned", "--satisfaction=health"]) == 2
    assert "--satisfaction-range" in capsys.readouterr().err
    assert main([*base, "--event=churned", "--validate", str(tmp_path / "a.csv")]) == 2
    assert "--satisfaction" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# The model checks (simlib/calibration/covariate_checks.py)


def _checked(data: CovariateData, pieces: int | None = None) -> CovariateFit:
    (fit,) = fit_satisfaction_accounts([data], tenure_pieces=pieces)
    satisfaction_checks([fit], [data], tenure_pieces=pieces)
    assert fit.checks is not None
    return fit


def test_checks_of_a_book_with_a_link() -> None:
    """The satisfaction model beside the sBG and the tenure check, as every calibrate command
    reports them; its hazard is the compensator of the churns, so over all renewals it expects
    the churns observed (within 4 binomial standard errors)."""
    data, _ = simulate(3000, 0.8, 8.0, 2.5, 18, seed=31)
    fit = _checked(data)
    checks = fit.checks
    assert checks is not None
    assert {"hazard", "models", "likelihood_ratio", "recommended", "warnings"} <= set(checks)
    assert [m["model"] for m in checks["models"]] == ["sbg", "sbg_tenure", "sbg_satisfaction"]
    lr = checks["likelihood_ratio"]
    assert lr["model"] == "sbg_satisfaction" and lr["df"] == 1 and lr["rejects_sbg"]
    assert checks["recommended"] == "sbg_satisfaction"
    assert checks["tenure_likelihood_ratio"]["df"] == 3
    rows = checks["hazard"]
    expected = sum(r["at_risk"] * r["sbg_satisfaction"] for r in rows)
    var = sum(r["at_risk"] * r["sbg_satisfaction"] * (1 - r["sbg_satisfaction"]) for r in rows)
    assert abs(sum(r["churned"] for r in rows) - expected) <= Z * np.sqrt(var)
    ll = {m["model"]: m["log_likelihood"] for m in checks["models"]}
    assert ll["sbg_satisfaction"] == pytest.approx(fit.log_likelihood)
    assert lr["statistic"] == pytest.approx(2 * (ll["sbg_satisfaction"] - ll["sbg"]))


def test_checks_of_a_book_without_a_link_keep_the_sbg() -> None:
    data, _ = simulate(3000, 0.8, 8.0, 0.0, 18, seed=31)
    checks = _checked(data).checks
    assert checks is not None
    assert not checks["likelihood_ratio"]["rejects_sbg"] and checks["recommended"] == "sbg"


def test_checks_say_the_hazard_rises_and_recommend_the_profile() -> None:
    data, _ = simulate(3000, 0.8, 8.0, 2.0, 18, seed=31, profile=(-2.0, 1.0, 1.5))
    fit = _checked(data)
    checks = fit.checks
    assert checks is not None
    assert checks["recommended"] == "sbg_satisfaction_tenure"
    assert any("hazard rises with tenure" in w for w in checks["warnings"])
    assert any("hazard rises with tenure" in w for w in fit.warnings)
    small, _ = simulate(800, 0.8, 8.0, 2.0, 8, seed=32, profile=(-2.0,))
    with_profile = _checked(small, pieces=2).checks
    assert with_profile is not None
    assert with_profile["likelihood_ratio"]["df"] == 2
    assert with_profile["recommended"] == "sbg_satisfaction_tenure"
    assert with_profile["models"][-1]["model"] == "sbg_satisfaction_tenure"


def test_checks_warn_of_a_degenerate_beta() -> None:
    """Every account with the same risk (Beta(5000, 95000)) and no link: both Betas run to the
    edge where heterogeneity vanishes, and the checks say so."""
    data, _ = simulate(3000, 5000.0, 95000.0, 0.0, 24, seed=2)
    checks = _checked(data).checks
    assert checks is not None
    assert any(
        w.startswith("the plain sBG's Beta ran to a degenerate edge") for w in checks["warnings"]
    )
    assert any(
        w.startswith("the satisfaction model's Beta ran to a degenerate edge")
        for w in checks["warnings"]
    )


def test_cli_satisfaction_fit_carries_the_checks(tmp_path: Path, run_cli) -> None:
    data, _ = simulate(1500, 0.8, 8.0, 2.0, 18, seed=41)
    _write(tmp_path / "a.csv", data)
    base = [
        "calibrate",
        "accounts",
        str(tmp_path / "a.csv"),
        "--duration=months",
        "--event=churned",
    ]
    code, plain_out, err = run_cli(*base)
    assert code == 0, err
    code, out, err = run_cli(*base, "--satisfaction=health", "--satisfaction-range=0:100")
    assert code == 0, err
    (plain,) = json.loads(plain_out)["fits"]
    (fit,) = json.loads(out)["fits"]
    assert set(plain["checks"]) <= set(fit["checks"])
    assert fit["checks"]["recommended"] == "sbg_satisfaction"
    assert all("sbg_satisfaction" in r for r in fit["checks"]["hazard"])
