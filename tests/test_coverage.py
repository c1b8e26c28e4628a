"""CS coverage: tiers, the CSM team as a capacity, touches, alerts and costs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import simlib
from simlib.engine import Simulation
from simlib.errors import ScenarioError
from simlib.experiment import run_replication
from simlib.model.coverage import WEEK, kernels

SMALL = ["population.initial_accounts=1500", "horizon_months=24"]


def test_coverage_none_changes_nothing_and_costs_nothing():
    core = simlib.simulate(
        "b2b_saas_no_offers", seed=2, overrides=[*SMALL, "coverage.policy=none", "coverage.csm.count=0"]
    )
    none = simlib.simulate("coverage_none", seed=2, overrides=SMALL)
    none.monthly["scenario"] = core.monthly["scenario"]
    pdt.assert_frame_equal(core.monthly, none.monthly, check_exact=True)
    assert (none.monthly["cs_cost"] == 0).all()
    assert (none.accounts["tier"] == "none").all()


def test_presets_differ_only_in_coverage():
    base = simlib.load_scenario("b2b_saas_no_offers").model_dump()
    for name in ("coverage_none", "coverage_uniform", "coverage_tiered"):
        other = simlib.load_scenario(name).model_dump()
        diff = {k for k in base if base[k] != other[k]}
        assert diff <= {"name", "description", "coverage"}, (name, diff)


def test_tiered_policy_puts_the_biggest_accounts_high_touch():
    res = simlib.simulate("coverage_tiered", seed=3, overrides=SMALL)
    acc = res.accounts[res.accounts["initial_tier"] >= 0]
    by_tier = acc.groupby("tier", observed=True)["initial_mrr"].median()
    assert by_tier["high"] > by_tier["low"] > by_tier["tech"]
    assert (acc["tier"] != "none").all()
    m = res.monthly
    assert m["touches_done"].sum() > 0 and m["tech_touches"].sum() > 0
    assert m["alerts_raised"].sum() >= m["alerts_served"].sum() > 0
    # CS cost: salaries plus tech-touch tooling, every month
    salaries = 12 * 9000
    assert (m["cs_cost"] >= salaries).all()
    s = res.summary.iloc[0]
    assert s["net_value"] == pytest.approx(0.78 * s["revenue"] - s["cs_cost"] - s["offer_cost"])


def test_arr_thresholds_and_yaml_rules():
    th = simlib.simulate(
        "b2b_saas_no_offers",
        seed=4,
        overrides=[
            *SMALL,
            "coverage.policy=tiered_by_arr",
            "coverage.thresholds.high=100000",
            "coverage.thresholds.low=10000",
            "coverage.csm.count=500",
        ],
    )
    acc = th.accounts[th.accounts["start_month"] == 0]
    arr = 12 * acc["initial_mrr"]
    assert (acc.loc[arr >= 100000, "initial_tier"] == 3).all()
    assert (acc.loc[arr < 10000, "initial_tier"] == 1).all()
    rules = simlib.simulate(
        "b2b_saas_no_offers",
        seed=4,
        overrides=[
            *SMALL,
            "coverage.policy=rules",
            "coverage.rules=[{tier: high, segments: [enterprise]}, {tier: low, min_arr: 20000},"
            " {tier: tech}]",
            "coverage.csm.count=500",
        ],
    )
    acc = rules.accounts[rules.accounts["start_month"] == 0]
    assert (acc.loc[acc["segment"] == "enterprise", "initial_tier"] == 3).all()
    rest = acc[acc["segment"] != "enterprise"]
    assert (rest.loc[12 * rest["initial_mrr"] >= 20000, "initial_tier"] == 2).all()
    assert (rest.loc[12 * rest["initial_mrr"] < 20000, "initial_tier"] == 1).all()


def test_scarce_hours_saturate_the_team_and_skip_touches():
    scarce = simlib.simulate(
        "coverage_tiered", seed=5, overrides=[*SMALL, "coverage.csm.hours_per_week=2"]
    )
    m = scarce.monthly.iloc[2:]
    # saturated: hours are used up every week; months differ by how many weekly plans fall in
    # them and by alert work carried into the next week, so each month is only near 100 %
    assert m["csm_utilization"].mean() >= 0.97
    assert m["csm_utilization"].min() >= 0.85
    assert m["touches_skipped"].sum() > 0
    ample = simlib.simulate(
        "coverage_tiered",
        seed=5,
        overrides=[*SMALL, "coverage.csm.count=60", "coverage.csm.hours_per_week=40"],
    )
    assert ample.monthly["touches_skipped"].sum() == 0
    assert ample.monthly["csm_utilization"].max() < 0.9
    assert ample.monthly["touches_done"].sum() > scarce.monthly["touches_done"].sum()


def test_more_csms_never_lower_mean_satisfaction():
    # churn unaffected by CS here (no satisfaction link, no saves), so survivors are the same
    base = [*SMALL, "churn.satisfaction_effect=0", "coverage.alerts.save_probability=0"]
    means = []
    for count in (2, 6, 18, 54):
        res = simlib.simulate(
            "coverage_tiered", seed=6, overrides=[*base, f"coverage.csm.count={count}"]
        )
        means.append(res.monthly["mean_satisfaction"].mean())
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(means)), means
    assert means[-1] > means[0]


def test_coverage_with_a_churn_link_retains_more_accounts():
    none = simlib.simulate("coverage_none", seed=7, replications=2, overrides=SMALL)
    tiered = simlib.simulate("coverage_tiered", seed=7, replications=2, overrides=SMALL)
    assert tiered.summary["logo_churn_monthly"].mean() < none.summary["logo_churn_monthly"].mean()
    assert tiered.monthly["saves"].sum() > 0


def _erlang_c(c: int, a: float) -> float:
    """Erlang's C formula: probability that an arrival waits in an M/M/c queue, load a < c."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def _queue_run(seed: int, c: int, lam: float, hours: float, weekly: float, reps: int):
    scenario = simlib.load_scenario(
        "textbook",
        [
            "population.initial_accounts=10",
            "horizon_months=60",
            f"coverage.csm.count={c}",
            f"coverage.csm.hours_per_week={weekly}",
            f"coverage.requests.per_month={lam}",
            f"coverage.requests.hours={hours}",
            "coverage.requests.distribution=exponential",
        ],
    )
    out = []
    for r in range(reps):
        sim = Simulation(scenario, seed=seed, replication=r).run()
        out.append(sim.actor("coverage").team.queue_statistics(until=sim.horizon))
    return out


