"""Composite and latent-class indicators of 'highly resistant' families (issue item 3c).

NI 65 looks at one trace of resistance (a repeat plan). The seed describes resistance through
several: repeated referrals, plans that go on and on, repeat plans, and the accumulation of
parental problems (C4EO 2010, sections 3-4). Two ways of combining those traces are offered:

* a **sum score**: the number of the binary indicators present (0 to k);
* a **two-class latent class model** (Lazarsfeld & Henry 1968; Goodman 1974) fitted by EM: the
  indicators are independent given a latent class, one class being the 'resistant' pattern.
  The posterior probability of that class is a child-level score. Local independence is an
  assumption; with four indicators a two-class model is identified. EM is started from
  ``n_starts`` seeded random points and the best log-likelihood is kept; the 'resistant' class
  is the one with the higher mean item probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from recurrence.errors import ConvergenceError, ModelInputError

COMPOSITE_ITEMS: tuple[str, ...] = (
    "ni65_any_la",
    "rereferral_12m",
    "long_plan_2y",
    "multiple_parental_problems",
)
"""Default indicators: repeat plans, re-referrals, long plans and multiple parental problems."""


@dataclass(frozen=True)
class LatentClassResult:
    """A fitted two-class latent class model.

    Attributes
    ----------
    class_share
        Prior probability of the 'resistant' class (proportion scale).
    item_probabilities
        DataFrame indexed by item with columns ``resistant`` and ``other``: P(item = 1 | class).
    posterior
        P(resistant class | items) for each row of the data.
    loglik
        Log-likelihood at the estimate.
    n_iter
        EM iterations of the best start.
    """

    class_share: float
    item_probabilities: pd.DataFrame
    posterior: np.ndarray
    loglik: float
    n_iter: int


def _em(
    x: np.ndarray, pi: float, p: np.ndarray, tol: float, max_iter: int
) -> tuple[float, np.ndarray, np.ndarray, float, int, bool]:
    # p has shape (2, k): item probabilities in class 0 and class 1.
    ll_old = -np.inf
    eps = 1e-6
    for it in range(1, max_iter + 1):
        lp = x @ np.log(p.T) + (1 - x) @ np.log(1 - p.T)  # (n, 2)
        lp += np.log([1 - pi, pi])
        norm = special.logsumexp(lp, axis=1)
        ll = float(norm.sum())
        post = np.exp(lp[:, 1] - norm)
        pi = float(np.clip(post.mean(), eps, 1 - eps))
        w = np.column_stack([1 - post, post])
        p = np.clip((w.T @ x) / w.sum(axis=0)[:, None], eps, 1 - eps)
        if abs(ll - ll_old) < tol * (1 + abs(ll)):
            return pi, p, post, ll, it, True
        ll_old = ll
    return pi, p, post, ll, max_iter, False


def latent_class(
    data: pd.DataFrame,
    items: Sequence[str] = COMPOSITE_ITEMS,
    *,
    seed: int = 0,
    n_starts: int = 10,
    tol: float = 1e-10,
    max_iter: int = 2000,
) -> LatentClassResult:
    """Fit a two-class latent class model to the binary ``items`` of ``data`` by EM."""
    if len(items) < 3:
        raise ModelInputError("a two-class latent class model needs at least 3 binary items")
    x = data[list(items)].to_numpy(dtype=float)
    if np.isnan(x).any() or not np.isin(x, (0.0, 1.0)).all():
        raise ModelInputError(f"latent class items must be 0/1 without missing values: {items}")
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_starts):
        pi0 = float(rng.uniform(0.1, 0.5))
        p0 = rng.uniform(0.05, 0.95, size=(2, x.shape[1]))
        fit = _em(x, pi0, p0, tol, max_iter)
        if fit[5] and (best is None or fit[3] > best[3]):
            best = fit
    if best is None:
        raise ConvergenceError(
            f"latent class EM did not converge in {max_iter} iterations from {n_starts} starts; "
            "raise max_iter or check the items vary"
        )
    pi, p, post, ll, it, _ = best
    hi = 1 if p[1].mean() >= p[0].mean() else 0
    if hi == 0:
        pi, p, post = 1 - pi, p[::-1], 1 - post
    probs = pd.DataFrame({"resistant": p[1], "other": p[0]}, index=list(items))
    return LatentClassResult(float(pi), probs, post, ll, it)


def sum_score(data: pd.DataFrame, items: Sequence[str] = COMPOSITE_ITEMS) -> np.ndarray:
    """Number of the binary ``items`` present for each row (0 to ``len(items)``)."""
    return data[list(items)].to_numpy(dtype=float).sum(axis=1)
