"""``simlib calibrate panel`` (simlib/calibration/panel.py): the satisfaction links from an
account-month panel, corrected for the noise of the health score.

Round trips through the simulator (``simulate(..., panel=True)``): two values of the churn link
and two of the offer link, health recorded with noise 0.1, fitted back within 4 standard errors
with the correction, while the naive fit is flattened toward zero by more than 4 of its standard
errors. The noise estimate (the variogram nugget) is unbiased on exact AR(1) + noise panels
(checked against the spread of 20 of them). Bad panels exit 2 naming the row and the column.

Renewals: with the link at 0 the panel likelihood of monthly and annual accounts is the sBG's over
the renewals each faced (the open last month left out). Round trips: a tenure profile
(--tenure-profile), annual contracts (--contract) and two segments with a profile each (--group)
come back within 4 standard errors, and their fragments load and run.
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
    # regression calibration, the SIMEX's fit at lambda = 0, undoes the dilution to first order
    lam = fit["measurement"]["reliability"]
    rc = fit["noise_correction"]["effect_by_lambda"][0]
    assert rc == pytest.approx(naive["value"] / lam, rel=0.1)


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


# ------------------------------------------------------------------------------------------
# Renewals: monthly and annual contracts, the open last month


def _lifetime_panel(
    rng: np.random.Generator, horizon: int, monthly: int, annual: int
) -> tuple[pd.DataFrame, dict[str, tuple[list[int], list[int]]]]:
    """A panel of accounts all starting at month 0, with the renewals each faced: monthly
    accounts churn at a renewal t (the end of month t - 1), annual ones at 12 t; nobody churns
    in the last month (open). Returns the panel and, per contract, (churn renewals, censored
    renewals) as the sBG counts them."""
    rows, truth = [], {"monthly": ([], []), "annual": ([], [])}
    for i in range(monthly + annual):
        kind = "monthly" if i < monthly else "annual"
        k = 1 if kind == "monthly" else 12
        t = int(rng.geometric(0.08 if kind == "monthly" else 0.3))  # renewal of the churn
        months = t * k if t * k < horizon else horizon
        churned = t * k < horizon
        for m in range(months):
            rows.append([i, m, rng.uniform(0.2, 0.9), int(churned and m == months - 1), kind])
        if churned:
            truth[kind][0].append(t)
        else:  # renewals decided before the open last month
            truth[kind][1].append((horizon - 1) // k)
    frame = pd.DataFrame(rows, columns=["account_id", "month", "health", "churned", "contract"])
    return frame, truth


def test_without_a_link_the_panel_likelihood_is_the_sbg_of_its_renewals() -> None:
    """Known answer: with the link and the profile at 0 an account's likelihood is the sBG's,
    P(T = t) = B(a + 1, b + t - 1) / B(a, b) or S(t) = B(a, b + t) / B(a, b), over the renewals
    its contract had (monthly: every month; annual: every 12th), the open last month left out."""
    from scipy.special import betaln

    from simlib.calibration.panel_churn import _account_loglik, _blocks, _layout

    frame, truth = _lifetime_panel(np.random.default_rng(3), 40, 60, 60)
    d = read_panel(frame, contract="contract")
    layout = _layout(d, 1, False, open_last=True)
    assert layout.blocks == [(None, "monthly"), (None, "annual")]
    blocks = _blocks(d, layout, open_last=True)
    shapes = {"monthly": (0.7, 9.0), "annual": (1.5, 4.0)}
    x = np.log([*shapes["monthly"], *shapes["annual"], 1.0])
    x[-1] = 0.0
    ll = _account_loglik(x, layout, blocks, d.health, 0.5, d.accounts)[0].sum()
    expected = 0.0
    for kind, (a, b) in shapes.items():
        churn, cens = (np.asarray(v, dtype=float) for v in truth[kind])
        expected += np.sum(betaln(a + 1, b + churn - 1) - betaln(a, b))
        expected += np.sum(betaln(a, b + cens) - betaln(a, b))
    assert ll == pytest.approx(expected, rel=1e-10)
    for (_, kind), b in zip(layout.blocks, blocks, strict=True):
        churn, cens = truth[kind]
        assert b.summary()["renewals"] == sum(churn) + sum(cens)
        assert b.summary()["churned"] == len(churn)


def _contract_csv(path: Path, edit=None) -> Path:
    frame, _ = _lifetime_panel(np.random.default_rng(5), 30, 20, 20)
    frame = frame.rename(columns={"contract": "plan_type", "churned": "left"})
    if edit is not None:
        frame = edit(frame)
    frame.to_csv(path, index=False)
    return path


def _first_row(frame: pd.DataFrame, kind: str) -> int:
    return int(frame.index[frame["plan_type"] == kind][0])


BAD_CONTRACTS = [
    (
        lambda f: f.assign(plan_type=f["plan_type"].where(f.index != 3, "quarterly")),
        "line 5",
        "'plan_type'",
        "monthly, annual",
    ),
    (
        lambda f: f.assign(plan_type=f["plan_type"].where(f.index != 1, "annual")),
        "line 3",
        "'plan_type'",
        "changes from 'monthly'",
    ),
    (  # an annual account leaving in its 5th month
        lambda f: f[
            ~((f["account_id"] == f.loc[_first_row(f, "annual"), "account_id"]) & (f["month"] > 4))
        ].assign(
            left=lambda g: g["left"].where(
                ~(
                    (g["account_id"] == g.loc[_first_row(g, "annual"), "account_id"])
                    & (g["month"] == 4)
                ),
                1,
            )
        ),
        "'left'",
        "annual contract",
        "12th, 24th",
    ),
]


@pytest.mark.parametrize(("edit", "where", "column", "words"), BAD_CONTRACTS)
def test_bad_contracts_exit_2_naming_row_and_column(
    tmp_path: Path, capsys, edit, where: str, column: str, words: str
) -> None:
    path = _contract_csv(tmp_path / "p.csv", edit)
    out = tmp_path / "fit.json"
    args = ["calibrate", "panel", str(path), "--contract=plan_type", "--churned=left"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert where in err and column in err and words in err and "line" in err, err
    assert not out.exists()
    assert main(["calibrate", "panel", str(path), "--contract=kind", "--churned=left"]) == 2
    assert "missing column" in capsys.readouterr().err


def test_a_group_is_one_value_per_account(tmp_path: Path, capsys) -> None:
    frame, _ = _lifetime_panel(np.random.default_rng(5), 30, 20, 0)
    frame["segment"] = np.where(frame["account_id"] % 2 == 0, "smb", "mid")
    frame.loc[2, "segment"] = "mid"
    frame.to_csv(tmp_path / "p.csv", index=False)
    assert main(["calibrate", "panel", str(tmp_path / "p.csv"), "--group=segment"]) == 2
    err = capsys.readouterr().err
    assert "line 4" in err and "'segment'" in err and "one value per account" in err


# ------------------------------------------------------------------------------------------
# Round trips: a tenure profile, annual contracts, groups with a profile each


LINK = {
    "satisfaction.enabled": True,
    "churn.satisfaction_effect": 2.0,
    "churn.satisfaction_reference": 0.6,
    "satisfaction.observation_noise": NOISE,
}


def _simulated_panel(overrides: dict, seed: int = 2) -> pd.DataFrame:
    """The simulator's panel (its ``contract`` column is the contract in force each month)."""
    result = simlib.simulate("textbook", seed=seed, overrides=LINK | overrides, panel=True)
    assert result.panel is not None
    return result.panel


