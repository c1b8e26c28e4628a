"""Invariants as property tests over generated valid scenarios (hypothesis).

For every month and replication: the MRR waterfall reconciles exactly (to float rounding);
active = initial + acquired - churned; MRR >= 0; accounts' revenue adds up to the monthly
revenue; an account churns at most once and only while alive.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simlib
from simlib.engine import Actor, register_actor


@register_actor
class _PriceChanger(Actor):
    """Test-only actor: random up- and down-grades effective next month (scenarios named
    ``price-change*`` only), so the waterfall is checked with expansion and contraction."""

    name: ClassVar[str] = "test_price_changer"
    order: ClassVar[int] = 90

    @classmethod
    def enabled(cls, scenario) -> bool:
        return scenario.name.startswith("price-change")

    def open_month(self, month: int) -> None:
        if month + 1 >= self.sim.horizon:
            return
        book = self.sim.book
        rows = book.alive_index()
        u = self.sim.streams.uniform("test_price", book.key[rows], month)
        chosen = rows[u < 0.1]
        factor = np.where(u[u < 0.1] < 0.05, 0.5, 1.7)
        self.sim.change_mrr(chosen, book.mrr[chosen] * factor, month + 1)


beta = st.builds(
    lambda a, b: {"alpha": a, "beta": b},
    st.floats(0.05, 20),
    st.floats(0.5, 200),
)


@st.composite
def scenarios(draw):
    n_seg = draw(st.integers(1, 3))
    shares = np.array(draw(st.lists(st.floats(0.05, 1), min_size=n_seg, max_size=n_seg)))
    shares = shares / shares.sum()
    segments = {}
    for i in range(n_seg):
        n_plans = draw(st.integers(1, 3))
        prices = sorted(draw(st.lists(st.floats(0, 5000), min_size=n_plans, max_size=n_plans)))
        segments[f"s{i}"] = {
            "share": float(shares[i]) if i < n_seg - 1 else float(1 - shares[:-1].sum()),
            "plans": {f"p{j}": p for j, p in enumerate(prices)},
            "size_sigma": draw(st.floats(0, 1.5)),
            "annual_share": draw(st.floats(0, 1)),
            "churn": {"monthly": draw(beta), "annual": draw(beta)},
        }
    return {
        "name": draw(st.sampled_from(["plain", "price-change"])),
        "horizon_months": draw(st.integers(1, 30)),
        "population": {"initial_accounts": draw(st.integers(0, 300)), "segments": segments},
        "acquisition": {
            "new_accounts_per_month": draw(st.floats(0, 30)),
            "process": draw(st.sampled_from(["poisson", "fixed"])),
        },
        "contracts": {
            "annual_discount": draw(st.floats(0, 0.5)),
            "stagger_opening_renewals": draw(st.booleans()),
        },
        "churn": {"satisfaction_effect": draw(st.floats(0, 5))},
        "satisfaction": {"enabled": draw(st.booleans()), "volatility": draw(st.floats(0, 2))},
        "coverage": {
            "policy": draw(
                st.sampled_from(
                    [
                        "none",
                        "uniform_low_touch",
                        "tech_touch_only",
                        "tiered_by_arr",
                        "tiered_by_ltv_potential",
                    ]
                )
            ),
            "csm": {"count": draw(st.integers(0, 4)), "hours_per_week": draw(st.floats(1, 40))},
            "requests": {"per_month": draw(st.sampled_from([0.0, 5.0]))},
        },
        "champion": {
            "enabled": draw(st.booleans()),
            "monthly_turnover": draw(st.floats(0, 0.5)),
            "churn_odds_multiplier": draw(st.floats(1, 10)),
        },
        **draw(offer_blocks(segments)),
    }


@st.composite
def offer_blocks(draw, segments):
    """Sometimes switch offers (and B2B gates, loyalty, B2C buyers) on; often leave them off."""
    if not draw(st.booleans()):
        return {}
    for seg in segments.values():
        seg["buyer"] = draw(st.sampled_from(["b2b", "b2c"]))
    kinds = {
        k: {"enabled": draw(st.booleans()), "monthly_rate": draw(st.floats(0, 1))}
        for k in ("upsell", "cross_sell", "downsell", "term_conversion")
    }
    relevance = {s: draw(st.floats(0, 1)) for s in segments}
    return {
        "offers": {"kinds": kinds, "addons": {"a": {"price": 10.0, "relevance": relevance}}},
        "approval": {"enabled": draw(st.booleans()), "delay_days": draw(st.floats(0, 60))},
        "budget": {"enabled": draw(st.booleans()), "default_per_year": draw(st.floats(0, 5e4))},
        "loyalty": {"enabled": draw(st.booleans()), "champion_referral": draw(st.floats(0, 1))},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_for_any_valid_scenario(doc, seed):
    res = simlib.simulate(doc, replications=2, seed=seed)
    m = res.monthly
    a = res.accounts
    initial = doc["population"]["initial_accounts"]
    for _, g in m.groupby("replication"):
        mrr = g["mrr"].to_numpy()
        prev = np.concatenate([[mrr[0]], mrr[:-1]])  # month 0 is the opening book
        flows = g["new_mrr"] + g["expansion_mrr"] - g["contraction_mrr"] - g["churned_mrr"]
        scale = max(1.0, float(np.abs(mrr).max()))
        assert np.allclose(mrr, prev + flows.to_numpy(), rtol=0, atol=1e-9 * scale * len(g))
        active = initial + g["new_accounts"].cumsum() - g["churned_accounts"].cumsum()
        assert (g["active_accounts"].to_numpy() == active.to_numpy()).all()
        assert (g["mrr"] >= 0).all() and (g["revenue"] >= 0).all()
        assert g["new_accounts"].iloc[0] == 0 and g["churned_accounts"].iloc[0] == 0
    for r, g in a.groupby("replication"):
        assert g["account_id"].is_unique  # one row per account: nobody churns twice
        rev = m.loc[m["replication"] == r, "revenue"].sum()
        assert np.isclose(g["revenue"].sum(), rev, rtol=1e-9, atol=1e-6)
        churned = g[g["churned"]]
        assert (churned["end_month"] >= churned["start_month"]).all()
        assert (churned["end_month"] < doc["horizon_months"] - 1).all()
        total_churned = m.loc[m["replication"] == r, "churned_accounts"].sum()
        assert len(churned) == total_churned
        assert (g["final_mrr"] >= 0).all() and (g["ltv"] >= 0).all()
        assert np.isfinite(g[["ltv", "revenue", "final_satisfaction"]].to_numpy()).all()


def test_waterfall_with_expansion_and_contraction_on_a_real_book():
    res = simlib.simulate(
        "b2b_saas",
        seed=1,
        overrides=[
            "name=price-change book",
            "population.initial_accounts=2000",
            "horizon_months=24",
        ],
    )
    m = res.monthly
    assert m["expansion_mrr"].sum() > 0 and m["contraction_mrr"].sum() > 0
    mrr = m["mrr"].to_numpy()
    flows = (m["new_mrr"] + m["expansion_mrr"] - m["contraction_mrr"] - m["churned_mrr"]).to_numpy()
    np.testing.assert_allclose(mrr[1:], mrr[:-1] + flows[1:], rtol=1e-12)
    assert res.summary["nrr_12m"].iloc[0] > res.summary["grr_12m"].iloc[0]
