"""Capacity decides coverage (``coverage.policy: by_capacity``), LTV potential that grows with
the account (``coverage.growth``) and the digital-CS pool for tech-touch alerts
(``coverage.digital``): known answers, common-random-number claims per seed, equivalences."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import simlib
from simlib.engine import Simulation
from simlib.errors import ScenarioError
from simlib.experiment import run_replication
from simlib.model.coverage import WEEK, kernels, policies
from simlib.tiers import HIGH, LOW, TECH

SMALL = ["population.initial_accounts=1500", "horizon_months=24"]
#: the capacity policy, growth off and no digital pool (whatever the preset's defaults become)
CAPACITY = [
    *SMALL,
    "coverage.policy=by_capacity",
    "coverage.growth.enabled=false",
    "coverage.digital.hours_per_week=0",
]
#: churn unaffected by CS (no satisfaction link, no saves): the same accounts alive in every run
SAME_ALIVE = ["churn.satisfaction_effect=0", "coverage.alerts.save_probability=0"]
NEW_MONTHLY = ("tier_promotions", "tier_demotions", "covered_accounts")


def _fake_sim(count=12, hours=30.0, share=0.8, high=0.05, low=0.25):
    """What capacity_slots reads, for closed-form checks."""
    tier = SimpleNamespace
    coverage = SimpleNamespace(
        csm=SimpleNamespace(count=count, hours_per_week=hours),
        capacity=SimpleNamespace(planned_share=share),
        shares=SimpleNamespace(high=high, low=low),
        tiers=SimpleNamespace(
            high=tier(touch_hours=1.5, cadence_weeks=2.0, max_book=30),
            low=tier(touch_hours=0.5, cadence_weeks=8.0, max_book=200),
        ),
    )
    return SimpleNamespace(scenario=SimpleNamespace(coverage=coverage))


def test_capacity_slots_known_answers():
    # 12 CSMs x 30 h x 0.8 = 288 h a week; high touch 0.75 h a week an account, low 0.0625
    # 5,000 accounts: targets 250 high (187.5 h) and 1,250 low; 100.5 h left cover 1,608 low
    assert policies.capacity_slots(_fake_sim(), 5000) == (250, 1250)
    # 2 CSMs: books for 60 high (45 h), then 3 h left cover 48 low
    assert policies.capacity_slots(_fake_sim(count=2), 5000) == (60, 48)
    # 2 CSMs of 20 h: 32 h cover 42 of the 250 high-touch targets, then nobody low (the
    # first account that does not fit ends the coverage)
    assert policies.capacity_slots(_fake_sim(count=2, hours=20.0), 5000) == (42, 0)
    # 5 CSMs: room for 150 high (5 x 30 books), 112.5 h; 7.5 h left: 120 low
    assert policies.capacity_slots(_fake_sim(count=5), 5000) == (150, 120)
    # a team with hours for everyone: the share targets, as tiered_by_ltv_potential
    assert policies.capacity_slots(_fake_sim(count=500), 5000) == (250, 1250)
    assert policies.capacity_slots(_fake_sim(count=0), 5000) == (0, 0)


@pytest.mark.parametrize(("high", "low"), [(0.05, 0.25), (0.0, 0.95), (0.3, 0.0), (0.1, 0.9)])
def test_more_csms_never_cover_fewer_accounts_by_the_slots(high, low):
    """Covered accounts (high + low) never fall as the team grows, at every headcount and book
    size, and a lower tier is filled only once the higher one is."""
    for n in (0, 1, 7, 480, 5000, 12345):
        prev = -1
        for count in range(0, 260):
            h, lo = policies.capacity_slots(_fake_sim(count=count, high=high, low=low), n)
            assert h + lo >= prev, (n, count)
            assert h <= round(high * n) and h + lo <= round(high * n) + round(low * n)
            if lo > 0:
                assert h == min(round(high * n), 30 * count)
            prev = h + lo


def _counts_run(seed, count, extra=()):
    return simlib.simulate(
        "b2b_saas_no_offers",
        seed=seed,
        overrides=[*CAPACITY, *SAME_ALIVE, f"coverage.csm.count={count}", *extra],
    ).monthly


@pytest.mark.parametrize("seed", [1, 2])
def test_more_csms_never_lower_coverage_nor_mean_satisfaction(seed):
    """Common random numbers, per seed: with the same accounts alive, a bigger team covers at
    least as many accounts every month (with growth on too) and mean satisfaction over the
    horizon never falls (priority fixed: each re-assignment's covered set holds the smaller
    team's); from 0 to 12 CSMs satisfaction rises."""
    counts = (0, 1, 2, 3, 4, 6, 12)
    runs = [_counts_run(seed, c) for c in counts]
    for a, b in itertools.pairwise(runs):
        assert (b["covered_accounts"].to_numpy() >= a["covered_accounts"].to_numpy()).all()
        assert b["mean_satisfaction"].mean() >= a["mean_satisfaction"].mean()
    assert runs[-1]["mean_satisfaction"].mean() > runs[0]["mean_satisfaction"].mean()
    assert runs[2]["covered_accounts"].iloc[1] < runs[-1]["covered_accounts"].iloc[1]
    grown = [_counts_run(seed, c, ["coverage.growth.enabled=true"]) for c in counts]
    for a, b in itertools.pairwise(grown):
        assert (b["covered_accounts"].to_numpy() >= a["covered_accounts"].to_numpy()).all()


def test_short_hours_cover_the_top_of_the_priority_list():
    """With too few hours, the covered accounts are the highest LTV potential: every high-touch
    account's potential is at least every low-touch one's, and theirs every tech one's."""
    scenario = simlib.load_scenario(
        "b2b_saas_no_offers", [*CAPACITY, "coverage.csm.count=2", "horizon_months=1"]
    )
    sim = Simulation(scenario, seed=3).run()  # the month-0 assignment only
    rows = np.arange(sim.book.n)  # every account the month-0 assignment tiered
    score = policies.ltv_potential(sim, rows)
    tier = sim.book.tier[rows]
    n_high, n_low = policies.capacity_slots(sim, rows.size)
    assert (np.count_nonzero(tier == HIGH), np.count_nonzero(tier == LOW)) == (n_high, n_low)
    assert 0 < n_high + n_low < rows.size * 0.3  # short of the share targets
    assert score[tier == HIGH].min() >= score[tier == LOW].max() >= score[tier == TECH].max()


def test_with_hours_for_everyone_capacity_is_the_share_policy():
    """by_capacity with planned hours and CSM books for every share target (here 200 CSMs)
    gives tiered_by_ltv_potential's tiers at every re-assignment, so the same run to the bit
    (it only adds its own monthly and account columns), with fixed and growing potential."""
    for growth in ("false", "true"):
        common = [*SMALL, "coverage.csm.count=200", f"coverage.growth.enabled={growth}"]
        shares = run_replication(
            simlib.load_scenario("b2b_saas_no_offers", [*common, "coverage.policy=tiered_by_ltv_potential"]),
            4,
            0,
        )
        capacity = run_replication(
            simlib.load_scenario("b2b_saas_no_offers", [*common, "coverage.policy=by_capacity"]), 4, 0
        )
        for a, b in zip(shares[:2], capacity[:2], strict=True):
            pdt.assert_frame_equal(a, b[a.columns], check_exact=True)
        assert capacity[1]["tier"].astype(str).isin(["high", "low"]).sum() > 0


def test_promoted_tech_touch_accounts_exist_in_a_growing_book():
    """In a book that expands (upsell and cross-sell on), with growth on, accounts tiered tech
    touch at month 0 are promoted later, and they are accounts whose MRR grew; with the
    potential fixed at arrival, fewer such promotions happen on the same seed."""
    over = [*CAPACITY, "coverage.csm.count=6", "horizon_months=36"]
    grown = simlib.simulate(
        "b2b_no_friction", seed=5, overrides=[*over, "coverage.growth.enabled=true"]
    )
    fixed = simlib.simulate(
        "b2b_no_friction", seed=5, overrides=[*over, "coverage.growth.enabled=false"]
    )

    def promoted(res):
        acc = res.accounts
        return acc[
            (acc["start_month"] == 0) & (acc["initial_tier"] == TECH) & (acc["promotions"] > 0)
        ]

    up = promoted(grown)
    assert len(up) > 0
    assert grown.monthly["tier_promotions"].sum() >= len(up)
    assert (up["final_mrr"] / up["initial_mrr"]).median() > 1.0
    assert len(up) > len(promoted(fixed))


def test_the_mrr_waterfall_reconciles_with_capacity_growth_and_digital():
    res = simlib.simulate(
        "b2b_no_friction",
        seed=6,
        overrides=[
            *CAPACITY,
            "coverage.csm.count=5",
            "coverage.growth.enabled=true",
            "coverage.digital.hours_per_week=20",
        ],
    )
    m = res.monthly
    assert m["expansion_mrr"].sum() > 0
    mrr = m["mrr"].to_numpy()
    flows = (m["new_mrr"] + m["expansion_mrr"] - m["contraction_mrr"] - m["churned_mrr"]).to_numpy()
    np.testing.assert_allclose(mrr[1:], mrr[:-1] + flows[1:], rtol=1e-12)


def test_growth_potential_known_answer():
    """The growth formula on one hand-built book: margin x 12 x MRR x (1 + u x (top / plan -
    1)) x years x exp(b x (satisfaction - mean fit))."""
    scenario = simlib.load_scenario(
        "b2b_saas_no_offers", [*CAPACITY, "coverage.growth.enabled=true", "coverage.growth.health_effect=1.5"]
    )
    sim = Simulation(scenario.model_copy(update={"horizon_months": 1}), seed=1).run()
    book = sim.book
    rows = np.arange(3)
    book.segment[rows] = [0, 0, 2]  # smb, smb, enterprise
    book.plan[rows] = [0, 2, 1]  # starter (49), business (399, top), enterprise_plus (20000)
    book.contract[rows] = [0, 0, 1]  # monthly, monthly, annual
    book.mrr[rows] = [60.0, 399.0, 17000.0]
    book.satisfaction[rows] = [0.5, 0.9, 0.7]
    got = policies.growth_potential(sim, rows)
    smb_years = 1 / (12 * 0.8 / 20.8)  # churn.monthly Beta(0.8, 20) mean
    ent_years = 1 / (1.5 / 21.5)  # churn.annual Beta(1.5, 20) mean
    fit_smb, fit_ent = 5 / 9, 7 / 10
    want = (
        0.78
        * 12
        * np.array(
            [
                60.0 * (399 / 49) * smb_years * math.exp(1.5 * (0.5 - fit_smb)),
                399.0 * 1.0 * smb_years * math.exp(1.5 * (0.9 - fit_smb)),
                17000.0 * (50000 / 20000) * ent_years * math.exp(1.5 * (0.7 - fit_ent)),
            ]
        )
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # off: the potential at arrival (top plan x size), whatever the MRR and satisfaction
    off = Simulation(simlib.load_scenario("b2b_saas_no_offers", [*CAPACITY, "horizon_months=1"]), seed=1)
    off.run()
    before = policies.ltv_potential(off, np.arange(5))
    off.book.mrr[:5] *= 3.0
    off.book.satisfaction[:5] = 0.99
    np.testing.assert_array_equal(policies.ltv_potential(off, np.arange(5)), before)


def _pool_reference(arrival, d, month):
    """One server, first come first served, free at the month's start, alert by alert."""
    free, ends = float(month), []
    for a in arrival:
        free = max(a, free) + d
        ends.append(free)
    return np.array(ends)


def test_digital_pool_is_a_first_come_first_served_server():
    rng = np.random.default_rng(3)
    for d in (0.001, 0.01, 0.05):
        arrival = 7 + np.sort(rng.random(300))
        k = np.arange(arrival.size)
        ends = (k + 1) * d + np.maximum.accumulate(arrival - k * d)
        np.testing.assert_allclose(ends, _pool_reference(arrival, d, 7), rtol=0, atol=1e-12)


def test_digital_pool_serves_tech_alerts_within_its_hours_and_saves_accounts():
    base = [*SMALL, "coverage.policy=tiered_by_ltv_potential"]
    off = simlib.simulate("b2b_saas_no_offers", seed=7, overrides=base)
    assert not any(c.startswith("digital_") for c in off.monthly.columns)
    runs = {
        h: simlib.simulate(
            "b2b_saas_no_offers", seed=7, overrides=[*base, f"coverage.digital.hours_per_week={h}"]
        )
        for h in (5, 40)
    }
    for h, res in runs.items():
        m = res.monthly
        assert (m["digital_alerts_served"] <= m["digital_alerts_raised"]).all()
        # hours worked never exceed the pool's hours in a month (alerts of 1 hour each)
        assert (m["digital_hours_worked"] <= h / WEEK + 1e-9).all()
        assert m["digital_alerts_served"].sum() > 0
    # the pool's cost a month: its hours at a CSM's hourly cost (9,000 / (30 h / WEEK))
    scenario = simlib.load_scenario("b2b_saas_no_offers", [*base, "coverage.digital.hours_per_week=5"])
    desk = Simulation(scenario, seed=7).actor("coverage").digital
    assert desk.cost_per_month == pytest.approx(5 / WEEK * 9000 / (30 / WEEK), rel=1e-12)
    assert (
        runs[40].monthly["digital_alerts_served"].sum()
        > runs[5].monthly["digital_alerts_served"].sum()
    )
    assert runs[40].monthly["saves"].sum() > off.monthly["saves"].sum()
    # the CSMs' alerts are those of high- and low-touch accounts only, as without the pool
    assert off.monthly["alerts_raised"].sum() > 0


def test_everything_off_by_default_adds_no_columns():
    """The block's defaults switch nothing on, and a shares policy with them adds no column."""
    from simlib.config.coverage import Coverage

    cfg = Coverage()
    assert cfg.policy == "none" and not cfg.growth.enabled and cfg.digital.hours_per_week == 0
    res = run_replication(
        simlib.load_scenario(
            "b2b_saas_no_offers",
            [
                *SMALL,
                "coverage.policy=tiered_by_ltv_potential",
                "coverage.growth.enabled=false",
                "coverage.digital.hours_per_week=0",
            ],
        ),
        1,
        0,
    )
    for col in (*NEW_MONTHLY, "digital_alerts_raised"):
        assert col not in res[0].columns
    assert "promotions" not in res[1].columns


@pytest.mark.parametrize(
    ("override", "words"),
    [
        (
            ["coverage.policy=by_capacity", "coverage.thresholds.high=100000"],
            "policy 'by_capacity' ranks by shares of the book",
        ),
        (["coverage.capacity.planned_share=0"], "coverage.capacity.planned_share: must be > 0"),
        (["coverage.digital.hours_per_week=-1"], "coverage.digital.hours_per_week"),
        (["coverage.growth.health_effect=-2"], "coverage.growth.health_effect"),
    ],
)
def test_bad_capacity_input(override, words):
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario("b2b_saas_no_offers", override)
    assert words in str(info.value)


def test_compiled_tiers_by_priority_equals_numpy():
    """The numba tiers_by_priority gives numpy's tiers on continuous scores, on ties across the
    cuts (health decides, then the row) and with zeros; numpy's breaks ties by health."""
    compiled = kernels.get_kernels()
    if compiled is kernels.numpy_backend:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(12)
    for trial in range(300):
        n = int(rng.integers(2, 3000))
        kind = trial % 3
        if kind == 0:
            score = rng.lognormal(size=n) * rng.choice([49.0, 399.0, 5000.0], n)
        elif kind == 1:
            score = rng.choice([0.0, 1.0, 2.5, 7.0], n)
        else:
            score = np.where(rng.random(n) < 0.1, 0.0, rng.random(n))
        health = rng.choice([0.2, 0.5, 0.8], n)
        k = int(rng.integers(0, n + 1))
        k_high = int(rng.integers(0, k + 1))
        a = np.full(n, TECH, dtype=np.int8)
        b = a.copy()
        kernels.numpy_backend.tiers_by_priority(score, health, k_high, k - k_high, a)
        compiled.tiers_by_priority(score, health, k_high, k - k_high, b)
        np.testing.assert_array_equal(a, b)
        assert np.count_nonzero(a == HIGH) == k_high and np.count_nonzero(a >= LOW) == k
    # ties: the least healthy first, then the lower row
    score = np.array([5.0, 3.0, 3.0, 3.0, 1.0])
    health = np.array([0.9, 0.8, 0.2, 0.8, 0.1])
    tiers = np.full(5, TECH, dtype=np.int8)
    kernels.numpy_backend.tiers_by_priority(score, health, 1, 2, tiers)
    assert tiers.tolist() == [HIGH, LOW, LOW, TECH, TECH]


def test_capacity_growth_and_digital_compiled_equals_numpy(monkeypatch):
    if kernels.get_kernels() is kernels.numpy_backend:
        pytest.skip("numba is not installed")
    scenario = simlib.load_scenario(
        "b2b_no_friction",
        [
            *CAPACITY,
            "coverage.csm.count=4",
            "coverage.growth.enabled=true",
            "coverage.digital.hours_per_week=10",
        ],
    )
    compiled = run_replication(scenario, seed=5, replication=0)
    monkeypatch.setenv("SIMLIB_JIT", "0")
    plain = run_replication(scenario, seed=5, replication=0)
    assert compiled[0]["tier_promotions"].sum() > 0
    for a, b in zip(compiled[:2], plain[:2], strict=True):
        pdt.assert_frame_equal(a, b, check_exact=True)
    pdt.assert_series_equal(pd.Series(compiled[2]), pd.Series(plain[2]), check_exact=True)


def test_touches_are_skipped_only_for_lack_of_hours():
    """by_capacity plans scheduled touches within the planned hours: with no reactive work
    (alerts off) no touch is ever skipped, at any headcount; when alerts take the hours the
    plan left (planned share 1, many alerts), touches are skipped and show in the column."""
    for count in (1, 3, 12):
        m = simlib.simulate(
            "b2b_saas_no_offers",
            seed=8,
            overrides=[*CAPACITY, f"coverage.csm.count={count}", "coverage.alerts.enabled=false"],
        ).monthly
        assert m["touches_skipped"].sum() == 0 and m["touches_done"].sum() > 0
    busy = simlib.simulate(
        "b2b_saas_no_offers",
        seed=8,
        overrides=[
            *CAPACITY,
            "coverage.csm.count=3",
            "coverage.capacity.planned_share=1",
            "coverage.alerts.threshold=0.6",
            "coverage.alerts.noise=0.3",
            "coverage.alerts.cooldown_months=0",
        ],
    ).monthly
    assert busy["touches_skipped"].sum() > 0


def test_headcount_chart_marks_the_best_point():
    from simlib import plots

    rows = []
    for rep in range(4):
        for count, value in ((0, 10.0), (4, 30.0), (8, 25.0)):
            rows.append(
                {"point": count, "coverage.csm.count": count, "replication": rep,
                 "net_value": value + rep, "error": None}
            )  # fmt: skip
    fig = plots.csm_headcount(pd.DataFrame(rows))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["best: 4"]
    # ticks at the headcounts swept, and the paired differences below 0 with the minus sign
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "4", "8"]
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert any(lab.startswith("\u2212") for lab in labels) and not any("-" in x for x in labels)
