"""n-step returns from sampled runs of transitions."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def nstep_returns(
    rewards: ArrayLike, dones: ArrayLike, gamma: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Discounted n-step returns of runs ``rewards[n, L]`` with terminal flags ``dones[n, L]``.

    A run is cut after its first terminal step ``m``; otherwise ``m = L - 1``.
    Returns ``(G, discount, m)`` with ``G = sum_{k <= m} gamma**k r_k`` and
    ``discount = gamma**(m + 1)``, or 0 when step ``m`` is terminal, so the
    bootstrapped target is ``G + discount * V(next_obs at step m)``.
    """
    r = np.asarray(rewards, dtype=np.float64)
    d = np.asarray(dones).astype(bool)
    if r.ndim != 2 or r.shape != d.shape:
        raise ValueError(f"rewards and dones must both be [n, L], got {r.shape} and {d.shape}")
    _n, length = r.shape
    any_done = d.any(axis=1)
    last = np.where(any_done, d.argmax(axis=1), length - 1).astype(np.int64)
    k = np.arange(length)
    mask = k[None, :] <= last[:, None]  # [n, L]: steps inside the return
    ret = (r * gamma ** k[None, :] * mask).sum(axis=1)
    disc = np.where(any_done, 0.0, float(gamma) ** (last + 1))
    return ret, disc, last
