"""Unit tests of champion turnover (``simlib/model/champion.py``).

The module's documented rules: each month every account alive loses its champion when its
keyed uniform (stream ``champion``, slot = month) falls below ``monthly_turnover``; its
satisfaction falls by ``satisfaction_drop`` at once (floored at 1e-6) and the odds of churn at
its *next renewal* are multiplied by ``churn_odds_multiplier`` (the renewal desk reads and
clears the flag). A monthly account renews every month; an annual one every 12th, so its flag
can be set by any of the 12 months of its contract year.

Statistical bands are 4 binomial standard errors computed from n and p.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas.testing as pdt
from conftest import run_recorded as _run
from conftest import survived
from scipy.special import expit, logit

import simlib
from simlib.engine import Simulation
from simlib.metrics import account_table
from simlib.rng import keyed_uniform

Z = 4.0


def _band(s: np.ndarray | float, n: int) -> np.ndarray | float:
    return Z * np.sqrt(s * (1 - s) / n) + 1e-12


def _lifetime(sim: Simulation) -> np.ndarray:
    """Months billed per account (to the horizon for accounts still alive)."""
    book = sim.book
    last = np.where(book.alive, sim.horizon - 1, book.end_month)
    return last - book.start_month + 1


def test_champions_leave_at_the_turnover_rate():
    """Over all account-months alive, champion moves are Binomial(account-months, q): the
    total lies within 4 SE of q x account-months (billing counts the accounts alive when
    champions move)."""
    q = 0.05
    sim, _ = _run(
        "textbook",
        [
            "population.initial_accounts=10000",
            "horizon_months=24",
            "champion.enabled=true",
            f"champion.monthly_turnover={q}",
        ],
        seed=1,
    )
    led = sim.ledger
    n = int(led["active_accounts"].sum())
    moves = int(led["champions_lost"].sum())
    assert abs(moves / n - q) <= _band(q, n), (moves / n, q)
    # every month, not just in total
    per_month = led["champions_lost"] / led["active_accounts"]
    assert (np.abs(per_month - q) <= _band(q, led["active_accounts"])).all()


def test_a_move_drops_satisfaction_at_once_and_flags_the_account():
    """Satisfaction drift off, monthly contracts (flags cleared at every renewal, so a month's
    flags are its moves): the accounts flagged in month m are exactly those alive whose
    ``champion`` uniform for m is below q; each of them, and only they, loses 0.3 of
    satisfaction that month, floored at 1e-6; ``champions_lost`` counts them."""
    q, drop = 0.15, 0.3
    sim, rec = _run(
        "textbook",
        [
            "population.initial_accounts=3000",
            "horizon_months=18",
            "satisfaction.fit={alpha: 2, beta: 5}",
            "champion.enabled=true",
            f"champion.monthly_turnover={q}",
            f"champion.satisfaction_drop={drop}",
        ],
        seed=2,
        columns=("satisfaction", "alive", "champion_lost"),
    )
    book, key = sim.book, sim.streams.key("champion")
    floored = 0
    before = book.fit.copy()  # satisfaction starts at fit and only champions move it here
    for m, snap in enumerate(rec.months):
        alive, moved, sat = snap["alive"], snap["champion_lost"], snap["satisfaction"]
        u = keyed_uniform(key, book.key[: alive.size], m)
        np.testing.assert_array_equal(moved, alive & (u < q))
        assert sim.ledger["champions_lost"][m] == moved.sum()
        prev = before[: alive.size]
        expected = np.where(moved, np.maximum(prev - drop, 1e-6), prev)
        np.testing.assert_array_equal(sat, expected)
        floored += int(np.count_nonzero(moved & (prev - drop < 1e-6)))
        before = sat
    assert floored > 100  # the floor was reached, and held


def test_annual_renewal_churn_follows_the_mixed_closed_form():
    """Annual contracts with homogeneous risk p per renewal, beside monthly accounts renewing
    every month: an annual account's flag survives the months between its renewals (other
    accounts' renewals do not clear it), so it meets its renewal with a lost champion with
    probability L = 1 - (1 - q)^12 and churns with r = L x expit(logit p + log m) + (1 - L) x p;
    survival after k renewals is (1 - r)^k (within 4 SE), and no annual account churns between
    renewals. A flag cleared each month (L = q) would be over 40 SE away at the first
    renewal."""
    n, p, q, m = 40_000, 0.2, 0.05, 4.0
    sim, _ = _run(
        "textbook",
        [
            f"population.initial_accounts={n}",
            "horizon_months=49",
            "contracts.annual_share=0.5",
            f"churn.annual.alpha={p * 1e5}",
            f"churn.annual.beta={(1 - p) * 1e5}",
            "champion.enabled=true",
            f"champion.monthly_turnover={q}",
            f"champion.churn_odds_multiplier={m}",
        ],
        seed=3,
    )
    table = account_table(sim)
    acc = table[table["contract"] == "annual"]
    n_annual = len(acc)
    assert abs(n_annual - n / 2) <= Z * np.sqrt(n / 4)
    life = acc.loc[acc["churned"], "lifetime_months"].to_numpy()
    assert life.size > 0 and (life % 12 == 0).all()
    lost = 1 - (1 - q) ** 12
    rate = lost * expit(logit(p) + np.log(m)) + (1 - lost) * p
    k = np.arange(1, 5)
    expected = (1 - rate) ** k
    observed = survived(acc, 12 * k)
    assert np.all(np.abs(observed - expected) <= _band(expected, n_annual)), (observed, expected)
    monthly_flag = 1 - (q * expit(logit(p) + np.log(m)) + (1 - q) * p)
    assert abs(observed[0] - monthly_flag) > 2.5 * _band(monthly_flag, n_annual)


def test_champion_turnover_never_lengthens_an_accounts_life():
    """Common random numbers in b2b_saas (satisfaction linked to churn, no CS so that nothing
    answers low health): a higher turnover moves a superset of champions, so per account
    satisfaction is never higher and every renewal's churn probability never lower, and no
    account lives longer; the same holds for a larger odds multiplier at the same turnover."""
    over = [
        "population.initial_accounts=2000",
        "horizon_months=36",
        "coverage.policy=none",
    ]
    runs = {
        name: _run("b2b_saas_no_offers", [*over, *extra], seed=4)[0]
        for name, extra in {
            "off": ["champion.enabled=false"],
            "low": ["champion.monthly_turnover=0.015"],
            "high": ["champion.monthly_turnover=0.06"],
            "high_odds": ["champion.monthly_turnover=0.06", "champion.churn_odds_multiplier=5"],
        }.items()
    }
    assert len({r.book.n for r in runs.values()}) == 1  # the same accounts arrive
    order = ["off", "low", "high", "high_odds"]
    for a, b in itertools.pairwise(order):
        ra, rb = runs[a], runs[b]
        np.testing.assert_array_equal(ra.book.start_month, rb.book.start_month)
        assert (_lifetime(rb) <= _lifetime(ra)).all(), (a, b)
        assert (_lifetime(rb) < _lifetime(ra)).sum() > 20, (a, b)
        both = ra.book.alive & rb.book.alive
        assert (rb.book.satisfaction[both] <= ra.book.satisfaction[both]).all(), (a, b)
    assert runs["high"].ledger["champions_lost"].sum() > runs["low"].ledger["champions_lost"].sum()


def test_zero_turnover_is_the_same_as_no_champions():
    """A turnover of 0 moves nobody: every table equals the run without the mechanism (same
    seed), except that ``champions_lost`` is recorded (all zeros)."""
    over = ["population.initial_accounts=1500", "horizon_months=24"]
    off = simlib.simulate("b2b_saas_no_offers", seed=5, overrides=[*over, "champion.enabled=false"])
    zero = simlib.simulate("b2b_saas_no_offers", seed=5, overrides=[*over, "champion.monthly_turnover=0"])
    assert (zero.monthly["champions_lost"] == 0).all()
    cols = [c for c in zero.monthly.columns if c != "champions_lost"]
    pdt.assert_frame_equal(zero.monthly[cols], off.monthly[cols], check_exact=True)
    pdt.assert_frame_equal(zero.accounts, off.accounts, check_exact=True)
    pdt.assert_frame_equal(zero.summary, off.summary, check_exact=True)


def test_the_satisfaction_drop_reaches_churn_only_through_the_satisfaction_link():
    """With an odds multiplier of 1, champion moves lower satisfaction but change churn only
    if churn is linked to satisfaction: with ``churn.satisfaction_effect`` 0 every account's
    life is what it is without champions; with 3 some end sooner and none later."""

    def run(champion: bool, effect: float) -> Simulation:
        return _run(
            "textbook",
            [
                "population.initial_accounts=3000",
                "horizon_months=24",
                "satisfaction.enabled=true",
                f"churn.satisfaction_effect={effect}",
                f"champion.enabled={str(champion).lower()}",
                "champion.monthly_turnover=0.1",
                "champion.satisfaction_drop=0.3",
                "champion.churn_odds_multiplier=1",
            ],
            seed=6,
        )[0]

    for effect in (0.0, 3.0):
        off, on = run(False, effect), run(True, effect)
        assert on.ledger["champions_lost"].sum() > 1000
        both = on.book.alive & off.book.alive
        assert (on.book.satisfaction[both] <= off.book.satisfaction[both]).all()
        assert on.ledger["mean_satisfaction"][-1] < off.ledger["mean_satisfaction"][-1] - 0.01
        shorter = _lifetime(on) < _lifetime(off)
        assert (_lifetime(on) <= _lifetime(off)).all()
        if effect == 0:
            assert not shorter.any()
        else:
            assert shorter.sum() > 50
