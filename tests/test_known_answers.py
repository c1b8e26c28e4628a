"""Known-answer tests: the engine against closed forms.

Tolerances are sampling error: a share estimated from N accounts has standard error
sqrt(S (1 - S) / N); a mean has sd / sqrt(N). Bands are 4 standard errors (two-sided p = 6e-5
per point; with 24 points the chance of a false alarm stays below 0.2 %), with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import sbg_survival, survived
from scipy.special import expit, logit

import simlib

Z = 4.0


def _band(s: np.ndarray, n: int) -> np.ndarray:
    return Z * np.sqrt(s * (1 - s) / n) + 1e-12


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 20.0), (0.6, 4.0), (3.0, 40.0)])
def test_monthly_survival_follows_shifted_beta_geometric(alpha, beta):
    n = 20_000
    res = simlib.simulate(
        "textbook",
        seed=3,
        overrides=[
            f"population.initial_accounts={n}",
            "horizon_months=25",
            f"churn.monthly.alpha={alpha}",
            f"churn.monthly.beta={beta}",
        ],
    )
    t = np.arange(1, 25)
    expected = sbg_survival(alpha, beta, t)
    observed = survived(res.accounts, t)
    assert np.all(np.abs(observed - expected) <= _band(expected, n)), (observed, expected)
    # and it is not the geometric curve of the same mean churn (heterogeneity matters)
    geometric = (1 - alpha / (alpha + beta)) ** t
    assert np.any(np.abs(observed - geometric) > _band(geometric, n))


def test_near_constant_risk_gives_geometric_survival():
    n, p = 20_000, 0.05
    res = simlib.simulate(
        "textbook",
        seed=4,
        overrides=[
            f"population.initial_accounts={n}",
            "horizon_months=25",
            f"churn.monthly.alpha={p * 1e5}",
            f"churn.monthly.beta={(1 - p) * 1e5}",
        ],
    )
    t = np.arange(1, 25)
    expected = (1 - p) ** t
    observed = survived(res.accounts, t)
    assert np.all(np.abs(observed - expected) <= _band(expected, n))


def test_annual_contracts_churn_only_at_renewals_and_follow_sbg_per_renewal():
    n, alpha, beta = 20_000, 1.5, 4.0
    res = simlib.simulate(
        "textbook",
        seed=5,
        overrides=[
            f"population.initial_accounts={n}",
            "horizon_months=61",
            "contracts.annual_share=1",
            f"churn.annual.alpha={alpha}",
            f"churn.annual.beta={beta}",
        ],
    )
    acc = res.accounts
    assert (acc["contract"] == "annual").all()
    churned_life = acc.loc[acc["churned"], "lifetime_months"].to_numpy()
    assert churned_life.size > 0
    assert np.all(churned_life % 12 == 0), "an annual account churned between renewals"
    k = np.arange(1, 6)
    expected = sbg_survival(alpha, beta, k)
    observed = survived(acc, 12 * k)
    assert np.all(np.abs(observed - expected) <= _band(expected, n))
    # months between renewals lose nobody
    monthly = res.monthly.set_index("month")
    off_renewal = [m for m in range(1, 61) if m % 12 != 0]
    assert (monthly.loc[off_renewal, "churned_accounts"] == 0).all()


def test_mean_ltv_matches_closed_form():
    n, alpha, beta, mrr, margin, rate, h = 20_000, 1.0, 20.0, 100.0, 0.8, 0.1, 36
    res = simlib.simulate(
        "textbook",
        seed=6,
        overrides=[
            f"population.initial_accounts={n}",
            f"horizon_months={h}",
            f"population.mrr={mrr}",
            f"economics.gross_margin={margin}",
            f"economics.annual_discount_rate={rate}",
        ],
    )
    t = np.arange(h)
    closed = margin * mrr * np.sum(sbg_survival(alpha, beta, t) * (1 + rate) ** (-t / 12))
    ltv = res.accounts["ltv"].to_numpy()
    se = ltv.std(ddof=1) / np.sqrt(n)
    assert abs(ltv.mean() - closed) <= Z * se, (ltv.mean(), closed, se)
    assert res.summary["ltv_mean"].iloc[0] == pytest.approx(ltv.mean())


def test_satisfaction_without_churn_link_leaves_churn_untouched():
    """With satisfaction_effect 0, switching the drift on changes no churn decision."""
    base = ["population.initial_accounts=3000", "horizon_months=24"]
    off = simlib.simulate("textbook", seed=7, overrides=base)
    on = simlib.simulate("textbook", seed=7, overrides=[*base, "satisfaction.enabled=true"])
    assert (on.accounts["lifetime_months"] == off.accounts["lifetime_months"]).all()
    assert not np.allclose(on.accounts["final_satisfaction"], off.accounts["final_satisfaction"])


def test_champion_turnover_raises_per_renewal_churn_as_the_closed_form_says():
    """Homogeneous risk p; champion leaves with q a month; odds x m at the next renewal.

    Each monthly renewal then churns with q x expit(logit p + log m) + (1 - q) x p: geometric.
    """
    n, p, q, m = 20_000, 0.03, 0.2, 3.0
    res = simlib.simulate(
        "textbook",
        seed=8,
        overrides=[
            f"population.initial_accounts={n}",
            "horizon_months=25",
            f"churn.monthly.alpha={p * 1e5}",
            f"churn.monthly.beta={(1 - p) * 1e5}",
            "champion.enabled=true",
            f"champion.monthly_turnover={q}",
            f"champion.churn_odds_multiplier={m}",
        ],
    )
    rate = q * expit(logit(p) + np.log(m)) + (1 - q) * p
    t = np.arange(1, 25)
    expected = (1 - rate) ** t
    observed = survived(res.accounts, t)
    assert np.all(np.abs(observed - expected) <= _band(expected, n))
    assert res.monthly["champions_lost"].sum() > 0


def test_satisfaction_drift_reaches_its_stationary_distribution():
    """Monthly logit AR(1): z' = z + k (f - z) + s e  =>  stationary mean f, var s^2 / (1 - (1-k)^2)."""
    n, k, s, fit = 20_000, 0.3, 0.5, 0.6
    res = simlib.simulate(
        "textbook",
        seed=9,
        overrides=[
            f"population.initial_accounts={n}",
            "horizon_months=40",
            "churn.monthly.alpha=0.001",
            "churn.monthly.beta=1000000",
            "satisfaction.enabled=true",
            f"satisfaction.reversion={k}",
            f"satisfaction.volatility={s}",
            f"satisfaction.fit.alpha={fit * 1e6}",
            f"satisfaction.fit.beta={(1 - fit) * 1e6}",
        ],
    )
    z = logit(res.accounts["final_satisfaction"].to_numpy())
    var = s**2 / (1 - (1 - k) ** 2)
    assert abs(z.mean() - logit(fit)) <= Z * np.sqrt(var / n)
    # the sample variance of n normals has standard error var * sqrt(2 / (n - 1))
    assert abs(z.var(ddof=1) - var) <= Z * var * np.sqrt(2 / (n - 1))


def test_satisfaction_link_raises_churn_of_unhappy_accounts():
    base = [
        "population.initial_accounts=5000",
        "horizon_months=24",
        "satisfaction.enabled=true",
        "satisfaction.volatility=1.0",
    ]
    flat = simlib.simulate("textbook", seed=10, overrides=base)
    linked = simlib.simulate("textbook", seed=10, overrides=[*base, "churn.satisfaction_effect=4"])
    # accounts whose satisfaction ended below fit churned more with the link on
    assert (
        linked.summary["logo_churn_monthly"].iloc[0] != flat.summary["logo_churn_monthly"].iloc[0]
    )
    sat_fall = linked.accounts["final_satisfaction"] < 0.3
    assert (
        linked.accounts.loc[sat_fall, "churned"].mean()
        > flat.accounts.loc[sat_fall, "churned"].mean()
    )