@pytest.mark.slow
def test_csm_pool_agrees_with_erlang_c():
    c, lam, hours, weekly, reps = 3, 200.0, 2.0, 40.0, 10
    mu = (weekly / WEEK) / hours  # jobs per CSM per month
    a = lam / mu
    p_wait = _erlang_c(c, a)
    w_q = p_wait / (c * mu - lam)  # months
    stats = _queue_run(11, c, lam, hours, weekly, reps)
    waited = np.array([s["share_waited"] for s in stats])
    waits = np.array([s["mean_wait"] for s in stats])
    # tolerance: 4 standard errors of the mean across independent replications
    assert abs(waited.mean() - p_wait) <= 4 * waited.std(ddof=1) / np.sqrt(reps), (waited, p_wait)
    assert abs(waits.mean() - w_q) <= 4 * waits.std(ddof=1) / np.sqrt(reps), (waits, w_q)
    # and it is not the single-server answer (the pooling is real)
    assert abs(waits.mean() - w_q) < abs(waits.mean() - lam / (c * mu) / (c * mu - lam))


def test_littles_law_on_the_alert_queue():
    scenario = simlib.load_scenario(
        "coverage_tiered", [*SMALL, "coverage.csm.count=3", "coverage.alerts.threshold=0.5"]
    )
    sim = Simulation(scenario, seed=8).run()
    grid = 10_000  # observations a month
    stats = sim.actor("coverage").team.queue_statistics(until=sim.horizon, grid=grid)
    assert stats["arrivals"] > 100
    assert stats["mean_queue_length"] > 0
    # counting on a grid misplaces each job's wait by less than one grid step, so the two
    # sides of L = lambda W differ by at most lambda / grid
    little = stats["arrival_rate"] * stats["mean_wait"]
    assert abs(stats["mean_queue_length"] - little) <= stats["arrival_rate"] / grid


