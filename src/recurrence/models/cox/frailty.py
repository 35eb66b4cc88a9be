"""Shared gamma frailty Cox model, as R ``coxph(... + frailty(group, distribution = "gamma"))``.

Model: the hazard of a row of group ``g`` (family, LA) is ``z_g h0(t) exp(x'beta)`` with
``z_g ~ Gamma(mean 1, variance theta)``. A variance ``theta > 0`` means recurrence clusters in
families beyond what the covariates explain. Fitted as R does (Therneau, Grambsch & Pankratz
2003, J. Comput. Graph. Stat. 12:156):

* inner fit, for fixed ``theta``: maximise the penalised partial likelihood
  ``PL(beta, b) - (1/theta) sum_g (exp(b_g) - b_g)`` over ``beta`` and the log frailties
  ``b_g`` (Newton-Raphson with step-halving). The log frailties enter the vectorised engine as
  an offset; their score, their cross-information with ``beta`` and the diagonal of their own
  information are group sums of risk-set weights (``bincount``), with no indicator column per
  group. Up to 200 groups the Newton step uses the full information; beyond, R's "sparse"
  information (the frailty block's diagonal) through the Schur complement, ``O(n log n + p^2
  G)`` per iteration, with full steps again for up to 2,000 groups if the sparse ones crawl
  (see :func:`_inner`);
* outer loop over ``theta``: the marginal (integrated) log likelihood of the gamma model is
  ``PPL(beta_hat, b_hat) + sum_g [nu log(nu / (nu + d_g)) + d_g + log Gamma(nu + d_g)
  - log Gamma(nu) - d_g log(nu + d_g)]`` with ``nu = 1/theta``, ``d_g`` the events of group g
  and ``PPL = PL - nu sum_g (exp(b_g) - b_g - 1)`` the penalised partial likelihood (R's
  ``frailty.gammacon`` added to the inner fit's penalised log likelihood); it is maximised with R's ``frailty.controlgam`` search:
  ``theta = 0``, then 1, then half or double, then parabolic (Brent-type) steps on
  ``sqrt(theta)``, stopping when the marginal log likelihood changes by less than
  ``eps = 1e-5`` relatively. The estimates are those of the last inner fit, as in R, and
  ``extra["theta"]`` is that fit's theta (the last row of R's ``fit$history[[1]]$history``).
  R's printed "Variance of random effect" (``fit$history[[1]]$theta``) is instead the next
  theta the search would have tried, which can differ in the third digit.

Standard errors: R's ``se(coef)``, the ``beta`` block of the inverse penalised information in
which the frailty-by-frailty block is replaced by its diagonal (R's "sparse" computation, used
when there are more than 5 groups). Whichever information steers the Newton iterations, the
gradient is exact, so the optimum is the same. Estimates are log hazard ratios; ``theta`` is the
frailty variance (``extra["theta"]``).

Agreement with R (``tests/models/cox/test_cox_frailty.py``, against coxph with its inner loop run
to ``eps = 1e-12``; at the default 1e-9 R stops up to 2.3e-5 short of the penalised optimum):
the same theta search to 3e-11, coefficients to 3.7e-9 (right-censored data) and 3.1e-7
(recurrent events, 300 child frailties), SEs to 2e-8, relative (measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import linalg
from scipy.special import gammaln

from recurrence.errors import ConvergenceError, ModelInputError
from recurrence.models.base import ModelResults, check_literal
from recurrence.models.cox import engine
from recurrence.models.cox.model import _codes, coxph


def gamma_correction(d: np.ndarray, nu: float) -> float:
    """Marginal-likelihood correction of the gamma frailty (events per group ``d``, ``nu``).

    ``sum_g [nu log(nu/(nu + d_g)) + d_g + log Gamma(nu + d_g) - log Gamma(nu)
    - d_g log(nu + d_g)]``
    is the same quantity as R's ``frailty.gammacon`` (written there as a telescoped product).
    """
    d = d.astype(np.float64)
    if nu > 1e7 * max(d.max(), 1.0):
        return float(np.sum(d * d) / nu)  # the limit theta -> 0, as R (avoids cancellation)
    return float(
        np.sum(
            d + nu * np.log(nu / (nu + d)) + gammaln(nu + d) - gammaln(nu) - d * np.log(nu + d)
        )
    )


def _parabola_step(x: np.ndarray, y: np.ndarray, lower: float) -> float:
    """Next abscissa of R's ``frailty.brent`` rule: a parabola through the best point and its
    neighbours, with golden-section-like fallbacks and extrapolation at the ends."""
    n = len(x)
    if n < 3:
        return float(np.mean(x))
    order = np.argsort(x, kind="stable")
    xx, yy = x[order], y[order]
    best = int(np.flatnonzero(yy == yy.max())[0])
    if best == 0:
        new = xx[0] - 3 * (xx[1] - xx[0])
        if new < lower:
            new = lower + (xx[xx > lower].min() - lower) / 10
        return float(new)
    if best == n - 1:
        return float(xx[-1] + 3 * (xx[-1] - xx[-2]))
    x1, x2, x3 = xx[best - 1 : best + 2]
    y1, y2, y3 = yy[best - 1 : best + 2]
    num = (x2 - x1) ** 2 * (y2 - y3) - (x2 - x3) ** 2 * (y2 - y1)
    den = (x2 - x1) * (y2 - y3) - (x2 - x3) * (y2 - y1)
    new = x2 - 0.5 * num / den
    # R compares with the last two points in the order they were tried (not sorted)
    if new < x1 or new > x3 or (n > 4 and (new - x[-1]) > 0.5 * abs(x[-2] - x[-3])):
        return float(x2 - 0.38 * (x2 - x1) if (x2 - x1) > (x3 - x2) else x2 + 0.32 * (x3 - x2))
    return float(new)


class _Blocks(NamedTuple):
    """Penalised log likelihood, gradient and R's sparse penalised information at one point."""

    obj: float  # penalised partial log likelihood
    pl: float  # partial log likelihood
    grad: np.ndarray  # (p + G,)
    a: np.ndarray  # beta block of the information (p x p)
    b: np.ndarray  # beta-by-frailty block (p x G)
    d: np.ndarray  # diagonal of the frailty block (G,), the only part of it R's sparse SEs use
    off: np.ndarray | None  # the frailty block's off-diagonal part (G x G), when computed