def _beta_at(ref: float, beta: float) -> float:
    """The simulated Beta(alpha, beta) at health 0.6, seen at the fit's reference health: the
    odds scale by exp(effect (ref - 0.6)), about Beta(alpha, beta / that) for small churn."""
    return beta * float(np.exp(2.0 * (ref - 0.6)))


@pytest.mark.slow
def test_tenure_profile_round_trip_through_the_cli(tmp_path: Path, capsys) -> None:
    """churn.tenure_profile.monthly [1.2, 0.6] and the link 2.0, health recorded with noise 0.1:
    calibrate panel --tenure-profile 3 fits the profile, the Beta and the link back within 4
    standard errors; the fragment carries the profile and runs."""
    profile = [1.2, 0.6]
    frame = _simulated_panel(
        {
            "population.initial_accounts": 1500,
            "horizon_months": 24,
            "churn.tenure_profile.monthly": profile,
        }
    )
    frame.drop(columns=["contract"]).to_parquet(tmp_path / "p.parquet", index=False)
    frag = tmp_path / "fit.yaml"
    args = ["calibrate", "panel", str(tmp_path / "p.parquet"), "--health-noise", str(NOISE)]
    assert main([*args, "--tenure-profile", "3", "--fragment", str(frag)]) == 0
    out = json.loads(capsys.readouterr().out)
    keys = out["scenario_keys"]
    rec = keys["churn.tenure_profile.monthly"]
    assert len(rec["value"]) == len(rec["se"]) == 2
    for value, se, truth in zip(rec["value"], rec["se"], profile, strict=True):
        assert within({"value": value, "se": se}, truth)
    ref = keys["churn.satisfaction_reference"]["value"]
    assert within(keys["churn.satisfaction_effect"], 2.0)
    assert within(keys["churn.monthly.alpha"], 1.0)
    assert within(keys["churn.monthly.beta"], _beta_at(ref, 20.0))
    assert out["last_month"]["open"] and out["blocks"][0]["contract"] == "monthly"
    assert any(o.startswith("churn.tenure_profile.monthly=[") for o in out["overrides"])
    import yaml

    doc = yaml.safe_load(frag.read_text())
    assert doc["churn"]["tenure_profile"]["monthly"] == pytest.approx(rec["value"], rel=1e-5)
    scenario = simlib.load_scenario({"extends": "textbook", **doc})
    assert scenario.churn.tenure_profile.monthly == pytest.approx(rec["value"], rel=1e-5)
    assert len(simlib.simulate(scenario, seed=1, overrides=["horizon_months=3"]).accounts)


