"""Unit tests of loyalty stages and referrals (``simlib/model/loyalty.py``).

The module's documented rules, at the end of each month ``m`` for every account alive: the
promoter / fan streaks count consecutive months at satisfaction >= the stage's
``min_satisfaction``; the stage is fan when the fan streak reaches ``fan.months`` and tenure
``m - start + 1`` reaches ``fan.min_tenure_months``, else promoter likewise, else repeater from
``repeater_tenure_months``, else new; promoters and fans refer with their ``referral_rate``; an
account whose champion left during the month, at satisfaction >= ``champion_min_satisfaction``
before the move, brings an account with ``champion_referral``. Referred accounts arrive at the
start of month ``m + 1`` in the referrer's segment.

The stage rules are re-derived here from satisfaction recorded month by month (the
``on_month`` hook sees the book after the month's drift and champion moves, which is what the
loyalty actor reads at the month's end in scenarios without CS or offers). Statistical bands are
4 standard errors of a sum of binomials.
"""

from __future__ import annotations

import numpy as np
import pandas.testing as pdt
import pytest
from conftest import Recorder
from conftest import run_recorded as _run

import simlib
from simlib.engine import Simulation
from simlib.model.loyalty import FAN, NEW, PROMOTER, REPEATER

Z = 4.0
NO_CHURN = ["churn.monthly.alpha=0.001", "churn.monthly.beta=1000000"]
STAGES = [
    "loyalty.enabled=true",
    "loyalty.repeater_tenure_months=2",
    "loyalty.promoter={min_satisfaction: 0.65, months: 3, min_tenure_months: 4}",
    "loyalty.fan={min_satisfaction: 0.72, months: 5, min_tenure_months: 8}",
]


def test_stages_follow_the_streak_rules_month_by_month():
    """Recomputed from each month's satisfaction, the stage of every account matches the
    book and the monthly promoter and fan counts, with churn, arrivals and satisfaction noise
    that breaks streaks (a stage is lost with its streak)."""
    sim, rec = _run(
        "textbook",
        [
            "population.initial_accounts=3000",
            "horizon_months=24",
            "acquisition.new_accounts_per_month=40",
            "satisfaction.enabled=true",
            "satisfaction.volatility=0.4",
            *STAGES,
        ],
        seed=1,
        columns=("satisfaction", "alive", "start_month"),
    )
    n = sim.book.n
    p_streak, f_streak = np.zeros(n, int), np.zeros(n, int)
    stage = np.zeros(n, int)
    lost_promoter = 0
    for m in range(sim.horizon):  # the last month's stages are taken at the finish
        snap = rec.months[m]
        rows = np.flatnonzero(snap["alive"])
        s = snap["satisfaction"][rows]
        tenure = m - snap["start_month"][rows] + 1
        p_streak[rows] = np.where(s >= 0.65, p_streak[rows] + 1, 0)
        f_streak[rows] = np.where(s >= 0.72, f_streak[rows] + 1, 0)
        new = np.where(tenure >= 2, REPEATER, NEW)
        new = np.where((p_streak[rows] >= 3) & (tenure >= 4), PROMOTER, new)
        new = np.where((f_streak[rows] >= 5) & (tenure >= 8), FAN, new)
        lost_promoter += int(np.count_nonzero((stage[rows] >= PROMOTER) & (new < PROMOTER)))
        stage[rows] = new
        assert sim.ledger["promoters"][m] == np.count_nonzero(new == PROMOTER), m
        assert sim.ledger["fans"][m] == np.count_nonzero(new == FAN), m
    np.testing.assert_array_equal(sim.book.loyalty_stage, stage)
    counts = np.bincount(stage, minlength=4)
    assert (counts > 50).all(), counts  # every stage is reached
    assert lost_promoter > 50  # and streaks do break


def test_the_last_month_reports_its_promoters_and_fans():
    """Nobody churns, nobody arrives (no referrals either) and satisfaction stays at fit: the
    promoter and fan counts cannot change from month H-2 to month H-1 (they read 0 there when
    the stages were only counted as months closed)."""
    sim, _ = _run(
        "textbook",
        [
            "population.initial_accounts=2000",
            "horizon_months=12",
            *NO_CHURN,
            *STAGES,
            "loyalty.promoter.referral_rate=0",
            "loyalty.fan.referral_rate=0",
        ],
        seed=2,
    )
    assert sim.ledger["active_accounts"][-1] == 2000
    promoters, fans = sim.ledger["promoters"], sim.ledger["fans"]
    assert promoters[-2] > 100 and fans[-2] > 100
    assert (promoters[-1], fans[-1]) == (promoters[-2], fans[-2])


