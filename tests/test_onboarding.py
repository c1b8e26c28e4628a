"""Onboarding completion that CS touches speed up, and the offers timed to it
(simlib/model/tenure.py: OnboardingTracker; simlib/model/engagement.py; simlib/model/offers.py).

Known answers per account (one keyed uniform each, so exact, not statistical): with no touch the
completion month is the geometric ``C = 1 + floor(log u / log(1 - q))`` of earlier versions; with
a touch in every month it is the first ``t`` with ``t (1 + e) > x``. Common random numbers per
seed: more touches, or a larger effect, never delay any account. The share completing in the
first month is checked against ``1 - (1 - q)^(1 + e)`` within 4 binomial standard errors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import expit

import simlib
from simlib.engine import Simulation
from simlib.model.engagement import moment_log_odds
from simlib.model.tenure import onboarding_done, onboarding_month, onboarding_need

Q = 0.15
H = 24
BOOK = [
    "population.initial_accounts=3000",
    f"horizon_months={H}",
    "acquisition.new_accounts_per_month=100",
    f"churn.tenure_profile.onboarding_completion={Q}",
]
#: a tech-touch campaign every month (a cadence under a month), no CSM book
EVERY_MONTH = ["coverage.policy=tech_touch_only", "coverage.tiers.tech.cadence_weeks=4"]
#: a campaign about every second month
SOME_MONTHS = ["coverage.policy=tech_touch_only", "coverage.tiers.tech.cadence_weeks=8"]


def _sim(overrides: list[str], seed: int = 1, preset: str = "textbook") -> Simulation:
    return Simulation(simlib.load_scenario(preset, overrides), seed=seed).run()


def _first_month(need: np.ndarray, per_month: float, t_max: int = 400) -> np.ndarray:
    """The first tenure month t with t x per_month > need (inf: none up to t_max)."""
    t = np.arange(1, t_max + 1, dtype=np.float64)
    hit = t[None, :] * per_month > need[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, np.inf)


def _check_months(sim: Simulation, c: np.ndarray) -> None:
    """Every account that completed did so in its expected month ``start + c - 1``; every account
    alive at the horizon that has not was not due by the last month closed (H - 2)."""
    book = sim.book
    expected = book.start_month + c - 1
    done = ~np.isnan(book.onboarded_month)
    assert done.sum() > 0.5 * book.n
    np.testing.assert_array_equal(book.onboarded_month[done], expected[done])
    assert np.all(expected[~done & book.alive] > H - 2)


@pytest.mark.parametrize("coverage", [[], SOME_MONTHS])
def test_with_no_touch_effect_completion_is_the_geometric_month_to_the_bit(coverage):
    """Effect 0 (with or without CS touching the accounts): the month of earlier versions."""
    sim = _sim([*BOOK, *coverage])
    rows = np.arange(sim.book.n)
    _check_months(sim, onboarding_month(sim, rows, Q))
    if coverage:
        assert sim.book.tech_touches.max() > 5  # the accounts were touched, to no effect
    # the churn-odds term's test at any month, past the last closed month too: C <= tau
    for month in (0, 5, H - 2, H - 1, H + 6):
        tau = month - sim.book.anniversary[rows] + 1
        today = onboarding_month(sim, rows, Q) <= tau
        np.testing.assert_array_equal(onboarding_done(sim, rows, month), today)


def test_a_touch_every_month_completes_onboarding_at_the_raised_hazard():
    """Every month touched: complete at the first t with t (1 + e) > x, account by account; the
    opening book's share completing in month 1 is 1 - (1 - q)^(1 + e) (4 binomial SEs)."""
    e = 1.0
    sim = _sim([*BOOK, *EVERY_MONTH, f"churn.tenure_profile.onboarding_touch_effect={e}"])
    book = sim.book
    rows = np.arange(book.n)
    _check_months(sim, _first_month(onboarding_need(sim, rows), 1.0 + e))
    opening = book.start_month == 0
    first = float((book.onboarded_month[opening] == 0).mean())
    p = 1.0 - (1.0 - Q) ** (1.0 + e)
    assert abs(first - p) <= 4.0 * np.sqrt(p * (1 - p) / opening.sum())
    assert abs(first - Q) > 10.0 * np.sqrt(Q * (1 - Q) / opening.sum())  # not the untouched q