FULL_STEP_GROUPS = 200
"""Up to this many groups every Newton step uses the full frailty block (``O(T G^2 + G^3)``)."""

DENSE_FRAILTY_GROUPS = 2000
"""Up to this many groups, sparse steps that have not converged in :data:`SPARSE_TRIES`
iterations give way to full steps."""

SPARSE_TRIES = 30


def _blocks(
    data: engine.CoxData, gcodes: np.ndarray, n_groups: int, p: int, nu: float,
    gam: np.ndarray, ties: engine.Ties, *, full: bool = False,
) -> _Blocks:
    """Score and information of the penalised partial likelihood without indicator columns.

    The log frailties enter as an offset ``b[g]``; the frailty score and the beta-by-frailty
    block are sums over each group's rows (``bincount``) of risk-set weights, ``O(n p)``. The
    frailty block's diagonal needs each group's risk-set sums ``S1_g(t)``: with ``full`` they
    are a dense event-times x groups array, which also gives the block's off-diagonal part
    (``O(T G^2)``); otherwise each group's step function over its own rows, ``O(n log n)``
    (:func:`_group_step_sums`). One indicator column per group cost ``O(n (p + G)^2)``.
    """
    beta, b = gam[:p], gam[p:]
    t = engine._terms(data, beta, ties, offset=b[gcodes])
    r, w = t.r, data.weights
    c = engine.risk_row_sums(data, t.term_time, t.f, t.a)
    e_g = np.bincount(gcodes, weights=r * c, minlength=n_groups)
    score_f = np.bincount(gcodes, weights=w * data.event, minlength=n_groups) - e_g
    cross = np.empty((p, n_groups))
    for j in range(p):
        xj = data.x[:, j]
        cx = engine.risk_row_sums(data, t.term_time, t.f, t.a * t.m[:, j])
        cross[j] = np.bincount(gcodes, weights=r * (xj * c - cx), minlength=n_groups)
    # sum over terms of wbar m_g^2 = (a^2 / wbar) (S1_g - f e1_g)^2, expanded, where S1_g(t) is
    # the group's risk-set sum of r at event time t; e1_g (the tied events' own sum) is non-zero
    # only for the (time, group) pairs of event rows.
    n_times = len(data.ev_count)
    q = t.a * t.a / t.wbar[t.term_time]
    q_t = np.bincount(t.term_time, weights=q, minlength=n_times)
    pairs = None
    if ties == "efron" and not data.untied:
        evr = data.ev_rows
        tt = data.ev_time_index[evr]
        pair, inv = np.unique(tt * n_groups + gcodes[evr], return_inverse=True)
        pairs = (pair // n_groups, pair % n_groups, np.bincount(inv, weights=r[evr]))
    big_m: np.ndarray | None = None
    if full:
        # S1_g(t) for every event time and group (T x G), as the engine's _risk_sums with one
        # column per group; M = sum over terms of wbar m m' = S1' Q S1 (+ Efron's terms).
        size = (n_times + 1) * n_groups
        diff = np.bincount(data.hi * n_groups + gcodes, weights=r, minlength=size)
        if data.has_start:
            diff -= np.bincount(data.lo * n_groups + gcodes, weights=r, minlength=size)
        s1 = np.cumsum(diff.reshape(n_times + 1, n_groups)[::-1], axis=0)[::-1][1:]
        quad = q_t @ (s1 * s1)
        big_m = np.asarray((s1.T * q_t) @ s1, dtype=np.float64)
        s1_at = None if pairs is None else s1[pairs[0], pairs[1]]
    else:
        # Each S1_g is a step function that changes only at its own rows' entries and exits:
        # sum its squared levels times the Q accumulated over each step, O(n log n), with no
        # T x G array (day-level times in many families would make that gigabytes).
        quad, s1_at = _group_step_sums(data, gcodes, n_groups, r, q_t, pairs)
    if pairs is not None and s1_at is not None:
        pt, pg, e1 = pairs
        qf_t = np.bincount(t.term_time, weights=q * t.f, minlength=n_times)
        qf2_t = np.bincount(t.term_time, weights=q * t.f * t.f, minlength=n_times)
        quad += np.bincount(pg, weights=e1 * (e1 * qf2_t[pt] - 2 * s1_at * qf_t[pt]),
                            minlength=n_groups)
        if big_m is not None:
            e1_dense = np.zeros((n_times, n_groups))
            e1_dense[pt, pg] = e1
            cross_se = (s1.T * qf_t) @ e1_dense
            big_m = big_m + (e1_dense.T * qf2_t) @ e1_dense - cross_se - cross_se.T
    eb = np.exp(b)
    grad = np.concatenate([t.score, score_f - nu * (eb - 1.0)])
    d = e_g - quad + nu * eb
    obj = t.loglik - nu * float(np.sum(eb - b))
    off = None
    if big_m is not None:
        off = -big_m
        off[np.diag_indices(n_groups)] = 0.0
    return _Blocks(obj, t.loglik, grad, t.info, cross, d, off)


def _group_step_sums(
    data: engine.CoxData,
    gcodes: np.ndarray,
    n_groups: int,
    r: np.ndarray,
    q_t: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``sum_t q_t S1_g(t)^2`` per group, and ``S1_g(t)`` at the (time, group) ``pairs``.

    Row i is at risk at event times ``lo_i <= t < hi_i``, so ``S1_g`` rises by ``r_i`` at
    ``lo_i`` and falls by it at ``hi_i``; between a group's change points it is constant.
    """
    n_times = len(q_t)
    width = n_times + 1
    lo = data.lo if data.has_start else np.zeros_like(data.hi)
    key = np.concatenate([gcodes * width + lo, gcodes * width + data.hi])
    change = np.concatenate([r, -r])
    order = np.argsort(key, kind="stable")
    keys, first = np.unique(key[order], return_index=True)
    delta = np.add.reduceat(change[order], first)
    group, at = keys // width, keys % width
    starts = np.r_[True, group[1:] != group[:-1]]
    ends = np.r_[starts[1:], True]
    running = np.cumsum(delta)
    # the running sum before each group's first change point, carried over the group's points
    group_first = np.maximum.accumulate(np.where(starts, np.arange(len(running)), 0))
    level = running - (running - delta)[group_first]
    level[ends] = 0.0  # every row has left its last risk set: exactly zero, not rounding
    nxt = np.r_[at[1:], n_times]
    nxt[ends] = n_times
    cq = np.concatenate([[0.0], np.cumsum(q_t)])
    quad = np.bincount(group, weights=level * level * (cq[nxt] - cq[at]), minlength=n_groups)
    if pairs is None:
        return quad, None
    pt, pg, _ = pairs
    pos = np.searchsorted(keys, pg * width + pt, side="right") - 1
    inside = (pos >= 0) & (group[np.maximum(pos, 0)] == pg)
    return quad, np.where(inside, level[np.maximum(pos, 0)], 0.0)


def _sparse_step(bl: _Blocks, p: int) -> np.ndarray:
    """Newton step: with the full information when its frailty block was computed (see
    :func:`_inner`), else with R's sparse information (diagonal frailty block) by
    the Schur complement of that block, ``O(p^2 G)``.

    The sparse step converges slowly when groups are large: shifting every log frailty
    together changes only the penalty, a direction the diagonal block does not see. Measured
    (150 groups of 200 rows, an LA frailty): no convergence in 200 sparse steps."""
    if bl.off is not None:
        info = np.block([[bl.a, bl.b], [bl.b.T, np.diag(bl.d) + bl.off]])
        return np.asarray(linalg.solve(info, bl.grad, assume_a="pos"))
    bd = bl.b / bl.d
    schur = bl.a - bd @ bl.b.T
    g_beta, g_f = bl.grad[:p], bl.grad[p:]
    step_beta = linalg.solve(schur, g_beta - bd @ g_f, assume_a="pos") if p else np.zeros(0)
    step_f = (g_f - bl.b.T @ step_beta) / bl.d
    return np.concatenate([step_beta, step_f])


def _inner(
    data: engine.CoxData,
    gcodes: np.ndarray,
    n_groups: int,
    p: int,
    theta: float,
    ties: engine.Ties,
    init: np.ndarray,
    iter_max: int = 200,
) -> tuple[np.ndarray, float, float, _Blocks, int]:
    """Maximise the penalised partial likelihood at ``theta``; (params, PL, PPL, blocks, iters).

    Newton steps with step-halving use the full information for up to
    :data:`FULL_STEP_GROUPS` groups, and otherwise R's sparse information (the frailty block's
    diagonal), switching to the full one after :data:`SPARSE_TRIES` steps for up to
    :data:`DENSE_FRAILTY_GROUPS` groups. The gradient is exact, so the optimum is the same.
    """
    nu = 1.0 / theta
    gam = init.copy()
    full = n_groups <= FULL_STEP_GROUPS
    bl = _blocks(data, gcodes, n_groups, p, nu, gam, ties, full=full)
    for it in range(1, iter_max + 1):
        if not full and it > SPARSE_TRIES and n_groups <= DENSE_FRAILTY_GROUPS:
            full = True  # large groups: the sparse steps crawl (see _sparse_step)
            bl = _blocks(data, gcodes, n_groups, p, nu, gam, ties, full=True)
        step = _sparse_step(bl, p)
        new = gam + step
        nbl = _blocks(data, gcodes, n_groups, p, nu, new, ties, full=full)
        halvings = 0
        while not (np.isfinite(nbl.obj) and nbl.obj >= bl.obj - 1e-12 * abs(bl.obj)) and halvings < 30:
            step /= 2
            new = gam + step
            nbl = _blocks(data, gcodes, n_groups, p, nu, new, ties, full=full)
            halvings += 1
        gam, bl = new, nbl
        if float(np.max(np.abs(step))) < 1e-10:
            # penalised log likelihood with the penalty's constant (exp(b) - b >= 1) removed
            ppl = bl.obj + nu * n_groups
            return gam, bl.pl, ppl, bl, it
    raise ConvergenceError(
        f"gamma frailty inner fit did not converge in {iter_max} Newton iterations at "
        f"theta={theta:.6g}; remedy: fewer groups with no events, or fewer covariates"
    )


def frailty_coxph(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str],
    event: str,
    time: str,
    group: str,
    start: str | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    eps: float = 1e-5,
    outer_max: int = 10,
) -> ModelResults:
    """Fit a Cox model with a shared gamma frailty per ``group``.

    Parameters
    ----------
    data, covariates, event, time, start, ties
        As :func:`~recurrence.models.cox.coxph`.
    group
        Column identifying the groups sharing a frailty (family, LA); more than 5 groups.
    eps
        Relative change of the marginal log likelihood that stops the theta search (R's 1e-5).
    outer_max
        Maximum theta evaluations (R's ``outer.max = 10``).

    Returns
    -------
    ModelResults
        ``params`` log hazard ratios; ``cov`` R's ``fit$var`` block; ``extra`` holds
        ``theta`` (frailty variance), ``frailty`` (log frailties by group), ``i_loglik`` (the
        integrated log likelihood at theta), ``history`` (theta, penalised PL, marginal
        loglik: R's ``fit$history[[1]]$history``). ``loglik`` is the partial likelihood at
        the estimates (R's ``fit$loglik[2]``).
    """
    check_literal("ties", ties, ("efron", "breslow"))
    # Validate everything (event, intervals, NaN, singular design) with a plain Cox fit; its
    # estimates are also the theta = 0 start of the search.
    base = coxph(data, covariates=covariates, event=event, time=time, start=start, ties=ties)
    if base.state is None or base.loglik is None:
        raise ModelInputError("the plain Cox fit that starts the frailty search kept no state")
    base_loglik = float(base.loglik)
    gcodes, levels = _codes(data, [group], "group")
    n_groups = len(levels)
    if n_groups <= 5:
        raise ModelInputError(
            f"group {group!r} has {n_groups} levels; the gamma frailty needs more than 5 "
            "(with fewer, put the group in as fixed-effect indicators)"
        )
    cd0 = base.state.data
    gcodes = gcodes[cd0.order]  # the engine's row order
    p = len(covariates)
    d_g = np.bincount(gcodes, weights=cd0.event, minlength=n_groups)
    history: list[tuple[float, float, float]] = []
    saved: list[tuple[float, np.ndarray]] = []
    theta = 0.0
    gam = np.concatenate([base.params.to_numpy(), np.zeros(n_groups)])
    blocks: _Blocks | None = None
    pl = base_loglik
    done = False
    n_outer = 0
    for outer in range(1, outer_max + 1):
        n_outer = outer
        if theta == 0:
            gam = np.concatenate([base.params.to_numpy(), np.zeros(n_groups)])
            pl = base_loglik
            correct = 0.0
        else:
            # start from the solution at the closest theta tried, as R
            init = min(saved, key=lambda s: (s[0] - theta) ** 2)[1]
            gam, pl, ppl, blocks, _ = _inner(cd0, gcodes, n_groups, p, theta, ties, init)
            correct = gamma_correction(d_g, 1.0 / theta)
        saved.append((theta, gam))
        history.append((theta, pl if theta == 0 else ppl, (pl if theta == 0 else ppl) + correct))
        if outer == 1:
            new_theta = 1.0
        elif outer == 2:
            new_theta = 0.5 if history[1][2] < history[0][2] + 1 else 2.0
        else:
            done = abs(1 - history[-1][2] / history[-2][2]) < eps
            xs = np.array([h[0] for h in history])
            ys = np.array([h[2] for h in history])
            if ys[-1] == ys.max() and xs[-1] == xs.max():
                new_theta = 2 * xs.max()
            else:
                new_theta = _parabola_step(np.sqrt(xs), ys, 0.0) ** 2
        if done:
            break
        theta = new_theta
    if not done:
        raise ConvergenceError(
            f"gamma frailty: the search for theta did not converge in {n_outer} outer "
            f"iterations (last theta {theta:.6g}); remedy: raise outer_max or check that the "
            "groups have events"
        )
    if theta == 0 or blocks is None:
        var = base.cov.to_numpy()
    else:
        var = linalg.inv(blocks.a - (blocks.b / blocks.d) @ blocks.b.T)
    names = list(covariates)
    return ModelResults(
        model="cox-gamma-frailty",
        params=pd.Series(gam[:p], index=names, dtype=np.float64),
        cov=pd.DataFrame(var, index=names, columns=names),
        scale="log-hazard",
        nobs=len(data),
        loglik=pl,
        n_events=int(cd0.event.sum()),
        n_clusters=n_groups,
        n_iter=n_outer,
        extra={
            "theta": theta,
            "i_loglik": history[-1][2],
            "frailty": pd.Series(gam[p:], index=pd.Index(levels, name=group)),
            "history": pd.DataFrame(history, columns=["theta", "ppl", "c_loglik"]),
            "ties": ties,
        },
    )