@pytest.mark.slow
def test_annual_contracts_renew_every_12_months() -> None:
    """70 % of the book on annual contracts (churn.annual Beta(1, 5), renewals at months 12,
    24, 36, 48), the rest monthly (Beta(1, 20)): with --contract each Beta, and each mean churn
    per renewal (far better measured than alpha and beta from four renewals), comes back within
    4 standard errors. Read as monthly, the annual accounts' churn per renewal would be spread
    over 12 months and the monthly Beta would be far off."""
    frame = _simulated_panel(
        {
            "population.initial_accounts": 2000,
            "horizon_months": 60,
            "contracts.annual_share": 0.7,
        }
    )
    fit = fit_panel(read_panel(frame, contract="contract"), noise_sd=NOISE)
    keys = fit["scenario_keys"]
    ref = keys["churn.satisfaction_reference"]["value"]
    assert within(keys["churn.satisfaction_effect"], 2.0)
    blocks = {b["contract"]: b for b in fit["blocks"]}
    for kind, beta in (("monthly", 20.0), ("annual", 5.0)):
        assert within(keys[f"churn.{kind}.alpha"], 1.0)
        assert within(keys[f"churn.{kind}.beta"], _beta_at(ref, beta))
        mean = {"value": blocks[kind]["mean_churn"], "se": blocks[kind]["mean_churn_se"]}
        assert within(mean, 1.0 / (1.0 + _beta_at(ref, beta)))
    annual = blocks["annual"]
    assert annual["renewals"] <= 4 * annual["accounts"]  # months 12, 24, 36, 48 (60: open)
    assert blocks["annual"]["mean_churn_se"] < 0.02
    as_monthly = fit_panel(read_panel(frame), noise_sd=NOISE)["blocks"][0]
    truth = 1.0 / (1.0 + _beta_at(ref, 20.0))
    assert abs(as_monthly["mean_churn"] - truth) > Z * as_monthly["mean_churn_se"]


@pytest.mark.slow
def test_groups_with_a_profile_each_round_trip_and_the_fragment_runs(tmp_path: Path) -> None:
    """Two segments with their own Beta and their own tenure profile
    (population.segments.S.churn.tenure_profile): calibrate panel --group segment
    --tenure-profile 2 fits each back within 4 standard errors, and the fragment places them
    under population.segments.S.churn, loads into a scenario and runs."""
    from simlib.calibration.simulated import DEMO_SEGMENTS

    segments = {name: dict(seg) for name, seg in DEMO_SEGMENTS.items()}
    shifts = {"smb": 1.0, "mid_market": -1.0}
    for name, seg in segments.items():
        seg["churn"] = dict(seg["churn"]) | {"tenure_profile": {"monthly": [shifts[name]]}}
    frame = _simulated_panel(
        {"population.initial_accounts": 1500, "horizon_months": 24, "population.segments": segments}
    )
    path = tmp_path / "p.parquet"
    frame.drop(columns=["contract"]).to_parquet(path, index=False)
    frag = tmp_path / "fit.yaml"
    code, out = _run(
        ["calibrate", "panel", str(path), "--group=segment", "--health-noise", str(NOISE),
         "--tenure-profile", "2", "--fragment", str(frag)]
    )  # fmt: skip
    assert code == 0
    keys = out["scenario_keys"]
    ref = keys["churn.satisfaction_reference"]["value"]
    assert within(keys["churn.satisfaction_effect"], 2.0)
    for name, seg in DEMO_SEGMENTS.items():
        prefix = f"population.segments.{name}.churn"
        truth = seg["churn"]["monthly"]
        assert within(keys[f"{prefix}.monthly.alpha"], truth["alpha"])
        assert within(keys[f"{prefix}.monthly.beta"], _beta_at(ref, truth["beta"]))
        prof = keys[f"{prefix}.tenure_profile.monthly"]
        assert within({"value": prof["value"][0], "se": prof["se"][0]}, shifts[name])
        share = keys[f"population.segments.{name}.share"]["value"]
        assert abs(share - seg["share"]) < 4 * np.sqrt(0.25 / 1500)
    assert {g["group"] for g in out["groups"]} == set(DEMO_SEGMENTS)
    import yaml

    doc = yaml.safe_load(frag.read_text())
    scenario = simlib.load_scenario({"extends": "textbook", **doc})
    table = scenario.segment_table()
    for name in DEMO_SEGMENTS:
        fitted = keys[f"population.segments.{name}.churn.tenure_profile.monthly"]["value"]
        assert table[name].churn.tenure_profile.monthly == pytest.approx(fitted, rel=1e-5)
    run = simlib.simulate(scenario, seed=1, overrides=["horizon_months=3"])
    assert set(run.accounts["segment"].astype(str)) >= set(DEMO_SEGMENTS)


def _run(args: list[str]) -> tuple[int, dict]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    return code, json.loads(buf.getvalue()) if code == 0 else {}