def test_monthly_coverage_columns_and_account_columns_are_reported():
    monthly, accounts, summary, _ = run_replication(
        simlib.load_scenario("coverage_tiered", SMALL), 1, 0
    )
    for col in (
        "csm_utilization",
        "touches_done",
        "touches_skipped",
        "alerts_raised",
        "alerts_served",
        "backlog",
    ):
        assert col in monthly.columns
    for col in ("tier", "initial_tier", "tier_changes", "touches", "csm"):
        assert col in accounts.columns
    assert accounts["tier_changes"].max() >= 1  # tiers are re-assigned quarterly
    assert summary["cs_cost"] == pytest.approx(monthly["cs_cost"].sum())


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("coverage.shares.high=0.8", "high + low shares must be at most 1"),
        ("coverage.csm.hours_per_week=-5", "coverage.csm.hours_per_week: must be > 0"),
        ("coverage.tiers.high.max_book=0", "coverage.tiers.high.max_book: must be >= 1"),
        ("coverage.policy=tierd_by_arr", "did you mean 'tiered_by_arr'"),
        ("coverage.shares.low=1.5", "coverage.shares.low: must be <= 1"),
    ],
)
def test_bad_coverage_input(override, words):
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario("coverage_tiered", [override])
    assert words in str(info.value)


def _claims_one_by_one(tails, arrival, dur, pushed):
    """Reference: each job to the CSM that frees first, off a heap, one job at a time."""
    import heapq

    heap = list(tails)
    heapq.heapify(heap)
    out = []
    for a in arrival.tolist():
        e, _, j = heap[0]
        s = e if a <= e else e + (a - e)
        heapq.heapreplace(heap, (s + dur, pushed, j))
        out.append((s, s + dur, e, j))
        pushed += 1
    return out, sorted(heap)


@pytest.mark.parametrize("csms", [64, 100, 240])
@pytest.mark.parametrize("load", ["idle", "busy", "ties"])
def test_alert_dispatch_in_blocks_equals_one_by_one(csms, load):
    """The block dispatcher (alerts only) gives every job the same CSM, start and end as
    the job-by-job heap it replaces, saturated or not, with equal free times and arrivals."""
    rng = np.random.default_rng(csms)
    n, dur = 5 * csms, 0.01
    if load == "idle":  # CSMs free long before the arrivals spread over the month
        free = rng.random(csms) * 0.1
        arrival = np.sort(rng.random(n))
    elif load == "busy":  # more work than hours: every job waits for a CSM
        free = rng.random(csms) * 0.5
        arrival = np.sort(rng.random(n) * 0.05)
    else:  # free times and arrivals on a coarse grid: many exact ties
        free = rng.integers(0, 4, csms) * 0.25
        arrival = np.sort(rng.integers(0, 40, n) * 0.025)
    order = rng.permutation(csms)
    tails = [(float(free[i]), int(order[i]), int(i)) for i in range(csms)]
    pushed = csms
    want, want_heap = _claims_one_by_one(tails, arrival, dur, pushed)
    dispatcher = kernels.numpy_backend.FcfsDispatcher(csms)
    dispatcher.tails = list(tails)
    start, end, pop = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.inf)
    csm = np.full(n, -1, dtype=np.intp)
    pushed_after, k = dispatcher.claim_blocks(arrival, 0, dur, pushed, start, end, pop, csm)
    if csms == 240:
        assert k > n // 2  # most jobs went out in blocks
    # the rest one by one, off the heap the blocks left
    rest, heap = _claims_one_by_one(dispatcher.tails, arrival[k:], dur, pushed_after)
    got = list(
        zip(start[:k].tolist(), end[:k].tolist(), pop[:k].tolist(), csm[:k].tolist(), strict=True)
    )
    assert got + rest == want
    assert heap == want_heap