@pytest.mark.parametrize("seed", [1, 2])
def test_more_touches_or_a_larger_effect_never_delay_onboarding(seed):
    """Common random numbers: the textbook book has no satisfaction link to churn and no
    profile, so the same accounts live the same lives; with touches and a larger effect every
    account completes no later, and some earlier."""
    months = {}
    for name, sets in {
        "no CS": [],
        "e=0.5": [*SOME_MONTHS, "churn.tenure_profile.onboarding_touch_effect=0.5"],
        "e=2": [*SOME_MONTHS, "churn.tenure_profile.onboarding_touch_effect=2"],
        "e=2, every month": [*EVERY_MONTH, "churn.tenure_profile.onboarding_touch_effect=2"],
    }.items():
        book = _sim([*BOOK, *sets], seed=seed).book
        months[name] = np.nan_to_num(book.onboarded_month, nan=np.inf)
        months.setdefault("_end", book.end_month.copy())
        np.testing.assert_array_equal(book.end_month, months["_end"])  # the same lives
    order = ["no CS", "e=0.5", "e=2", "e=2, every month"]
    for slower, faster in itertools.pairwise(order):
        assert np.all(months[faster] <= months[slower]), (slower, faster)
        assert np.any(months[faster] < months[slower]), (slower, faster)


def test_a_term_conversion_does_not_restart_onboarding():
    """Onboarding counts from the anniversary the account arrived with: moving the anniversary
    (as a term conversion does) changes no account's completion."""
    sim = _sim(BOOK)
    rows = np.arange(sim.book.n)
    before = onboarding_done(sim, rows, H - 1)
    sim.book.anniversary[rows] = H - 3
    np.testing.assert_array_equal(onboarding_done(sim, rows, H - 1), before)


# -- offers timed to onboarding ----------------------------------------------------------------

ONBOARDING_UPSELL = [
    "population.initial_accounts=1500",
    "horizon_months=24",
    "offers.kinds.upsell.timing=onboarding",
    "offers.kinds.upsell.require_usage_near_limit=false",
    "offers.kinds.upsell.min_tenure_months=0",
    "offers.kinds.upsell.cooldown_months=1",
    "offers.kinds.upsell.max_per_year=12",
]


def test_onboarding_timed_offers_go_to_accounts_whose_onboarding_just_completed():
    """With completion simulated, an onboarding-timed upsell is made in the month after the
    account's onboarding completed, and in no other month; without it, at tenure
    min_tenure_months as before."""
    sim = _sim(
        [*ONBOARDING_UPSELL, "churn.tenure_profile.onboarding_completion=0.2"],
        preset="usage_timed_upsell",
    )
    book = sim.book
    offered = book.offers_received > 0
    assert offered.sum() > 200
    assert book.offers_received.max() == 1  # one completion, one moment
    np.testing.assert_array_equal(book.last_offer[offered], book.onboarded_month[offered] + 1)
    # opening-book accounts whose onboarding completed before month 0 get none
    early = book.onboarded_month < 0
    assert early.sum() > 50 and not offered[early].any()
    plain = _sim(ONBOARDING_UPSELL, preset="usage_timed_upsell").book
    hit = plain.offers_received > 0
    assert hit.sum() > 200
    np.testing.assert_array_equal(plain.last_offer[hit], plain.start_month[hit])


def test_the_onboarding_moment_holds_in_the_window_after_completion():
    """moments.onboarding is added where 1 <= month - onboarded_month <= window (the tenure
    window of earlier versions is not used once completion is simulated)."""
    sim = _sim(
        [
            "population.initial_accounts=8",
            "horizon_months=2",
            "churn.tenure_profile.onboarding_completion=0.2",
            "offers.moments.onboarding=2",
            "offers.moments.onboarding_window_months=2",
            "offers.moments.off_moment=-1.5",
        ],
        preset="usage_timed_upsell",
    )
    book = sim.book
    rows = book.alive_index()[:6]
    book.usage[rows] = 0.1  # no usage moment
    book.contract[rows] = 0  # monthly: no renewal moment
    book.start_month[rows] = 7  # tenure 3 at month 10: the old window, no longer used
    book.onboarded_month[rows] = [9, 8, 7, 10, np.nan, -3]
    z, off = moment_log_odds(sim, rows, month=10, min_tenure=3)
    np.testing.assert_array_equal(z, [2.0, 2.0, -1.5, -1.5, -1.5, -1.5])
    np.testing.assert_array_equal(off, [False, False, True, True, True, True])
    assert expit(2.0) > expit(-1.5)
