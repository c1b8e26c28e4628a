"""Randomness: one ``SeedSequence`` per run, named streams per mechanism, keyed draws per account.

Every random number of a run flows from one :class:`numpy.random.SeedSequence`:

* replication ``r`` of a run with seed ``s`` uses ``SeedSequence(s, spawn_key=(r,))`` (the same
  child that ``SeedSequence(s).spawn(n)[r]`` gives, for any ``n``);
* inside a replication each mechanism has its own stream, derived from the replication's sequence
  and the mechanism's *name* (not its position), so adding a mechanism never shifts another's
  draws;
* draws that decide an account's fate are *keyed*: a uniform for (stream, account key, slot) is a
  pure function of those three numbers (a counter-based generator in the spirit of Salmon et al.
  2011, "Parallel random numbers: as easy as 1, 2, 3", built from the SplitMix64 finaliser of
  Steele, Lea & Flood 2014). Two scenarios run with the same seed therefore give the same account
  the same luck for the same decision, whatever else differs between them: common random numbers
  at the account level, which is what makes paired comparisons narrow.

No global ``np.random`` state and no stdlib ``random`` are used anywhere in simlib.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Streams",
    "account_key",
    "compiled",
    "keyed_normal",
    "keyed_uniform",
    "keyed_uniform_numpy",
    "replication_seed",
]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 2.0**-53

#: Keys of accounts that arrive by referral sit in their own half of the index range, so a
#: change in referrals never shifts the keys (and so the luck) of paid acquisitions.
REFERRAL_OFFSET = 1 << 31


def account_key(
    arrival_month: int | NDArray[np.int64], index: NDArray[np.int64]
) -> NDArray[np.uint64]:
    """Stable identity of an account for keyed draws: ``arrival_month * 2**32 + index``.

    ``index`` counts the accounts that arrived in that month through the same channel (the opening
    book is month 0; paid acquisitions count from 0; referrals from :data:`REFERRAL_OFFSET`).
    """
    month = np.asarray(arrival_month, dtype=np.uint64)
    return (month << np.uint64(32)) | np.asarray(index, dtype=np.uint64)


def _mix(z: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser, in place: a bijection of uint64 with full avalanche."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def keyed_bits(key: tuple[int, int], accounts: NDArray[np.uint64], slot: int) -> NDArray[np.uint64]:
    """64 random bits for each account key, a pure function of (stream key, account key, slot)."""
    k1, k2 = np.uint64(key[0]), np.uint64(key[1])
    with np.errstate(over="ignore"):
        z = np.bitwise_xor(accounts, k1)
        _mix(z)
        z += np.uint64(slot) * _GOLDEN + k2
        _mix(z)
    return z


def slot_word(k2: int, slot: int) -> np.uint64:
    """The word :func:`keyed_bits` adds between its two mixes: ``slot x golden ratio + k2``
    (mod 2**64), for loops that draw keyed uniforms one account at a time."""
    return np.uint64((slot * int(_GOLDEN) + k2) % 2**64)


def keyed_uniform(
    key: tuple[int, int], accounts: NDArray[np.uint64], slot: int
) -> NDArray[np.float64]:
    """Uniform(0, 1) draws (never exactly 0 or 1), one per account key, for decision ``slot``.

    ``(bits >> 11 + 0.5) x 2**-53`` of :func:`keyed_bits`. Runs as one compiled loop (numba,
    cached on disk) when numba loads and ``SIMLIB_JIT`` is not ``0``: integer operations and the
    same two float operations, so the same numbers bit for bit as :func:`keyed_uniform_numpy`,
    the reference (tests/test_rng_compiled.py holds the two equal).
    """
    loop = _compiled_uniform()
    if loop is None or not isinstance(accounts, np.ndarray) or accounts.dtype != np.uint64:
        return keyed_uniform_numpy(key, accounts, slot)
    flat = np.ascontiguousarray(accounts).reshape(-1)
    out = np.empty(flat.size, dtype=np.float64)
    loop(flat, np.uint64(key[0]), slot_word(key[1], slot), out)
    return out.reshape(np.shape(accounts))


def keyed_uniform_numpy(
    key: tuple[int, int], accounts: NDArray[np.uint64], slot: int
) -> NDArray[np.float64]:
    """:func:`keyed_uniform` in numpy operations (the reference of the compiled loop)."""
    z = keyed_bits(key, accounts, slot)
    z >>= _S11
    u = z.astype(np.float64)
    u += 0.5
    u *= _TWO_M53
    return u


_LOOPS: dict[Callable[[], Callable[..., Any]], Callable[..., Any] | None] = {}


def compiled(build: Callable[[], Callable[..., Any]]) -> Callable[..., Any] | None:
    """The loop ``build()`` compiles with numba (``cache=True``: loaded from numba's on-disk
    cache after the first run on a machine), built once per process; None when the environment
    variable ``SIMLIB_JIT`` is ``0`` or numba cannot load, and then the caller runs its numpy
    reference. A compiled loop does the float operations of its numpy reference, in order."""
    if os.environ.get("SIMLIB_JIT", "1") == "0":
        return None
    if build not in _LOOPS:
        try:
            _LOOPS[build] = build()
        except (ImportError, OSError):  # numba missing, or its LLVM not loadable here
            _LOOPS[build] = None
    return _LOOPS[build]


def _compiled_uniform() -> Callable[..., Any] | None:
    """The compiled loop of :func:`keyed_uniform` (see :func:`compiled`)."""
    return compiled(_build_uniform_loop)


def _build_uniform_loop() -> Callable[..., None]:
    import numba

    @numba.njit(cache=True, nogil=True)
    def uniform_loop(accounts, k1, word, out):
        # the operations of keyed_bits (two SplitMix64 finalisers) and keyed_uniform_numpy
        for i in range(accounts.size):
            z = accounts[i] ^ k1
            z ^= z >> _S30
            z *= _M1
            z ^= z >> _S27
            z *= _M2
            z ^= z >> _S31
            z += word
            z ^= z >> _S30
            z *= _M1
            z ^= z >> _S27
            z *= _M2
            z ^= z >> _S31
            z >>= _S11
            u = np.float64(z)
            u += 0.5
            u *= _TWO_M53
            out[i] = u

    return cast("Callable[..., None]", uniform_loop)


def keyed_normal(
    key: tuple[int, int], accounts: NDArray[np.uint64], slot: int
) -> NDArray[np.float64]:
    """Standard normal draws by inversion (``scipy.special.ndtri``) of :func:`keyed_uniform`."""
    from scipy.special import ndtri

    return ndtri(keyed_uniform(key, accounts, slot))


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed sequence of one replication: child ``replication`` of ``SeedSequence(seed)``."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def _name_code(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """The named random streams of one replication.

    ``Streams(seq).key("churn")`` is the key for keyed draws of the churn mechanism;
    ``Streams(seq).generator("acquisition", month)`` a numpy ``Generator`` for draws that are not
    tied to an account (how many accounts arrive in a month, say), also a pure function of the
    names and indices, so it too is common between scenarios.
    """

    def __init__(self, seed_sequence: np.random.SeedSequence) -> None:
        self.seed_sequence = seed_sequence
        self._keys: dict[str, tuple[int, int]] = {}

    def _child(self, name: str, *index: int) -> np.random.SeedSequence:
        ss = self.seed_sequence
        return np.random.SeedSequence(
            ss.entropy, spawn_key=(*ss.spawn_key, _name_code(name), *index)
        )

    def key(self, name: str) -> tuple[int, int]:
        """Two 64-bit words keying the named mechanism's keyed draws."""
        if name not in self._keys:
            words = self._child(name).generate_state(2, dtype=np.uint64)
            self._keys[name] = (int(words[0]), int(words[1]))
        return self._keys[name]

    def generator(self, name: str, *index: int) -> np.random.Generator:
        """A fresh PCG64 generator for the named mechanism and integer indices (a month, say)."""
        return np.random.Generator(np.random.PCG64(self._child(name, *index)))

    def uniform(self, name: str, accounts: NDArray[np.uint64], slot: int) -> NDArray[np.float64]:
        """Keyed uniforms of the named mechanism (see :func:`keyed_uniform`)."""
        return keyed_uniform(self.key(name), accounts, slot)

    def normal(self, name: str, accounts: NDArray[np.uint64], slot: int) -> NDArray[np.float64]:
        """Keyed standard normals of the named mechanism (see :func:`keyed_normal`)."""
        return keyed_normal(self.key(name), accounts, slot)