JIT_CASES = {
    "tiered": [],
    "scarce team, stale touches": ["coverage.csm.count=2", "coverage.csm.hours_per_week=10"],
    "saturated alerts": [
        "coverage.csm.count=30",
        "coverage.csm.hours_per_week=4",
        "coverage.alerts.noise=0.3",
        "coverage.alerts.threshold=0.5",
    ],
    "every tier alerts": [
        "coverage.alerts.tiers=[high,low,tech,none]",
        "coverage.alerts.noise=0.2",
    ],
    "hours off the exact grid": ["coverage.tiers.high.touch_hours=1.3", "coverage.csm.count=3"],
    "requests": ["coverage.requests.per_month=40"],
}


@pytest.mark.parametrize("case", list(JIT_CASES))
def test_compiled_loops_give_the_numpy_numbers(case, monkeypatch):
    """The CSM team's compiled loops (numba) and its numpy code give the same tables, bit for
    bit, with and without stale touches, saturated CSMs, alerts from every tier, hours off the
    exact grid (numpy plans) and requests (the priority queue)."""
    if kernels.get_kernels() is kernels.numpy_backend:
        pytest.skip("numba is not installed")
    overrides = [
        "population.initial_accounts=1500",
        "acquisition.new_accounts_per_month=30",
        "horizon_months=24",
        *JIT_CASES[case],
    ]
    scenario = simlib.load_scenario("coverage_tiered", overrides)
    compiled = run_replication(scenario, seed=5, replication=0)
    monkeypatch.setenv("SIMLIB_JIT", "0")
    assert kernels.get_kernels() is kernels.numpy_backend
    plain = run_replication(scenario, seed=5, replication=0)
    assert compiled[1]["touches"].sum() > 0  # the team worked
    for a, b in zip(compiled[:2], plain[:2], strict=True):
        pdt.assert_frame_equal(a, b, check_exact=True)
    pdt.assert_series_equal(pd.Series(compiled[2]), pd.Series(plain[2]), check_exact=True)


@pytest.mark.parametrize("shares", [(0.05, 0.25), (0.0, 0.3), (0.2, 0.0), (0.5, 0.5)])
def test_compiled_tier_cut_picks_what_argpartition_picks(shares, monkeypatch):
    """Tiers by shares of a score from the compiled radix select equal those of
    np.argpartition, on continuous scores, on scores with many ties (where it steps aside) and
    with zeros."""
    from types import SimpleNamespace

    from simlib.model.coverage import policies

    if kernels.get_kernels() is kernels.numpy_backend:
        pytest.skip("numba is not installed")
    coverage = SimpleNamespace(
        thresholds=SimpleNamespace(high=None, low=None),
        shares=SimpleNamespace(high=shares[0], low=shares[1]),
    )
    sim = SimpleNamespace(scenario=SimpleNamespace(coverage=coverage))
    rng = np.random.default_rng(11)
    for trial in range(300):
        n = int(rng.integers(2, 3000))
        kind = trial % 3
        if kind == 0:  # continuous, spanning octaves, as ARR or LTV potential
            score = rng.lognormal(size=n) * rng.choice([49.0, 399.0, 5000.0], n)
        elif kind == 1:  # a few values: ties across the cuts
            score = rng.choice([0.0, 1.0, 2.5, 7.0], n)
        else:
            score = np.where(rng.random(n) < 0.1, 0.0, rng.random(n))
        monkeypatch.delenv("SIMLIB_JIT", raising=False)
        compiled = policies.by_score(sim, score)
        monkeypatch.setenv("SIMLIB_JIT", "0")
        plain = policies.by_score(sim, score)
        monkeypatch.delenv("SIMLIB_JIT")
        # with ties across a cut the set is argpartition's own choice: the compiled select
        # steps aside and leaves it to argpartition
        np.testing.assert_array_equal(compiled, plain)


