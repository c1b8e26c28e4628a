"""Unit tests of usage relative to the plan limit (``simlib/model/usage.py``).

The module's documented rules: a new account starts at a keyed draw (stream ``usage_init``) of
Beta ``segments.X.usage`` (or ``usage.initial``); each month, every account alive moves as
``usage <- usage x exp(growth + satisfaction_effect x (satisfaction - fit) + volatility x
N(0, 1))`` (stream ``usage``), kept within [0.01, 3]; ``usage_prev`` keeps last month's value;
an upgrade divides usage by (new plan limit / old plan limit); the actor runs only when some
offer kind is on (here an upsell with ``monthly_rate`` 0 switches it on and offers nothing).

Months are counted as the engine runs them: an account's first step is taken in the month it
arrives, so after month m an opening account has taken m + 1 steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_recorded as _run
from scipy.special import expit, logit, ndtri
from scipy.stats import beta as beta_dist

import simlib
from simlib.engine import Simulation
from simlib.model.usage import MAX_USAGE, MIN_USAGE
from simlib.rng import keyed_uniform

Z = 4.0
NO_CHURN = ["churn.monthly.alpha=0.001", "churn.monthly.beta=1000000"]
#: switches the usage actor on without making any offer
USAGE_ON = ["offers.kinds.upsell.enabled=true", "offers.kinds.upsell.monthly_rate=0"]


def test_starting_usage_is_the_segment_beta_quantile_of_a_keyed_uniform():
    """An smb account starts at F^-1(u) of its segment's Beta(5, 2), the others at
    ``usage.initial`` Beta(2, 8), with u the account's ``usage_init`` uniform; its first step
    is exp(growth + volatility x z) with z the ``usage`` normal of month 0 (satisfaction is
    still at fit). Quantiles are compared through the CDF: |F(x) - u| <= 1e-5 (the accuracy
    promised by simlib.distributions), and a draw below 0.01 is kept at 0.01."""
    scenario = simlib.load_scenario(
        "b2b_saas_no_offers",
        [
            "population.initial_accounts=4000",
            "population.segments.smb.usage={alpha: 5, beta: 2}",
            "usage.initial={alpha: 2, beta: 8}",
            "usage.growth_per_month=0.03",
            "usage.volatility=0.1",
            *USAGE_ON,
        ],
    )
    sim = Simulation(scenario, seed=1)
    sim.actor("population").open_month(0)
    sim.actor("usage").open_month(0)
    book = sim.book
    u = keyed_uniform(sim.streams.key("usage_init"), book.key, 0)
    smb = book.segment == sim.segments.index("smb")
    a = np.where(smb, 5.0, 2.0)
    b = np.where(smb, 2.0, 8.0)
    start = book.usage_prev
    assert ((start >= MIN_USAGE) & (start <= MAX_USAGE)).all()
    floor = start == MIN_USAGE
    assert 0 < floor.sum() < 50  # Beta(2, 8) puts 0.4 % below 0.01
    assert np.abs(beta_dist.cdf(start, a, b) - u)[~floor].max() <= 1e-5
    assert (u[floor] <= beta_dist.cdf(MIN_USAGE, a[floor], b[floor]) + 1e-5).all()
    assert start[smb].mean() > 0.6 > 0.3 > start[~smb].mean()  # 5/7 and 2/10
    z = ndtri(keyed_uniform(sim.streams.key("usage"), book.key, 0))
    first = np.clip(start * np.exp(0.03 + 0.1 * z), MIN_USAGE, MAX_USAGE)
    np.testing.assert_allclose(book.usage, first, rtol=1e-12)
    assert sim.ledger["mean_usage"][0] == pytest.approx(book.usage.mean(), rel=1e-12)


def test_log_usage_is_a_gaussian_random_walk():
    """With satisfaction at fit and no clipping, log(usage after month m / start) is a sum of
    m + 1 independent N(growth, volatility^2) steps: over H months its mean is H x growth and
    its variance H x volatility^2, checked within 4 SE (var / n for the mean, var x sqrt(2 /
    (n - 1)) for the variance). H - 1 steps would miss the mean by over 14 SE."""
    n, h, g, s = 5000, 24, 0.05, 0.05
    sim, rec = _run(
        "textbook",
        [
            f"population.initial_accounts={n}",
            f"horizon_months={h}",
            *NO_CHURN,
            "usage.initial={alpha: 200, beta: 800}",
            f"usage.growth_per_month={g}",
            f"usage.volatility={s}",
            *USAGE_ON,
        ],
        seed=2,
        columns=("usage_prev",),
    )
    book = sim.book
    assert book.alive.all() and book.n == n
    x = np.log(book.usage / rec.months[0]["usage_prev"])
    mean, var = g * h, s * s * h
    assert book.usage.max() < MAX_USAGE  # nothing was clipped
    assert abs(x.mean() - mean) <= Z * np.sqrt(var / n), (x.mean(), mean)
    assert abs(x.var(ddof=1) - var) <= Z * var * np.sqrt(2 / (n - 1)), (x.var(), var)
    assert abs(x.mean() - g * (h - 1)) > 3 * Z * np.sqrt(var / n)


def test_usage_follows_satisfaction_above_fit_exactly():
    """No noise: satisfaction follows its deterministic drift toward fit + 0.2 (z <- (1 - k) z
    + k logit(fit + 0.2)) and usage multiplies by exp(growth + effect x (satisfaction - fit))
    each month, satisfaction taken after that month's drift. Recomputed per account and month."""
    k, uplift, g, effect, h = 0.3, 0.2, 0.01, 0.8, 18
    sim, rec = _run(
        "textbook",
        [
            "population.initial_accounts=2000",
            f"horizon_months={h}",
            *NO_CHURN,
            "satisfaction.enabled=true",
            "satisfaction.volatility=0",
            f"satisfaction.reversion={k}",
            f"satisfaction.uplift={uplift}",
            f"usage.growth_per_month={g}",
            f"usage.satisfaction_effect={effect}",
            "usage.volatility=0",
            *USAGE_ON,
        ],
        seed=3,
        columns=("usage", "usage_prev", "satisfaction"),
    )
    fit = sim.book.fit.copy()
    level = logit(np.clip(fit + uplift, 1e-3, 1 - 1e-3))
    sat = fit.copy()
    usage = rec.months[0]["usage_prev"].copy()
    for m in range(h):
        z = (1 - k) * logit(sat) + k * level
        sat = np.clip(expit(z), 1e-6, 1 - 1e-6)
        usage = np.clip(usage * np.exp(g + effect * (sat - fit)), MIN_USAGE, MAX_USAGE)
        np.testing.assert_allclose(rec.months[m]["satisfaction"], sat, rtol=1e-12)
        np.testing.assert_allclose(rec.months[m]["usage"], usage, rtol=1e-10)
    # satisfaction above fit made usage grow faster than growth alone
    alone = rec.months[0]["usage_prev"] * np.exp(g * h)
    assert (sim.book.usage > alone).all()
    assert np.median(sim.book.usage / alone) > np.exp(0.5 * effect * uplift * h / 2)


