"""Keyed random numbers: uniform, independent across slots and streams, pure functions."""

from __future__ import annotations

import numpy as np
from scipy import stats

from simlib.rng import Streams, account_key, keyed_uniform, replication_seed

N = 200_000


def test_keyed_uniforms_are_uniform():
    u = keyed_uniform((1, 2), account_key(0, np.arange(N)), 3)
    assert u.min() > 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_slots_streams_and_neighbours_are_uncorrelated():
    keys = account_key(0, np.arange(N))
    a = keyed_uniform((1, 2), keys, 0)
    b = keyed_uniform((1, 2), keys, 1)
    c = keyed_uniform((5, 2), keys, 0)
    bound = 5 / np.sqrt(N)  # the correlation of independent samples has sd 1/sqrt(N)
    assert abs(np.corrcoef(a, b)[0, 1]) < bound
    assert abs(np.corrcoef(a, c)[0, 1]) < bound
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < bound


def test_a_draw_depends_only_on_its_key_not_on_its_neighbours():
    keys = account_key(np.array([0, 3, 3, 7]), np.array([5, 0, 1, 2]))
    whole = keyed_uniform((9, 9), keys, 4)
    for i in range(4):
        assert keyed_uniform((9, 9), keys[i : i + 1], 4)[0] == whole[i]


def test_named_streams_are_stable_and_distinct():
    s1 = Streams(replication_seed(42, 0))
    s2 = Streams(replication_seed(42, 0))
    s3 = Streams(replication_seed(42, 1))
    assert s1.key("churn") == s2.key("churn")
    assert s1.key("churn") != s1.key("satisfaction")
    assert s1.key("churn") != s3.key("churn")
    assert s1.generator("acquisition", 3).random() == s2.generator("acquisition", 3).random()


def test_replication_seed_matches_spawn():
    spawned = np.random.SeedSequence(7).spawn(5)[3]
    assert replication_seed(7, 3).generate_state(4).tolist() == spawned.generate_state(4).tolist()


def test_beta_table_matches_exact_quantiles():
    from scipy.special import betainc

    from simlib.distributions import beta_ppf

    u = np.random.default_rng(0).random(100_000)
    for a, b in [(0.8, 20), (0.3, 5), (5, 4), (1000, 0.5), (0.1, 3), (0.5, 0.5), (2000, 38000)]:
        x = beta_ppf(u, a, b)
        assert np.abs(betainc(a, b, x) - u).max() < 1e-5


def test_beta_draws_do_not_depend_on_what_was_drawn_before():
    from simlib.distributions import beta_ppf

    u = np.random.default_rng(1).random(50)
    first = beta_ppf(u, 0.9, 17.0)
    beta_ppf(np.random.default_rng(2).random(100_000), 0.9, 17.0)
    assert np.array_equal(beta_ppf(u, 0.9, 17.0), first)
    assert np.array_equal(beta_ppf(u[:7], 0.9, 17.0), first[:7])


def test_slot_word_is_what_keyed_bits_adds_between_its_mixes():
    """A loop drawing keyed uniforms one account at a time gets the same numbers."""
    from simlib.model import csm_jit
    from simlib.rng import slot_word

    jit = csm_jit.kernels()
    keys = account_key(np.arange(50) % 7, np.arange(50)).astype(np.uint64)
    for key, slot in (((1, 2), 0), ((2**64 - 1, 2**63 + 5), 59), ((12345, 2**64 - 3), 2**31)):
        want = keyed_uniform(key, keys, slot)
        if jit is not None:
            from simlib.model.csm_loops import keyed_uniform as one

            got = [one(k, np.uint64(key[0]), slot_word(key[1], slot)) for k in keys]
            np.testing.assert_array_equal(got, want)
        assert int(slot_word(key[1], slot)) == (slot * 0x9E3779B97F4A7C15 + key[1]) % 2**64
