"""Unit tests of the B2B approval chain (``simlib/model/approval.py``).

The module's documented rules: a chain has ``approvers[segment] + floor(max(delta, 0) /
price_step)`` approvers, at most ``max_approvers``; each approver takes a delay (exponential
with mean ``delay_days`` days, or exactly that) and rejects with ``rejection`` (strong reason) or
``rejection_no_reason``; the draws are keyed by (account, month x 32 + approver); a chain is
decided at its start plus the delays up to the approver who rejects (or the last), and the deal
desk decides everything due in a month in (time, priority, scheduling) order.

Statistical bands are 4 standard errors of the quantity estimated, computed from n and p.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas.testing as pdt
import pytest

import simlib
from simlib.engine import Simulation
from simlib.metrics import account_table, monthly_table
from simlib.model.approval import (
    DAYS_PER_MONTH,
    SLOTS_PER_MONTH,
    DealBook,
    decision_times,
    draw_chains,
)

Z = 4.0
SMALL = ["population.initial_accounts=1500", "horizon_months=24", "coverage.policy=none"]


def _opened(overrides: list[str], seed: int = 0, accounts: int = 20_000) -> Simulation:
    """``b2b_approval_friction`` with its opening book created (month 0), not run."""
    scenario = simlib.load_scenario(
        "b2b_approval_friction",
        [
            f"population.initial_accounts={accounts}",
            "horizon_months=12",
            "acquisition.new_accounts_per_month=0",
            *overrides,
        ],
    )
    sim = Simulation(scenario, seed=seed)
    sim.actor("population").open_month(0)
    return sim


def _binomial_band(p: float, n: int) -> float:
    return Z * np.sqrt(p * (1 - p) / n) + 1e-12


def test_approver_count_follows_the_closed_form():
    """count = min(approvers[segment] + floor(max(delta, 0) / price_step), max_approvers), and
    fixed delays are exactly delay_days / (365 / 12) months each."""
    sim = _opened(
        [
            "approval.approvers={smb: 0, mid_market: 2}",
            "approval.default_approvers=5",
            "approval.price_step=1000",
            "approval.max_approvers=6",
            "approval.delay_distribution=fixed",
            "approval.delay_days=9",
        ],
        accounts=300,
    )
    seg = sim.book.segment
    first = [int(np.flatnonzero(seg == s)[0]) for s in range(3)]  # smb, mid_market, enterprise
    deltas = np.array([-500.0, 0.0, 999.99, 1000.0, 2500.0, 3999.0, 1e6])
    rows = np.repeat(first, deltas.size)
    delta = np.tile(deltas, len(first))
    count, delays, _ = draw_chains(sim, rows, delta, np.zeros(rows.size, bool), month=2)
    base = np.array([0, 2, 5])[seg[rows]]  # enterprise is not named: default_approvers
    expected = np.minimum(base + np.floor(np.maximum(delta, 0) / 1000.0), 6)
    np.testing.assert_array_equal(count, expected)
    # e.g. smb with +2,500 a month: two approvers; enterprise with +999.99: five
    assert count[4] == 2 and count[2 * deltas.size + 2] == 5
    assert delays.shape == (rows.size, 6)
    assert (delays == 9 / DAYS_PER_MONTH).all()
    assert DAYS_PER_MONTH == 365 / 12


def test_decision_time_sums_the_delays_up_to_the_rejecting_approver():
    """Time = start + (d_0 + ... + d_last), last = the rejecting approver or the last one;
    priority 0 only for a chain without approvers (decided at its start)."""
    delays = np.array(
        [
            [0.0, 0.0, 0.0],  # no approver
            [0.1, 0.5, 0.9],  # one approver, approves
            [0.1, 0.2, 0.7],  # three, all approve
            [0.3, 0.4, 5.0],  # three, the second rejects: the third never acts
            [0.25, 9.0, 9.0],  # two, the first rejects
        ]
    )
    count = np.array([0, 1, 3, 3, 2])
    reject = np.array([-1, -1, -1, 1, 0])
    times, priority = decision_times(7, count, delays, reject)
    expected = [7.0, 7.0 + 0.1, 7.0 + ((0.1 + 0.2) + 0.7), 7.0 + (0.3 + 0.4), 7.0 + 0.25]
    assert times.tolist() == expected  # added left to right, then to the start: exactly
    assert priority.tolist() == [0, 1, 1, 1, 1]


def test_rejection_follows_the_geometric_law_per_approver():
    """With n approvers each rejecting independently with p, the first rejecting approver is j
    with probability (1 - p)^j p and nobody rejects with (1 - p)^n; p is ``rejection`` for a
    strong reason and ``rejection_no_reason`` otherwise. Checked per outcome within 4 SE."""
    n_approvers, p_strong, p_none = 3, 0.1, 0.4
    sim = _opened(
        [
            f"approval.approvers={{smb: {n_approvers}, mid_market: {n_approvers}}}",
            f"approval.default_approvers={n_approvers}",
            f"approval.rejection={p_strong}",
            f"approval.rejection_no_reason={p_none}",
        ]
    )
    rows = np.arange(sim.book.n)
    strong = rows % 2 == 0
    count, _, first = draw_chains(sim, rows, np.zeros(rows.size), strong, month=5)
    assert (count == n_approvers).all()
    assert (first < count).all()
    for mask, p in ((strong, p_strong), (~strong, p_none)):
        n = int(mask.sum())
        outcome = first[mask]
        probs = [(1 - p) ** j * p for j in range(n_approvers)] + [(1 - p) ** n_approvers]
        for j, pj in zip([0, 1, 2, -1], probs, strict=True):
            share = float(np.mean(outcome == j))
            assert abs(share - pj) <= _binomial_band(pj, n), (p, j, share, pj)


def test_exponential_delays_have_the_documented_mean_and_variance():
    """Each approver's delay is exponential with mean mu = delay_days / (365 / 12) months:
    sample mean within 4 mu / sqrt(n), sample variance mu^2 within 4 mu^2 sqrt(8 / n)
    (the variance of an exponential's sample variance is (mu_4 - sigma^4) / n = 8 mu^4 / n)."""
    days = 10.0
    sim = _opened(
        ["approval.default_approvers=3", "approval.approvers={}", f"approval.delay_days={days}"]
    )
    rows = np.arange(sim.book.n)
    count, delays, _ = draw_chains(sim, rows, np.zeros(rows.size), np.ones(rows.size, bool), 0)
    assert (count == 3).all()
    mu, n = days / DAYS_PER_MONTH, rows.size
    for j in range(3):
        d = delays[:, j]
        assert (d > 0).all()
        assert abs(d.mean() - mu) <= Z * mu / np.sqrt(n), (j, d.mean(), mu)
        assert abs(d.var(ddof=1) - mu**2) <= Z * mu**2 * np.sqrt(8 / n), (j, d.var(), mu**2)
    # approvers are independent: neighbouring delays are uncorrelated (sd of r is 1 / sqrt(n))
    r = np.corrcoef(delays[:, 0], delays[:, 1])[0, 1]
    assert abs(r) <= Z / np.sqrt(n)


def test_chain_draws_are_common_random_numbers_of_account_month_and_approver():
    """Keyed draws: a longer chain keeps the shorter chain's approvers (same delays, same
    rejections); a higher rejection probability never approves a chain a lower one rejects and
    never moves the rejection later; the draws do not depend on the order of the rows; another
    month gives other draws (slot = month x 32 + approver)."""
    common = ["approval.approvers={}", "approval.default_approvers=2", "approval.price_step=1000"]
    low = _opened([*common, "approval.rejection=0.1", "approval.rejection_no_reason=0.3"])
    high = _opened([*common, "approval.rejection=0.2", "approval.rejection_no_reason=0.5"])
    rows = np.arange(low.book.n)
    strong = rows % 3 == 0
    short = np.zeros(rows.size)  # 2 approvers
    long = np.full(rows.size, 3500.0)  # 5 approvers
    c_s, d_s, f_s = draw_chains(low, rows, short, strong, 4)
    c_l, d_l, f_l = draw_chains(low, rows, long, strong, 4)
    assert (c_s == 2).all() and (c_l == 5).all()
    np.testing.assert_array_equal(d_l[:, :2], d_s)
    rejected_short = f_s >= 0
    np.testing.assert_array_equal(f_l[rejected_short], f_s[rejected_short])
    assert ((f_l[~rejected_short] == -1) | (f_l[~rejected_short] >= 2)).all()
    assert (f_l >= 0).sum() > rejected_short.sum()  # more approvers, more rejections

    _, d_h, f_h = draw_chains(high, rows, long, strong, 4)
    np.testing.assert_array_equal(d_h, d_l)  # delays do not depend on rejection rates
    lo_rej = f_l >= 0
    assert (f_h[lo_rej] >= 0).all() and (f_h[lo_rej] <= f_l[lo_rej]).all()
    assert (f_h >= 0).sum() > lo_rej.sum()

    perm = np.random.default_rng(0).permutation(rows.size)
    c_p, d_p, f_p = draw_chains(low, rows[perm], long[perm], strong[perm], 4)
    np.testing.assert_array_equal(c_p, c_l[perm])
    np.testing.assert_array_equal(d_p, d_l[perm])
    np.testing.assert_array_equal(f_p, f_l[perm])

    _, d_next, _ = draw_chains(low, rows, long, strong, 5)
    assert not np.isin(d_next[:, 0], d_l).any()
    # the slot of approver j in month m is m x 32 + j: month 4's approver 1 is slot 129
    u = low.streams.uniform("approval_delay", low.book.key[rows], 4 * SLOTS_PER_MONTH + 1)
    np.testing.assert_allclose(d_l[:, 1], -10.0 / DAYS_PER_MONTH * np.log(u), rtol=1e-15)


def test_deals_in_a_run_follow_the_chain_rules():
    """A full run with fixed delays of mu months and no budget gate: every gated deal has the
    closed-form approver count; a decided chain ends k x mu after acceptance with k = approvers
    when approved and 1 <= k <= approvers when rejected; an approved deal lands in the billing
    month after its decision; a chain still pending would end at or beyond the horizon; the
    monthly approval counts add up to the deal table; an account has one deal open at a time."""
    days = 20.0
    sim = Simulation(
        simlib.load_scenario(
            "b2b_approval_friction",
            [
                *SMALL,
                "budget.enabled=false",
                "approval.delay_distribution=fixed",
                f"approval.delay_days={days}",
            ],
        ),
        seed=3,
    ).run()
    deals = sim.actor("offers").deal_table()
    assert deals["gated"].all() and len(deals) > 300
    mu = days / DAYS_PER_MONTH
    base = np.array([1, 2, 3])[deals["segment"].to_numpy()]  # smb 1, mid_market 2, enterprise 3
    expected = np.minimum(base + np.floor(deals["delta"].clip(lower=0) / 2000.0), 6)
    np.testing.assert_array_equal(deals["approvers"], expected)

    status = deals["status"]
    assert set(status) <= {"landed", "beyond_horizon", "rejected", "pending", "lost_churned"}
    steps = (deals["decided"] - deals["accept_month"]) / mu
    approved = status.isin(["landed", "beyond_horizon"])
    np.testing.assert_allclose(steps[approved], deals.loc[approved, "approvers"], atol=1e-9)
    rej = status == "rejected"
    k = steps[rej].round()
    np.testing.assert_allclose(steps[rej], k, atol=1e-9)
    assert ((k >= 1) & (k <= deals.loc[rej, "approvers"])).all()
    assert rej.sum() > 50 and (k < deals.loc[rej, "approvers"]).any()
    landed = deals[approved]
    np.testing.assert_array_equal(
        landed["effective_month"], np.floor(landed["decided"]).astype(int) + 1
    )
    assert ((status == "beyond_horizon") == (approved & (deals["effective_month"] >= 24))).all()
    pending = deals[status == "pending"]
    assert pending["decided"].isna().all()
    assert (pending["accept_month"] + pending["approvers"] * mu >= sim.horizon).all()

    ledger = sim.ledger
    assert ledger["approvals_approved"].sum() == approved.sum()
    assert ledger["approvals_rejected"].sum() == rej.sum()
    decided = deals.dropna(subset=["decided"]).sort_values(["row", "accept_month"])
    for _, group in decided.groupby("row"):
        acc, dec = group["accept_month"].to_numpy(), group["decided"].to_numpy()
        assert (acc[1:] > dec[:-1]).all()


def test_a_chain_without_approvers_is_the_same_as_no_approval_gate():
    """Zero approvers: every deal is decided the moment it is accepted (priority 0) and lands
    at the next billing month, so the run equals the same offers bought at once (common random
    numbers: identical accounts; monthly flows equal up to the order of float sums)."""
    common = [*SMALL, "budget.enabled=false"]
    zero_approvers = [
        "approval.approvers={}",
        "approval.default_approvers=0",
        "approval.price_step=1e9",
    ]
    zero = Simulation(
        simlib.load_scenario("b2b_approval_friction", [*common, *zero_approvers]), seed=4
    ).run()
    deals = zero.actor("offers").deal_table()
    assert deals["gated"].all() and len(deals) > 300
    assert (deals["approvers"] == 0).all()
    assert (deals["decided"] == deals["accept_month"]).all()
    assert (deals["effective_month"] == deals["accept_month"] + 1).all()
    assert set(deals["status"]) <= {"landed", "beyond_horizon"}
    assert zero.ledger["approvals_approved"].sum() == 0

    open_ = Simulation(
        simlib.load_scenario("b2b_approval_friction", [*common, "approval.enabled=false"]),
        seed=4,
    ).run()
    assert not open_.actor("offers").deal_table()["gated"].any()
    pdt.assert_frame_equal(account_table(zero), account_table(open_), check_exact=True)
    pdt.assert_frame_equal(monthly_table(zero), monthly_table(open_), check_exact=False, rtol=1e-12)


def test_deal_book_pops_decisions_in_time_then_priority_then_scheduling_order():
    """``DealBook.schedule`` files decisions by month (floor of the time) and drops those at or
    beyond the horizon; ``pop_due`` returns a month's decisions ordered by time, then priority
    (0 first), then scheduling order, as simpy would process the events."""
    book = DealBook(horizon=6)
    book.add(row=np.arange(7), delta=np.ones(7))
    book.schedule(np.array([0, 1, 2]), np.array([2.5, 2.25, 6.0]), priority=1)
    book.schedule(np.array([3, 4]), np.array([2.5, 2.0]), priority=np.array([0, 0], np.int8))
    book.schedule(np.array([5]), np.array([2.25]), wake=True)
    book.schedule(np.array([6]), np.array([3.0]))
    assert sorted(book.due) == [2, 3]  # 6.0 is at the horizon: it never comes
    deals, times, wake = book.pop_due(2)
    assert deals.tolist() == [4, 1, 5, 3, 0]
    assert times.tolist() == [2.0, 2.25, 2.25, 2.5, 2.5]
    assert wake.tolist() == [False, False, True, False, False]
    assert book.pop_due(2)[0].size == 0  # popped once
    assert book.pop_due(3)[0].tolist() == [6]
    assert book.n == 7 and book["row"].tolist() == list(range(7))


@pytest.mark.parametrize("distribution", ["fixed", "exponential"])
def test_more_approvers_never_decide_a_chain_sooner(distribution):
    """Per account (common random numbers), adding approvers (a smaller price step) never
    makes an approved chain end sooner, and never approves a chain the shorter one rejected."""
    common = [
        "approval.approvers={}",
        "approval.default_approvers=1",
        f"approval.delay_distribution={distribution}",
    ]
    month = 3
    chains = []
    for step in (1e9, 2000.0, 500.0):  # 1, 2 and 6 approvers
        sim = _opened([*common, f"approval.price_step={step}"])
        rows = np.arange(sim.book.n)
        delta = np.full(rows.size, 2500.0)
        strong = rows % 2 == 1
        count, delays, first = draw_chains(sim, rows, delta, strong, month)
        times, _ = decision_times(month, count, delays, first)
        chains.append((count, times, first))
    for (c_a, t_a, f_a), (c_b, t_b, f_b) in itertools.pairwise(chains):
        assert (c_b > c_a).all()
        ok_a, ok_b = f_a < 0, f_b < 0
        assert not (ok_b & ~ok_a).any()
        assert (t_b[ok_a & ok_b] >= t_a[ok_a & ok_b]).all()
        if distribution == "fixed":
            assert (t_b[ok_b] - t_a[ok_b] > 0).all()