def test_referrals_follow_the_referral_rates_and_arrive_next_month():
    """Given the month's promoters P and fans F, its referrals are Binomial(P, r_p) +
    Binomial(F, r_f) (keyed uniforms of their own stream), arriving at the start of the next
    month: their total lies within 4 SE of the sum of means; each month's referred accounts
    start that month and are its new accounts and new MRR."""
    r_p, r_f = 0.04, 0.12
    sim, _ = _run(
        "textbook",
        [
            "population.initial_accounts=3000",
            "horizon_months=24",
            "satisfaction.enabled=true",
            *STAGES,
            f"loyalty.promoter.referral_rate={r_p}",
            f"loyalty.fan.referral_rate={r_f}",
        ],
        seed=3,
    )
    led, book = sim.ledger, sim.book
    prom, fans, refs = led["promoters"][:-1], led["fans"][:-1], led["referrals"]
    mean = r_p * prom.sum() + r_f * fans.sum()
    var = r_p * (1 - r_p) * prom.sum() + r_f * (1 - r_f) * fans.sum()
    assert refs[0] == 0 and mean > 500
    assert abs(refs.sum() - mean) <= Z * np.sqrt(var), (refs.sum(), mean)
    assert led["referrals_champion"].sum() == 0
    np.testing.assert_array_equal(led["new_accounts"], refs)  # no paid acquisition here
    referred = book.referred
    assert referred.sum() == refs.sum() and not referred[:3000].any()
    starts = np.bincount(book.start_month[referred], minlength=sim.horizon)
    np.testing.assert_array_equal(starts, refs)
    mrr = np.bincount(
        book.start_month[referred], weights=book.initial_mrr[referred], minlength=sim.horizon
    )
    np.testing.assert_allclose(led["new_mrr"], mrr, rtol=1e-12)


def test_referred_accounts_join_their_referrers_segment():
    """Only enterprise accounts can become promoters (their fit is 0.9, the others' 0.3), so
    every referred account is an enterprise account, though enterprise is 5 % of new accounts."""
    sim, _ = _run(
        "b2b_saas_no_offers",
        [
            "population.initial_accounts=2000",
            "horizon_months=12",
            "acquisition.new_accounts_per_month=0",
            "coverage.policy=none",
            "champion.enabled=false",
            "satisfaction.enabled=false",
            "population.segments.smb.fit={alpha: 300, beta: 700}",
            "population.segments.mid_market.fit={alpha: 300, beta: 700}",
            "population.segments.enterprise.fit={alpha: 900, beta: 100}",
            "loyalty.enabled=true",
            "loyalty.promoter={min_satisfaction: 0.7, months: 2, min_tenure_months: 2, "
            "referral_rate: 0.2}",
            "loyalty.fan={min_satisfaction: 0.99, months: 12, referral_rate: 0.5}",
        ],
        seed=4,
    )
    book = sim.book
    enterprise = sim.segments.index("enterprise")
    referred = book.referred
    assert referred.sum() > 50
    assert (book.segment[referred] == enterprise).all()
    assert sim.ledger["fans"].sum() == 0
    # the opening book itself is mostly smb and mid-market
    assert (book.segment[:2000] == enterprise).mean() < 0.1


def _champion_scenario(overrides: list[str]) -> list[str]:
    return [
        "population.initial_accounts=3000",
        "horizon_months=18",
        "satisfaction.enabled=false",
        "champion.enabled=true",
        "champion.monthly_turnover=0.2",
        "champion.satisfaction_drop=0.1",
        "champion.churn_odds_multiplier=1.5",
        "loyalty.enabled=true",
        "loyalty.champion_min_satisfaction=0.6",
        "loyalty.promoter.referral_rate=0",
        "loyalty.fan.referral_rate=0",
        *overrides,
    ]


