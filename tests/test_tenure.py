"""The tenure profile of the churn odds (simlib/model/tenure.py): closed forms, CRN, off by default.

Survival of a simulated cohort is checked against the exact Beta mixture
``S(t) = E_theta[prod_{n<=t} (1 - expit(logit(theta) + d[n]))]`` (integrated numerically over the
Beta density) within 4 binomial standard errors ``sqrt(S (1 - S) / N)`` at every renewal.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as st
from scipy.special import expit, logit

import simlib
from simlib.account import CONTRACT_ANNUAL, CONTRACT_MONTHLY
from simlib.churn_odds import active_terms
from simlib.model.tenure import renewal_number, segment_profiles
from simlib.run_options import as_overrides
from simlib.scenario import load_scenario, preset_names

Z = 4.0
N = 20_000


def _exact_survival(
    a: float, b: float, profile: list[float], t_max: int, q: float = 0.0
) -> np.ndarray:
    """S(1..t_max) of the Beta mixture; with onboarding completion ``q`` per month the shift
    at renewal n applies only while n < C, P(C = c) = q (1 - q)^(c - 1)."""
    pdf = st.beta(a, b).pdf
    d = np.zeros(t_max + 1)
    d[1 : len(profile) + 1] = profile
    c_max = len(profile) + 1  # C > len(profile) behaves as C = len(profile) + 1
    pc = [q * (1 - q) ** (c - 1) for c in range(1, c_max)] + [(1 - q) ** (c_max - 1)]

    def alive(x: float, t: int) -> float:
        total = 0.0
        for c, w in zip(range(1, c_max + 1), pc, strict=True):
            n = np.arange(1, t + 1)
            shift = np.where(n < c, d[n], 0.0)
            total += w * float(np.prod(1 - expit(logit(x) + shift)))
        return total * pdf(x)

    return np.array(
        [integrate.quad(alive, 0, 1, args=(t,), limit=200)[0] for t in range(1, t_max + 1)]
    )


def _observed_survival(result, t_max: int, per: int = 1) -> np.ndarray:
    acc = result.accounts
    life = acc["lifetime_months"].to_numpy()
    churned = acc["churned"].to_numpy()
    left_at = np.where(churned, life // per, np.inf)  # renewal at which an account left
    return np.array([(left_at > t).mean() for t in range(1, t_max + 1)])


def _assert_within(obs: np.ndarray, exact: np.ndarray, n: int) -> None:
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(obs - exact) <= Z * se + 1e-12), np.c_[obs, exact, se]


def test_off_by_default_in_every_preset_and_with_zero_profiles():
    for name in preset_names():
        names = [t.name for t in active_terms(load_scenario(name))]
        assert "tenure" not in names, name
    zeros = load_scenario("textbook", ["churn.tenure_profile.monthly=[0, 0, 0]"])
    assert "tenure" not in [t.name for t in active_terms(zeros)]
    on = load_scenario("textbook", ["churn.tenure_profile.monthly=[0, 1]"])
    names = [t.name for t in active_terms(on)]
    assert names.index("satisfaction") < names.index("tenure") < names.index("champion")


def test_renewal_number_counts_from_the_anniversary():
    """monthly n = m - a + 1; annual n = (m - a + 1) / 12 at its renewals (module docstring)."""
    book = SimpleNamespace(
        anniversary=np.array([0, 5, -30, 0, 3, -14], dtype=np.int32),
        contract=np.array([CONTRACT_MONTHLY] * 3 + [CONTRACT_ANNUAL] * 3, dtype=np.int8),
    )
    sim = SimpleNamespace(book=book)
    rows = np.arange(6)
    assert renewal_number(sim, rows, 0).tolist()[:3] == [1, -4, 31]
    assert renewal_number(sim, rows, 11).tolist() == [12, 7, 42, 1, 1, 3]
    assert renewal_number(sim, rows[3:], 23).tolist() == [2, 2, 4]
    assert renewal_number(sim, rows[4:5], 14).tolist() == [1]  # 3 + 11: its first renewal


@pytest.mark.parametrize("q", [0.0, 0.35])
def test_monthly_cohort_survival_follows_the_beta_mixture(q):
    a, b, profile, t_max = 2.0, 30.0, [-1.0, 1.0, 2.0, 0.5], 10
    sets = {
        "population.initial_accounts": N,
        "horizon_months": t_max + 1,
        "churn.monthly.alpha": a,
        "churn.monthly.beta": b,
        "churn.tenure_profile.monthly": profile,
        "churn.tenure_profile.onboarding_completion": q,
    }
    result = simlib.simulate("textbook", replications=1, seed=5, overrides=sets)
    exact = _exact_survival(a, b, profile, t_max, q)
    _assert_within(_observed_survival(result, t_max), exact, N)
    # the profile is seen: at renewal 3 (d = 2) the hazard is far above the sBG's
    plain = np.exp(np.cumsum(np.log((b + np.arange(t_max)) / (a + b + np.arange(t_max)))))
    assert exact[2] < plain[2] - 10 * np.sqrt(plain[2] * (1 - plain[2]) / N)


def test_annual_renewals_use_the_annual_profile():
    a, b, profile = 1.0, 5.0, [1.5, -0.5]
    sets = {
        "population.initial_accounts": N,
        "horizon_months": 37,
        "contracts.annual_share": 1.0,
        "churn.annual.alpha": a,
        "churn.annual.beta": b,
        "churn.tenure_profile.annual": profile,
        "churn.tenure_profile.monthly": [5.0],  # must not touch annual accounts
    }
    result = simlib.simulate("textbook", replications=1, seed=2, overrides=sets)
    exact = _exact_survival(a, b, profile, 3)
    _assert_within(_observed_survival(result, 3, per=12), exact, N)


def test_onboarding_that_always_completes_cancels_the_profile_to_the_bit():
    sets = {"population.initial_accounts": 3000, "horizon_months": 13}
    plain = simlib.simulate("textbook", replications=1, seed=9, overrides=sets)
    sets |= {
        "churn.tenure_profile.monthly": [2.0, 1.0],
        "churn.tenure_profile.onboarding_completion": 1.0,
    }
    done = simlib.simulate("textbook", replications=1, seed=9, overrides=sets)
    assert plain.accounts["lifetime_months"].tolist() == done.accounts["lifetime_months"].tolist()
    assert plain.monthly["mrr"].tolist() == done.monthly["mrr"].tolist()


def test_a_rising_profile_only_brings_churn_forward_account_by_account():
    """Common random numbers: the same uniforms against higher probabilities, so with a
    positive profile no account lives longer, and accounts past the profile are unchanged."""
    sets = {"population.initial_accounts": 4000, "horizon_months": 24}
    base = simlib.simulate("textbook", replications=1, seed=4, overrides=sets).accounts
    sets["churn.tenure_profile.monthly"] = [0.0, 1.5, 1.0]
    risky = simlib.simulate("textbook", replications=1, seed=4, overrides=sets).accounts
    assert (risky["account_key"] == base["account_key"]).all()
    life0, life1 = base["lifetime_months"].to_numpy(), risky["lifetime_months"].to_numpy()
    assert np.all(life1 <= life0)
    assert np.any(life1 < life0)
    survived_profile = risky["lifetime_months"].to_numpy() > 3
    assert np.array_equal(life1[survived_profile], life0[survived_profile])


# -- a tenure profile per segment --------------------------------------------------------------

_TWO_SEGMENTS = {
    "small": {"share": 0.5, "plans": {"standard": 100.0}},
    "large": {"share": 0.5, "plans": {"standard": 100.0}},
}


def test_a_segment_without_a_profile_inherits_the_scenario_wide_one():
    """fill_defaults writes the inherited profile into each segment (what validate shows), and a
    partial mapping is merged over the scenario-wide one."""
    segments = {
        "small": {**_TWO_SEGMENTS["small"], "churn": {"tenure_profile": {"monthly": [3.0]}}},
        "large": _TWO_SEGMENTS["large"],
    }
    sc = load_scenario(
        "textbook",
        as_overrides(
            {
                "population.segments": segments,
                "churn.tenure_profile.monthly": [1.0, 0.5],
                "churn.tenure_profile.onboarding_completion": 0.2,
            }
        ),
    )
    small, large = (sc.segment_table()[s].churn.tenure_profile for s in ("small", "large"))
    assert large == sc.churn.tenure_profile
    assert small.monthly == [3.0] and small.onboarding_completion == 0.2
    assert [p.monthly for p in segment_profiles(sc)] == [[3.0], [1.0, 0.5]]
    assert "tenure" in [t.name for t in active_terms(sc)]
    # one segment's profile alone switches the term on
    only = load_scenario("textbook", as_overrides({"population.segments": segments}))
    assert "tenure" in [t.name for t in active_terms(only)]


def test_each_segment_follows_the_beta_mixture_of_its_own_profile():
    """Known answer per segment: the exact Beta mixture of each segment's own profile (and
    onboarding q), within 4 binomial SEs of that segment's accounts (about N / 2 each)."""
    a, b, t_max = 2.0, 30.0, 8
    own, wide = [2.0, 1.5, -1.0], [-1.0, 0.5]
    segments = {
        "small": {
            **_TWO_SEGMENTS["small"],
            "churn": {"tenure_profile": {"monthly": own, "onboarding_completion": 0.3}},
        },
        "large": _TWO_SEGMENTS["large"],
    }
    sets = {
        "population.initial_accounts": N,
        "population.segments": segments,
        "horizon_months": t_max + 1,
        "churn.monthly.alpha": a,
        "churn.monthly.beta": b,
        "churn.tenure_profile.monthly": wide,
    }
    result = simlib.simulate("textbook", replications=1, seed=6, overrides=sets)
    seg = result.accounts["segment"].astype(str).to_numpy()
    for name, profile, q in (("small", own, 0.3), ("large", wide, 0.0)):
        part = SimpleNamespace(accounts=result.accounts[seg == name])
        n = int((seg == name).sum())
        assert n > 0.45 * N
        exact = _exact_survival(a, b, profile, t_max, q)
        _assert_within(_observed_survival(part, t_max), exact, n)