def test_usage_stays_in_bounds_and_remembers_last_month():
    """Wild noise (volatility 1.5) with churn and arrivals: usage of every account alive lies
    in [0.01, 3] and reaches both bounds; ``usage_prev`` is last month's usage (the starting
    draw for a new account); churned accounts keep their last usage; ``mean_usage`` is the
    mean over accounts alive."""
    sim, rec = _run(
        "textbook",
        [
            "population.initial_accounts=2000",
            "horizon_months=18",
            "acquisition.new_accounts_per_month=30",
            "satisfaction.enabled=true",
            "usage.volatility=1.5",
            *USAGE_ON,
        ],
        seed=4,
        columns=("usage", "usage_prev", "alive", "start_month"),
    )
    at_min = at_max = 0
    for m, snap in enumerate(rec.months):
        alive, usage, prev = snap["alive"], snap["usage"], snap["usage_prev"]
        assert ((usage[alive] >= MIN_USAGE) & (usage[alive] <= MAX_USAGE)).all(), m
        at_min += int(np.count_nonzero(usage[alive] == MIN_USAGE))
        at_max += int(np.count_nonzero(usage[alive] == MAX_USAGE))
        assert sim.ledger["mean_usage"][m] == float(usage[alive].mean()), m
        if m == 0:
            continue
        before = rec.months[m - 1]
        old = np.arange(before["usage"].size)
        stay = old[alive[old]]
        np.testing.assert_array_equal(prev[stay], before["usage"][stay])
        gone = old[~alive[old]]
        np.testing.assert_array_equal(usage[gone], before["usage"][gone])
        new = np.flatnonzero(snap["start_month"] == m)
        assert new.size > 0
        assert ((prev[new] > 0) & (prev[new] < 1)).all()  # a Beta draw, not a carried value
    assert at_min > 100 and at_max > 100
    assert (~rec.months[-1]["alive"]).sum() > 500


