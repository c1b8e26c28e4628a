"""``simlib calibrate panel`` (simlib/calibration/panel.py): the satisfaction links from an
account-month panel, corrected for the noise of the health score.

Round trips through the simulator (``simulate(..., panel=True)``): two values of the churn link
and two of the offer link, health recorded with noise 0.1, fitted back within 4 standard errors
with the correction, while the naive fit is flattened toward zero by more than 4 of its standard
errors. The noise estimate (the variogram nugget) is unbiased on exact AR(1) + noise panels
(checked against the spread of 20 of them). Bad panels exit 2 naming the row and the column.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlib
from simlib.calibration.panel import (
    PanelData,
    _fit_offers,
    calibrated_health,
    fit_panel,
    noise_from_panel,
    read_panel,
)
from simlib.cli import main

Z = 4.0
NOISE = 0.1


@lru_cache(maxsize=4)
def churn_panel(effect: float) -> pd.DataFrame:
    overrides = {
        "population.initial_accounts": 1500,
        "horizon_months": 24,
        "satisfaction.enabled": True,
        "churn.satisfaction_effect": effect,
        "churn.satisfaction_reference": 0.6,
        "satisfaction.observation_noise": NOISE,
    }
    result = simlib.simulate("textbook", seed=2, overrides=overrides, panel=True)
    assert result.panel is not None
    return result.panel


@lru_cache(maxsize=4)
def churn_fit(effect: float) -> dict:
    return fit_panel(read_panel(churn_panel(effect)), noise_sd=NOISE)


def within(rec: dict, truth: float) -> bool:
    return bool(rec["se"] > 0 and abs(rec["value"] - truth) <= Z * rec["se"])


@pytest.mark.slow
@pytest.mark.parametrize("effect", [1.0, 3.0])
def test_churn_link_round_trip(effect: float) -> None:
    fit = churn_fit(effect)
    keys = fit["scenario_keys"]
    assert within(keys["churn.satisfaction_effect"], effect)
    # the Beta is the risk at the reference health (the fit's reference: the mean health)
    ref = keys["churn.satisfaction_reference"]["value"]
    assert abs(ref - 0.6) < 0.02
    assert within(keys["churn.monthly.alpha"], 1.0)
    assert within(keys["churn.monthly.beta"], 20.0 * np.exp(effect * (ref - 0.6)))
    assert 0.6 < fit["measurement"]["reliability"] < 0.9


@pytest.mark.slow
def test_the_naive_fit_is_diluted_and_the_correction_undoes_it() -> None:
    fit = churn_fit(3.0)
    naive = fit["naive"]["churn.satisfaction_effect"]
    corrected = fit["scenario_keys"]["churn.satisfaction_effect"]
    assert naive["value"] < 3.0 - Z * naive["se"]
    assert within(corrected, 3.0)
    lam = fit["measurement"]["reliability"]
    assert corrected["value"] == pytest.approx(naive["value"] / lam, rel=0.1)


@pytest.mark.parametrize("slope", [1.0, 4.0])
def test_offer_link_round_trip(slope: float) -> None:
    overrides = {
        "population.initial_accounts": 2000,
        "horizon_months": 24,
        "offers.intent.satisfaction_to_intent": slope,
        # the other terms of the acceptance odds held constant, so that the logistic model is
        # the simulator's
        "offers.intent.relevance_to_intent": 0.0,
        "offers.intent.strong_reason_bonus": 0.0,
        "offers.intent.fan_bonus": 0.0,
        "satisfaction.observation_noise": NOISE,
    }
    result = simlib.simulate("relevant_cross_sell", seed=2, overrides=overrides, panel=True)
    data = read_panel(result.panel)
    health, _ = calibrated_health(data, NOISE)
    fit = _fit_offers(data, health)
    assert fit is not None
    value, se = fit["slope"]
    assert abs(value - slope) <= Z * se
    base, base_se = fit["intercepts"]["cross_sell"]
    truth = result.scenario.offers.kinds["cross_sell"].base_intent
    assert abs(base - truth) <= Z * base_se
    naive = _fit_offers(data, data.health)
    assert naive is not None
    if slope == 4.0:
        assert naive["slope"][0] < slope - Z * naive["slope"][1]


def _ar1_panel(rng: np.random.Generator, sd: float) -> PanelData:
    n, t, rho, inner = 400, 24, 0.8, 0.05
    level = rng.uniform(0.4, 0.8, n)[:, None]
    x = np.empty((n, t))
    x[:, 0] = rng.normal(0, inner / np.sqrt(1 - rho**2), n)
    for k in range(1, t):
        x[:, k] = rho * x[:, k - 1] + rng.normal(0, inner, n)
    w = level + x + rng.normal(0, sd, (n, t))
    account = np.repeat(np.arange(n), t)
    month = np.tile(np.arange(t), n)
    return PanelData("<ar1>", account, month, w.ravel(), np.zeros(n * t, dtype=bool))


def test_the_noise_estimate_is_unbiased_on_ar1_panels() -> None:
    rng = np.random.default_rng(7)
    est = np.array([noise_from_panel(_ar1_panel(rng, NOISE))["sd"] for _ in range(20)])
    assert abs(est.mean() - NOISE) <= Z * est.std(ddof=1) / np.sqrt(est.size)
    assert est.std(ddof=1) < 0.02


def _panel_csv(path: Path, edit=None) -> Path:
    rows = []
    for a in range(30):
        months = 6 if a % 3 else 3
        for m in range(months):
            churn = int(a % 3 == 0 and m == months - 1)
            rows.append([f"acct{a}", m, 40 + (a * 7 + m) % 50, churn, 100.0])
    frame = pd.DataFrame(rows, columns=["id", "month", "score", "left", "mrr"])
    if edit is not None:
        frame = edit(frame)
    frame.to_csv(path, index=False)
    return path


BAD = [
    (lambda f: f.assign(score=f["score"].where(f.index != 4, 120)), "line 6", "'score'", "range"),
    (lambda f: pd.concat([f, f.iloc[[7]]]), "line 152", "'month'", "twice"),
    (lambda f: f.drop(index=[6]), "line 8", "'month'", "out of order"),
    (lambda f: f.assign(left=f["left"].where(f.index != 1, 1)), "line 4", "'left'", "second"),
    (
        lambda f: f.assign(left=f["left"].where(f.index != 4, 1)),
        "line 7",
        "'month'",
        "alive after churning",
    ),
    (lambda f: f.assign(left=f["left"].where(f.index != 2, 2)), "line 4", "'left'", "0 (stayed)"),
]


@pytest.mark.parametrize(("edit", "line", "column", "words"), BAD)
def test_bad_panels_exit_2_naming_row_and_column(
    tmp_path: Path, capsys, edit, line: str, column: str, words: str
) -> None:
    path = _panel_csv(tmp_path / "p.csv", edit)
    out = tmp_path / "fit.json"
    args = ["calibrate", "panel", str(path), "--account=id", "--health=score"]
    args += ["--churned=left", "--health-range=0:100", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert line in err and column in err and words in err, err
    assert not out.exists()


def test_cli_fits_a_panel_and_writes_a_fragment(tmp_path: Path, capsys) -> None:
    frame = churn_panel(3.0).iloc[:6000]
    frame = frame[frame["account_id"] < frame["account_id"].iloc[-1]]  # whole accounts only
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    frag = tmp_path / "fit.yaml"
    args = ["calibrate", "panel", str(tmp_path / "p.parquet"), "--health-noise", "0.1"]
    assert main([*args, "--fragment", str(frag)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["scenario_keys"]) >= {
        "churn.monthly.alpha",
        "churn.monthly.beta",
        "churn.satisfaction_effect",
        "churn.satisfaction_reference",
    }
    import yaml

    doc = yaml.safe_load(frag.read_text())
    scenario = simlib.load_scenario({"extends": "textbook", **doc})
    assert scenario.churn.satisfaction_reference == pytest.approx(
        out["scenario_keys"]["churn.satisfaction_reference"]["value"]
    )
    assert out["measurement"]["method"] == "given (--health-noise)"


def test_the_example_export_is_what_simlib_makes() -> None:
    from simlib.calibrate import demo_panel

    path = Path(__file__).resolve().parent.parent / "data" / "examples" / "crm_panel.csv"
    made = demo_panel(seed=1)
    made["segment"] = made["segment"].astype(str)
    made["plan"] = made["plan"].astype(str)
    pd.testing.assert_frame_equal(pd.read_csv(path), made, check_dtype=False)


def test_predicted_hazard_is_the_sbg_hazard_without_a_link() -> None:
    from simlib.calibration.panel import predicted_hazard

    n, t = 3, 6
    data = PanelData(
        "<p>",
        np.repeat(np.arange(n), t),
        np.tile(np.arange(t), n),
        np.linspace(0.2, 0.9, n * t),
        np.zeros(n * t, dtype=bool),
    )
    a, b = 0.7, 9.0
    fit = {
        "scenario_keys": {
            "churn.monthly.alpha": {"value": a},
            "churn.monthly.beta": {"value": b},
            "churn.satisfaction_effect": {"value": 0.0},
            "churn.satisfaction_reference": {"value": 0.5},
        },
        "measurement": {"noise_sd_01": 0.0},
    }
    # the row of month m is renewal m + 1: hazard a / (a + b + m)
    expected = np.tile(a / (a + b + np.arange(t)), n)
    np.testing.assert_allclose(predicted_hazard(data, fit), expected, rtol=1e-10)
