"""Compiled loops of the offers and loyalty actors give their numpy references' results exactly
(random books covering every branch; whole runs are held equal by tests/test_golden.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from simlib.model.loyalty import _build_stage_loop, stages_numpy
from simlib.model.offers import _build_eligible_loop, _eligibility_args, eligible_numpy
from simlib.rng import compiled

N = 5_000


def _loop(build):
    pytest.importorskip("numba")
    loop = compiled(build)
    if loop is None:
        pytest.skip("SIMLIB_JIT=0: the numpy operations run")
    return loop


def _book(seed: int) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    return SimpleNamespace(
        start_month=rng.integers(0, 40, N).astype(np.int32),
        satisfaction=np.where(rng.random(N) < 0.01, np.nan, rng.random(N)),
        last_offer=np.where(rng.random(N) < 0.3, -1_000_000, rng.integers(0, 40, N)).astype(
            np.int32
        ),
        offers_year=rng.integers(0, 6, N).astype(np.int32),
        in_flight=rng.random(N) < 0.1,
        change_at=rng.integers(-1, 45, N).astype(np.int32),
        promoter_streak=rng.integers(0, 8, N).astype(np.int32),
        fan_streak=rng.integers(0, 8, N).astype(np.int32),
        loyalty_stage=rng.integers(0, 4, N).astype(np.int8),
    )


@pytest.mark.parametrize("seed", range(4))
def test_eligible_rows_are_the_numpy_rows(seed):
    loop = _loop(_build_eligible_loop)
    book = _book(seed)
    rows = np.flatnonzero(np.random.default_rng(seed + 9).random(N) < 0.8)
    for month, tenure, sat, cool, cap in [
        (30, 3, 0.4, 3, 4),
        (12, 0, 0.0, 6, 1),
        (40, 41, 1.0, 0, 0),
    ]:
        spec = SimpleNamespace(
            min_tenure_months=tenure, min_satisfaction=sat, cooldown_months=cool, max_per_year=cap
        )
        want = eligible_numpy(book, rows, spec, month)  # type: ignore[arg-type]
        got = loop(rows, *_eligibility_args(book, spec, month))  # type: ignore[arg-type]
        assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("seed", range(4))
def test_loyalty_stages_are_the_numpy_stages(seed):
    loop = _loop(_build_stage_loop)
    a, b = _book(seed), _book(seed)
    rows = np.flatnonzero(np.random.default_rng(seed + 5).random(N) < 0.7)
    cols = ("satisfaction", "start_month", "promoter_streak", "fan_streak", "loyalty_stage")
    params = (35, 0.6, 0.8, 6, 3, 6, 6, 12)
    want = stages_numpy(rows, *(getattr(a, c) for c in cols), *params)  # type: ignore[arg-type]
    got = loop(rows, *(getattr(b, c) for c in cols), *params)
    assert tuple(int(x) for x in got) == want
    for c in cols:
        assert np.array_equal(getattr(a, c), getattr(b, c), equal_nan=True), c


@pytest.mark.parametrize("scale", [0.05, 1.0, 10.0, 40.0])
def test_poisson_quantiles_are_the_numpy_quantiles(scale):
    from simlib.model.seats import _build_poisson_loop, poisson_ppf_array, poisson_ppf_numpy

    _loop(_build_poisson_loop)
    rng = np.random.default_rng(int(scale * 100))
    mean = np.where(rng.random(N) < 0.1, 0.0, rng.exponential(scale, N))
    u = rng.random(N)
    u[:4] = [1 - 2**-53, 0.5, 1e-300, 0.999999]  # the rows near 1 reach the gamma route
    want = poisson_ppf_numpy(u, mean)
    got = poisson_ppf_array(u, mean)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_renewals_due_are_the_numpy_rows():
    from simlib.model.renewal import _build_due_loop, due_numpy

    loop = _loop(_build_due_loop)
    rng = np.random.default_rng(11)
    contract = rng.integers(0, 2, N).astype(np.int8)
    anniversary = rng.integers(-11, 40, N).astype(np.int32)  # staggered books start before 0
    rows = np.flatnonzero(rng.random(N) < 0.6)
    for month in (0, 5, 11, 23, 47):
        want = due_numpy(contract, anniversary, rows, month)
        got = loop(contract, anniversary, rows, month)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_annual_removal_factors_are_the_numpy_factors():
    from simlib.model.seats import _build_removal_loop, annual_removal_factor, annual_removal_numpy

    _loop(_build_removal_loop)
    rng = np.random.default_rng(12)
    book = SimpleNamespace(
        contract=rng.integers(0, 2, N).astype(np.int8),
        anniversary=rng.integers(-11, 40, N).astype(np.int32),
    )
    rows = np.flatnonzero(rng.random(N) < 0.6)
    for month in (0, 10, 11, 35):
        want = annual_removal_numpy(book, rows, month)  # type: ignore[arg-type]
        got = annual_removal_factor(book, rows, month)  # type: ignore[arg-type]
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