def test_profiles_written_per_segment_equal_to_the_wide_one_change_nothing_to_the_bit():
    """Absent per-segment profiles are today's single profile; the same profile written in
    every segment (or an all-zero one where the wide one is empty) gives the same tables."""
    profile = {"monthly": [1.0, 2.0, 0.5], "onboarding_completion": 0.25}
    base = {
        "population.initial_accounts": 3000,
        "horizon_months": 13,
        "population.segments": _TWO_SEGMENTS,
        "churn.tenure_profile": profile,
    }
    wide = simlib.simulate("textbook", replications=1, seed=3, overrides=base)
    written = {
        name: {**seg, "churn": {"tenure_profile": profile}} for name, seg in _TWO_SEGMENTS.items()
    }
    per = simlib.simulate(
        "textbook",
        replications=1,
        seed=3,
        overrides=base | {"churn.tenure_profile": {}, "population.segments": written},
    )
    assert wide.accounts["lifetime_months"].tolist() == per.accounts["lifetime_months"].tolist()
    assert wide.monthly["mrr"].tolist() == per.monthly["mrr"].tolist()
    # no profile in one segment only (empty lists merged over the wide one): that segment is
    # exactly as with no profile at all, the other as with the wide one
    none = {"tenure_profile": {"monthly": [], "annual": []}}
    zero = dict(written, large={**_TWO_SEGMENTS["large"], "churn": none})
    mixed = simlib.simulate(
        "textbook", replications=1, seed=3, overrides=base | {"population.segments": zero}
    )
    plain = simlib.simulate(
        "textbook",
        replications=1,
        seed=3,
        overrides={k: v for k, v in base.items() if k != "churn.tenure_profile"},
    )
    large = mixed.accounts["segment"].astype(str) == "large"
    assert (mixed.accounts["account_key"] == plain.accounts["account_key"]).all()
    assert (
        mixed.accounts.loc[large, "lifetime_months"].tolist()
        == plain.accounts.loc[large, "lifetime_months"].tolist()
    )
    small = ~large
    assert (
        mixed.accounts.loc[small, "lifetime_months"].tolist()
        == wide.accounts.loc[small, "lifetime_months"].tolist()
    )
