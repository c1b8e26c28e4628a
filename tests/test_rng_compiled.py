"""The compiled keyed uniforms (numba) are the numpy reference's numbers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from simlib import rng
from simlib.rng import account_key, keyed_uniform, keyed_uniform_numpy

KEYS = [(0, 0), (1, 2), (2**64 - 1, 2**64 - 1), (0x9E3779B97F4A7C15, 12345678901234567)]


def _accounts() -> np.ndarray:
    edge = np.array([0, 1, 2**32, 2**63, 2**64 - 1], dtype=np.uint64)
    book = account_key(np.arange(5_000) % 61, np.arange(5_000))
    random = np.random.default_rng(3).integers(0, 2**64 - 1, 20_000, dtype=np.uint64)
    return np.concatenate([edge, book, random])


def test_the_compiled_loop_loads():
    pytest.importorskip("numba")
    if rng._compiled_uniform() is None:
        pytest.skip("SIMLIB_JIT=0: the numpy operations run")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("slot", [0, 1, 59 * 64 + 7, 2**40 + 3, 2**63])
def test_compiled_uniforms_equal_the_numpy_reference(key, slot):
    accounts = _accounts()
    fast, ref = keyed_uniform(key, accounts, slot), keyed_uniform_numpy(key, accounts, slot)
    assert fast.dtype == ref.dtype == np.float64
    assert np.array_equal(fast.view(np.uint64), ref.view(np.uint64))


def test_shapes_views_and_empty_books_are_handled():
    accounts = _accounts()
    strided = accounts[::3]  # not contiguous
    assert np.array_equal(
        keyed_uniform((5, 6), strided, 2), keyed_uniform_numpy((5, 6), strided, 2)
    )
    grid = accounts[:600].reshape(20, 30)
    assert keyed_uniform((5, 6), grid, 2).shape == (20, 30)
    assert np.array_equal(keyed_uniform((5, 6), grid, 2), keyed_uniform_numpy((5, 6), grid, 2))
    assert keyed_uniform((5, 6), accounts[:0], 2).shape == (0,)