def _eligible_moves(sim: Simulation, rec: Recorder) -> np.ndarray:
    """Per month m (0..H-2): accounts alive at its end whose champion left in m with
    satisfaction >= 0.6 before the move (satisfaction moves only with champions here, so the
    value before is last month's record, or the fit for an account that arrived in m)."""
    out = []
    for m in range(sim.horizon - 1):
        snap = rec.months[m]
        before = sim.book.fit[: snap["alive"].size].copy()
        if m > 0:
            prev = rec.months[m - 1]["satisfaction"]
            before[: prev.size] = prev
        moved = snap["alive"] & snap["champion_lost"]  # monthly contracts: flags of month m
        out.append(int(np.count_nonzero(moved & (before >= 0.6))))
    return np.array(out)


def test_satisfied_moving_champions_bring_accounts():
    """Monthly contracts (a champion flag is cleared at every renewal, so the flags seen in a
    month are that month's moves). With champion_referral 1, month m + 1 gets exactly one
    referral per champion who left in m at satisfaction >= 0.6 before the move; with 0.3 the
    count is Binomial(eligible, 0.3), within 4 SE."""
    cols = ("satisfaction", "alive", "champion_lost")
    sim, rec = _run("textbook", _champion_scenario(["loyalty.champion_referral=1"]), 5, cols)
    eligible = _eligible_moves(sim, rec)
    led = sim.ledger
    np.testing.assert_array_equal(led["referrals_champion"][1:], eligible)
    np.testing.assert_array_equal(led["referrals"], led["referrals_champion"])
    assert 100 < eligible.sum() < led["champions_lost"].sum()  # some moves were unhappy

    p = 0.3
    sim, rec = _run("textbook", _champion_scenario([f"loyalty.champion_referral={p}"]), 5, cols)
    n = _eligible_moves(sim, rec).sum()
    got = sim.ledger["referrals_champion"].sum()
    assert abs(got - p * n) <= Z * np.sqrt(n * p * (1 - p)), (got, p * n)


def test_unhappy_champions_never_refer_even_with_a_large_drop():
    """Every account sits at satisfaction 0.3 < 0.6 when its champion leaves (satisfaction is
    off and fit is 0.3 +- 0.015): no champion referral may come, whatever the drop."""
    sim, _ = _run(
        "textbook",
        _champion_scenario(
            [
                "champion.satisfaction_drop=0.7",
                "loyalty.champion_referral=1",
                "satisfaction.fit={alpha: 300, beta: 700}",
            ]
        ),
        seed=6,
    )
    assert sim.ledger["champions_lost"].sum() > 1000
    assert sim.ledger["referrals_champion"].sum() == 0


@pytest.mark.parametrize("annual_share", [0.0, 1.0])
def test_every_champion_move_can_bring_a_referral(annual_share):
    """champion_referral 1 and no satisfaction bar: each month's champion moves (the
    champions_lost column) all bring an account the next month, monthly or annual contract."""
    sim, _ = _run(
        "textbook",
        _champion_scenario(
            [
                f"contracts.annual_share={annual_share}",
                "champion.monthly_turnover=0.3",
                "champion.satisfaction_drop=0",
                "loyalty.champion_min_satisfaction=0",
                "loyalty.champion_referral=1",
            ]
        ),
        seed=7,
    )
    led = sim.ledger
    assert led["champions_lost"].sum() > 1000
    np.testing.assert_array_equal(led["referrals_champion"][1:], led["champions_lost"][:-1])


def test_loyalty_without_referrals_only_observes():
    """Stages change nothing else: with every referral rate 0, switching loyalty on leaves
    every monthly and account figure of b2b_saas (CS coverage, champions, satisfaction, churn)
    exactly as it was, for the same seed."""
    over = ["population.initial_accounts=1500", "horizon_months=24"]
    off = simlib.simulate("b2b_saas_no_offers", seed=8, overrides=over)
    on = simlib.simulate(
        "b2b_saas_no_offers",
        seed=8,
        overrides=[
            *over,
            "loyalty.enabled=true",
            "loyalty.promoter.referral_rate=0",
            "loyalty.fan.referral_rate=0",
        ],
    )
    own = ["referrals", "referrals_champion", "promoters", "fans"]
    assert on.monthly["promoters"].sum() > 0
    pdt.assert_frame_equal(on.monthly.drop(columns=own), off.monthly, check_exact=True)
    pdt.assert_frame_equal(
        on.accounts.drop(columns=["loyalty_stage", "referred"]), off.accounts, check_exact=True
    )
