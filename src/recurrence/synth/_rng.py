"""Counter-based random numbers: every draw is a hash of (unit key, purpose, occasion).

Why not one sequential generator? A draw made by hashing the key of the unit it belongs to (a
family or a child), a fixed *slot* number naming its purpose (for example "time to the next
referral") and an occasion index (the child's k-th referral) is the same number whatever else is
simulated, in whatever order, in whatever chunk or worker. Three properties follow:

- identical output for any number of workers or batch sizes (the issue's determinism rule);
- *common random numbers* for calibration: changing a rate parameter changes the outcomes that
  depend on it, not the random numbers of every later draw, so the calibration objective is
  nearly smooth in the parameters;
- no state to pass around.

The hash is the SplitMix64 finaliser (Steele, Lea and Flood 2014, *Fast splittable pseudorandom
number generators*), a bijection on 64-bit integers with good avalanche behaviour, applied twice.
The per-LA keys come from :class:`numpy.random.SeedSequence` (``SeedSequence(seed).spawn``), so
the user's integer seed is expanded by numpy's own seeding algorithm.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

U64 = np.uint64
_G = U64(0x9E3779B97F4A7C15)
_M1 = U64(0xBF58476D1CE4E5B9)
_M2 = U64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = U64(30), U64(27), U64(31), U64(11)
_SLOT_MULT = U64(0x100000001B3)
_TWO53 = 2.0**-53


def mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser of each element (a bijection of uint64; wraps modulo 2**64)."""
    with np.errstate(over="ignore"):
        z = x + _G
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


def derive(keys: NDArray[np.uint64], salt: ArrayLike) -> NDArray[np.uint64]:
    """New keys from ``keys`` and an integer ``salt`` (scalar or per element)."""
    s = np.atleast_1d(np.asarray(salt, dtype=np.uint64))
    return mix(keys ^ mix(s))


def uniform(keys: NDArray[np.uint64], slot: int, k: ArrayLike = 0) -> NDArray[np.float64]:
    """Uniform(0, 1) draws (open interval), one per key, for purpose ``slot`` and occasion ``k``."""
    with np.errstate(over="ignore"):
        c = np.atleast_1d(np.asarray(k, dtype=np.uint64)) * _SLOT_MULT + U64(slot)
    z = mix(keys ^ mix(c))
    return ((z >> _S11).astype(np.float64) + 0.5) * _TWO53


def normal(keys: NDArray[np.uint64], slot: int, k: ArrayLike = 0) -> NDArray[np.float64]:
    """Standard normal draws by inversion."""
    return np.asarray(special.ndtri(uniform(keys, slot, k)), dtype=np.float64)


def exponential(keys: NDArray[np.uint64], slot: int, k: ArrayLike = 0) -> NDArray[np.float64]:
    """Exponential(1) draws by inversion."""
    return -np.log(uniform(keys, slot, k))


def gamma(
    keys: NDArray[np.uint64], slot: int, shape: float, scale: float, k: ArrayLike = 0
) -> NDArray[np.float64]:
    """Gamma(shape, scale) draws by inversion of the regularised incomplete gamma function."""
    return np.asarray(special.gammaincinv(shape, uniform(keys, slot, k)) * scale, dtype=np.float64)


def poisson(u: NDArray[np.float64], mu: NDArray[np.float64], cap: int = 200) -> NDArray[np.int64]:
    """Poisson(mu) counts by inversion of uniforms ``u`` (vectorised sequential search).

    The loop runs to the largest count drawn (``cap`` at most), a handful of passes for the
    means met here (well below 10).
    """
    mu = np.asarray(mu, dtype=np.float64)
    p = np.exp(-mu)
    cdf = p.copy()
    k = np.zeros(u.shape, dtype=np.int64)
    more = u > cdf
    j = 0
    while more.any() and j < cap:
        j += 1
        k += more
        p = p * mu / j
        cdf = cdf + p
        more = more & (u > cdf)
    return k


def la_keys(seed: int, n: int) -> NDArray[np.uint64]:
    """One 64-bit key per LA from ``SeedSequence(seed).spawn(n)`` (child i independent of n)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return np.array([c.generate_state(1, dtype=np.uint64)[0] for c in children], dtype=np.uint64)