def test_a_copied_account_book_keeps_its_columns_its_own():
    """Columns are kept as attributes: a pickled or copied book writes its own rows, and
    rows added later show in every column."""
    import copy
    import pickle

    from simlib.account import AccountBook

    book = AccountBook(capacity=4)
    book.append(3)
    book.mrr[:] = [1.0, 2.0, 3.0]
    book.add_column("extra", np.int32, 5)
    for other in (pickle.loads(pickle.dumps(book)), copy.deepcopy(book)):
        other.mrr[0] = 9.0
        assert other.mrr[0] == 9.0 and book.mrr[0] == 1.0
        assert other.column("mrr")[0] == 9.0
    book.append(20)
    assert book.mrr.size == book.extra.size == 23 and book.extra[-1] == 5
    book.mrr += 1.0  # an augmented assignment writes into the column
    assert book.column("mrr")[0] == 2.0


def test_always_touched_policies_are_not_asked_about_new_accounts(monkeypatch):
    """A policy registered always_touched is not called for accounts arriving between
    re-assignments (they start in tech touch); registering it again without the flag asks it."""
    from simlib import tiers

    calls = []

    def spy(sim, rows):
        calls.append(rows.size)
        return np.full(rows.size, tiers.LOW, dtype=np.int8)

    monkeypatch.setitem(tiers.COVERAGE_POLICIES, "spy", spy)
    scenario = simlib.load_scenario(
        "coverage_tiered",
        ["population.initial_accounts=300", "horizon_months=6", "coverage.policy=spy"],
    )
    try:
        tiers.register_policy("spy", always_touched=True)(spy)
        _, accounts, _, _ = run_replication(scenario, seed=1, replication=0)
        assert len(calls) == 2  # the re-assignments at months 0 and 3 only
        late = accounts[accounts["start_month"].isin([1, 2, 4, 5])]
        assert len(late) and (late["initial_tier"] == tiers.TECH).all()
        calls.clear()
        tiers.register_policy("spy")(spy)
        assert "spy" not in tiers.ALWAYS_TOUCHED
        run_replication(scenario, seed=1, replication=0)
        assert len(calls) > 2  # asked about the new accounts of the other months too
    finally:
        tiers.ALWAYS_TOUCHED.discard("spy")
        tiers.COVERAGE_POLICIES.pop("spy", None)


def test_without_numba_the_numpy_code_runs(monkeypatch):
    """When numba cannot be loaded the compiled loops are off, and a run gives the same tables."""
    scenario = simlib.load_scenario(
        "coverage_tiered", ["population.initial_accounts=400", "horizon_months=6"]
    )
    before = run_replication(scenario, seed=2, replication=0)

    def broken():
        raise ImportError("no numba here")

    monkeypatch.setattr(kernels, "_build", broken)
    monkeypatch.setattr(kernels, "_TRIED", False)
    monkeypatch.setattr(kernels, "_COMPILED", None)
    assert kernels.get_kernels() is kernels.numpy_backend
    after = run_replication(scenario, seed=2, replication=0)
    for a, b in zip(before[:2], after[:2], strict=True):
        pdt.assert_frame_equal(a, b, check_exact=True)


def test_both_kernel_backends_expose_the_one_interface():
    """The numpy and numba backends define every kernel, with the same parameters."""
    import inspect

    if kernels.get_kernels() is kernels.numpy_backend:
        pytest.skip("numba is not installed")
    compiled = kernels.get_kernels()
    for name in kernels.KERNEL_NAMES:
        a, b = getattr(kernels.numpy_backend, name), getattr(compiled, name)
        if hasattr(b, "py_func"):  # a compiled loop used as it is
            b = b.py_func
        assert list(inspect.signature(a).parameters) == list(inspect.signature(b).parameters)