def test_faster_growth_never_lowers_any_accounts_usage():
    """Common random numbers: with the same seed, the same account draws the same noise and
    has the same satisfaction whatever the growth, so in every month each account's usage with
    growth 0.03 is at least its usage with growth 0, and above it unless clipped at 3."""
    base = [
        "population.initial_accounts=2000",
        "horizon_months=18",
        "acquisition.new_accounts_per_month=20",
        "satisfaction.enabled=true",
        "usage.volatility=0.3",
        *USAGE_ON,
    ]
    cols = ("usage", "alive")
    slow, r_slow = _run("textbook", [*base, "usage.growth_per_month=0"], 5, cols)
    fast, r_fast = _run("textbook", [*base, "usage.growth_per_month=0.03"], 5, cols)
    assert slow.book.n == fast.book.n
    np.testing.assert_array_equal(slow.book.end_month, fast.book.end_month)
    for lo, hi in zip(r_slow.months, r_fast.months, strict=True):
        alive = lo["alive"]
        np.testing.assert_array_equal(alive, hi["alive"])
        assert (hi["usage"][alive] >= lo["usage"][alive]).all()
        free = alive & (hi["usage"] < MAX_USAGE) & (lo["usage"] > MIN_USAGE)
        assert (hi["usage"][free] > lo["usage"][free]).all()
    assert (fast.ledger["mean_usage"] > slow.ledger["mean_usage"]).all()


def test_an_upgrade_divides_usage_by_the_ratio_of_plan_limits():
    """Upsells bought at once (no gates), satisfaction link and noise off: in a month an
    account upgrades from plan a to plan b, its usage is usage_prev x exp(growth) x limit(a) /
    limit(b) (limits 100, 250 and 1000 for smb); every other account alive has usage_prev x
    exp(growth)."""
    g = 0.04
    sim, rec = _run(
        "b2b_no_friction",
        [
            "population.initial_accounts=2000",
            "horizon_months=18",
            "coverage.policy=none",
            "offers.kinds.cross_sell.enabled=false",
            "offers.kinds.upsell.monthly_rate=0.3",
            "population.segments.smb.plan_limits={starter: 100, team: 250, business: 1000}",
            f"usage.growth_per_month={g}",
            "usage.satisfaction_effect=0",
            "usage.volatility=0",
        ],
        seed=6,
        columns=("usage", "usage_prev", "alive", "plan", "segment"),
    )
    deals = sim.actor("offers").deal_table()
    offers = sim.actor("offers")
    upgraded = 0
    for m, snap in enumerate(rec.months):
        alive = np.flatnonzero(snap["alive"])
        ratio = np.ones(snap["usage"].size)
        rows = deals.loc[(deals["accept_month"] == m) & (deals["kind"] == "upsell"), "row"]
        rows = rows.to_numpy(dtype=np.intp)
        if rows.size:
            seg, plan = snap["segment"][rows], snap["plan"][rows]  # plan changes next month
            ratio[rows] = offers.limits[seg, plan] / offers.limits[seg, plan + 1]
            upgraded += rows.size
        grown = np.clip(snap["usage_prev"][alive] * np.exp(g), MIN_USAGE, MAX_USAGE)
        expected = np.maximum(grown * ratio[alive], 0.01)
        np.testing.assert_allclose(snap["usage"][alive], expected, rtol=1e-12)
    assert upgraded > 100
    assert {0.4, 0.25} <= set(np.round(offers.limits[0, :2] / offers.limits[0, 1:3], 12))


def test_usage_runs_only_when_an_offer_kind_is_on_and_changes_no_fate():
    """Without offers there is no usage actor, column or monthly figure; with one (offering
    nothing) usage is tracked and every account's life is what it was."""
    over = ["population.initial_accounts=1500", "horizon_months=24"]
    off = Simulation(simlib.load_scenario("b2b_saas_no_offers", over), seed=7).run()
    on = Simulation(simlib.load_scenario("b2b_saas_no_offers", [*over, *USAGE_ON]), seed=7).run()
    assert off.actor("usage") is None and on.actor("usage") is not None
    assert "usage" not in off.book.columns and "mean_usage" not in off.ledger.columns
    assert (on.book.usage[on.book.alive] > 0).all()
    assert (on.ledger["mean_usage"] > 0).all()
    np.testing.assert_array_equal(on.book.end_month, off.book.end_month)
    np.testing.assert_array_equal(on.book.revenue, off.book.revenue)
