"""Vectorised counting-process Cox engine (numpy/scipy), on the pattern of R survival's ``agreg``.

Why an own engine: lifelines and statsmodels loop over event times in Python or hold risk sets
explicitly, which is 5-10 times slower than R on national-scale counting-process data (issue 4).
Here every quantity is built from sorted cumulative sums, so one Newton iteration costs
``O(n p^2)`` BLAS work plus ``O(n p)`` cumulative sums, with no Python loop over event times.

Model and notation
------------------
Rows are intervals ``(start, stop]`` (``start = -inf`` for right-censored data) with an event
indicator at ``stop``, case weights ``w`` and a stratum. For an event time ``t`` of a stratum, the
risk set is ``{i in stratum: start_i < t <= stop_i}`` (R's convention: a row starting at ``t`` is
not at risk at ``t``). With ``r_i = w_i exp(x_i'beta)``,

``S0(t) = sum_{i at risk} r_i``, ``S1(t) = sum r_i x_i``

are obtained as differences of two reverse cumulative sums over the sorted event times, one of
rows by their stop time (rows with ``stop >= t``) and one of rows by their start time (rows with
``start >= t``, which are subtracted) -- the two sort orders of ``agreg``. Each row is binned
once (``searchsorted`` of its start and stop among the event times); an iteration then costs one
weighted ``bincount`` per column and a cumulative sum over the event times, with no sorting and
no gathering of ``n x p`` arrays.

Ties. With ``d`` tied events at ``t`` (``e0``, ``e1`` the sums of ``r``, ``r x`` over them and
``wbar`` their mean case weight), Efron's approximation uses the denominators
``S0 - f_j e0`` with ``f_j = j/d``, ``j = 0..d-1``; Breslow's is the same with every ``f_j = 0``.
Each event time is expanded into its ``d`` terms (as many terms as events in total), so both
methods are one vectorised computation. The log partial likelihood is

``l(beta) = sum_events w_i x_i'beta - sum_t sum_j wbar log(S0 - f_j e0)``.

The information matrix ``sum_tj wbar [S2_tj / D_tj - m_tj m_tj']`` (``m = S1_tj / D_tj``) never
needs the running sums of ``x x'``: with ``a_tj = wbar / D_tj`` its first part equals
``X' diag(r_i c_i) X`` where ``c_i`` is the sum of ``sum_j a_tj`` over the event times at which row
``i`` is at risk, minus ``sum_j a_tj f_j`` at its own event time (the Efron down-weighting of the
tied events themselves). That is one ``n x p`` by ``p x n`` product per iteration.

Newton-Raphson follows ``coxph.control``: start at zero, stop when
``|1 - l_old / l_new| <= eps`` (``eps = 1e-9``, at most 20 iterations), and halve the step when
the log likelihood decreases, so the estimates follow R's iteration path.

Robust (sandwich) variance: ``V = D'D`` with ``D`` the dfbeta residuals ``w_i U_i V_model``
summed within clusters, where ``U_i`` are the score residuals, exactly as R's
``coxph(..., cluster = )``.

All estimates are on the log-hazard scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from recurrence.errors import ConvergenceError, ModelInputError

Ties = Literal["efron", "breslow"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CoxData:
    """Sorted index structures of a counting-process Cox problem, built once per fit.

    Attributes
    ----------
    x
        Centred covariates, ``n x p`` (float64, row order of the input).
    weights
        Case weights (``n``).
    event
        Event indicator as float (``n``).
    event_keys
        Sorted unique keys of the event times (one per stratum and event time).
    ev_rows
        Event rows sorted by key; ``ev_start`` the offsets of each event time's group in it.
    ev_time_index
        For every row, the index of its own event time (``-1`` for censored rows).
    lo, hi
        For every row, the event times at which it is at risk are ``lo <= k < hi``.
    order
        Rows are stored in (stratum, stop) order: row ``i`` here is input row ``order[i]``.
    """

    x: FloatArray
    weights: FloatArray
    event: FloatArray
    event_keys: IntArray
    ev_rows: IntArray
    ev_start: IntArray
    ev_count: FloatArray
    ev_time_index: IntArray
    lo: IntArray
    hi: IntArray
    order: IntArray
    event_times: FloatArray
    event_strata: IntArray
    x_ev: FloatArray
    w_ev: FloatArray
    term_time: IntArray
    frac: FloatArray
    tied_terms: IntArray  # terms (event rows) of event times with tied events
    tied_group: IntArray  # their tied event time, numbered 0..
    stop: FloatArray
    start: FloatArray | None
    has_start: bool  # some row leaves a risk set by its start (counting process or strata)
    untied: bool


def prepare(
    x: FloatArray,
    stop: FloatArray,
    event: FloatArray,
    *,
    start: FloatArray | None = None,
    strata: IntArray | None = None,
    weights: FloatArray | None = None,
) -> CoxData:
    """Build the sort orders and risk-set boundaries (done once; Newton iterations reuse them).

    Parameters
    ----------
    x
        Covariates (``n x p``), already centred if wanted.
    stop, event
        Interval end (or survival time) and 0/1 event indicator.
    start
        Interval start; ``None`` for right-censored data (``start = -inf``).
    strata
        Integer stratum codes ``0..S-1``; ``None`` for one stratum.
    weights
        Case weights; ``None`` for ones.
    """
    n = stop.shape[0]
    st = np.zeros(n, dtype=np.int64) if strata is None else strata.astype(np.int64)
    w = np.ones(n) if weights is None else weights.astype(np.float64)
    ev = event.astype(np.float64)
    # Ranks of all distinct times (start and stop together) make exact-tie comparisons integer.
    if start is None:
        uniq, stop_rank = np.unique(stop, return_inverse=True)
        start_rank = np.full(n, -1, dtype=np.int64)
        k = len(uniq) + 2
        stop_rank = stop_rank.astype(np.int64) + 1
        start_rank = start_rank + 1  # rank 0: before every time
    else:
        uniq, inv = np.unique(np.concatenate([start, stop]), return_inverse=True)
        inv = inv.astype(np.int64) + 1
        start_rank, stop_rank = inv[:n], inv[n:]
        k = len(uniq) + 2
    base = st * k
    stop_key = base + stop_rank
    start_key = base + start_rank
    # Rows are put in (stratum, stop) order once: the risk-set sums over "stop >= t" become
    # suffix sums of contiguous columns, and event rows are read sequentially.
    order = np.argsort(stop_key, kind="stable").astype(np.int64)
    if not np.array_equal(order, np.arange(n)):
        stop_key, start_key = stop_key[order], start_key[order]
        w, ev, stop, st = w[order], ev[order], stop[order], st[order]
        start = None if start is None else start[order]
        xs = np.empty(x.shape, order="F")
        for j in range(x.shape[1]):
            xs[:, j] = x[order, j]
        x = xs
    is_ev = ev > 0
    ev_idx = np.flatnonzero(is_ev)
    ev_rows = ev_idx[np.argsort(stop_key[ev_idx], kind="stable")].astype(np.int64)
    ev_keys_all = stop_key[ev_rows]
    event_keys, ev_start, counts = np.unique(ev_keys_all, return_index=True, return_counts=True)
    ev_time_index = np.full(n, -1, dtype=np.int64)
    ev_time_index[ev_rows] = np.repeat(np.arange(len(event_keys)), counts)
    # Event time k is at risk for row i when start_key_i < key_k <= stop_key_i (same stratum,
    # guaranteed because keys of different strata never interleave).
    lo = np.searchsorted(event_keys, start_key, side="right").astype(np.int64)
    hi = np.searchsorted(event_keys, stop_key, side="right").astype(np.int64)
    ev_strata = event_keys // k
    # Everything about the event rows that does not depend on beta is computed once here.
    d_int = counts.astype(np.int64)
    term_time = np.repeat(np.arange(len(event_keys)), d_int)
    frac = (np.arange(len(ev_rows)) - np.repeat(ev_start, d_int)) / np.repeat(counts, d_int)
    tied_terms = np.flatnonzero(np.repeat(counts, d_int) > 1).astype(np.int64)
    tied_group = np.unique(term_time[tied_terms], return_inverse=True)[1].astype(np.int64)
    times_all = uniq
    event_times = times_all[(event_keys % k) - 1]
    return CoxData(
        x=np.asfortranarray(x, dtype=np.float64),
        weights=w,
        event=ev,
        event_keys=event_keys.astype(np.int64),
        ev_rows=ev_rows,
        ev_start=ev_start.astype(np.int64),
        ev_count=counts.astype(np.float64),
        ev_time_index=ev_time_index,
        lo=lo,
        hi=hi,
        order=order,
        event_times=event_times,
        event_strata=ev_strata.astype(np.int64),
        x_ev=np.asfortranarray(x[ev_rows], dtype=np.float64),
        w_ev=w[ev_rows],
        term_time=term_time.astype(np.int64),
        frac=frac.astype(np.float64),
        tied_terms=tied_terms,
        tied_group=tied_group,
        stop=stop,
        start=start,
        has_start=bool(lo.any()),
        untied=bool((counts == 1).all()),
    )


def _risk_sums(
    values: FloatArray, lo: IntArray | None, hi: IntArray, n_times: int
) -> FloatArray:
    """Sums of ``values`` over the rows at risk at each event time (``lo_i <= k < hi_i``).

    ``sum_{i: hi_i > k} v_i - sum_{i: lo_i > k} v_i``, each a reverse cumulative sum of a
    ``bincount`` (sequential for ``hi``, as rows are sorted by stop): late event times only
    accumulate late rows, which keeps small risk sets
    accurate (the reason ``agreg`` also sums from the end). ``lo=None`` for right-censored
    data, where no row leaves the risk set by its start.
    """
    diff = np.bincount(hi, weights=values, minlength=n_times + 1)
    if lo is not None:
        diff -= np.bincount(lo, weights=values, minlength=n_times + 1)
    out: FloatArray = np.cumsum(diff[::-1], dtype=np.float64)[::-1][1:]
    return out


@dataclass
class _Terms:
    """Per-iteration quantities at one ``beta`` (event times expanded into Efron terms)."""

    loglik: float
    score: FloatArray
    info: FloatArray
    s0: FloatArray  # per event time
    wbar: FloatArray
    term_time: IntArray  # event time of each expanded term
    f: FloatArray  # Efron fraction of each term
    a: FloatArray  # wbar / D per term
    m: FloatArray  # S1_tj / D_tj per term
    r: FloatArray  # w exp(eta - shift) per row
    shift: float


def _terms(
    data: CoxData,
    beta: FloatArray,
    ties: Ties,
    *,
    need_info: bool = True,
    offset: FloatArray | None = None,
) -> _Terms:
    x, w = data.x, data.weights
    eta = x @ beta if x.shape[1] else np.zeros(x.shape[0])
    if offset is not None:
        eta = eta + offset  # in the engine's row order (the frailty fit's log frailties)
    # A common shift keeps exp() finite; it cancels in every ratio and is added back to l.
    shift = float(eta.max()) if eta.size else 0.0
    r = w * np.exp(eta - shift)
    nt_ = len(data.ev_count)
    p = x.shape[1]
    lo = data.lo if data.has_start else None
    s0 = _risk_sums(r, lo, data.hi, nt_)
    # Sums over the tied events of each event time, then the d Efron terms j = 0..d-1 of each
    # event time (the terms are the event rows, in event-time order). All n x p and terms x p
    # work runs a covariate (contiguous column) at a time: strided row access costs more than
    # the arithmetic at this size.
    evr = data.ev_rows
    r_ev = r[evr]
    tt = data.term_time
    d = data.ev_count
    n_terms = len(evr)
    f = data.frac if ties == "efron" else np.zeros(n_terms)
    wbar = np.bincount(tt, weights=data.w_ev, minlength=nt_) / d
    if data.untied:
        e0 = r_ev
        den, wb = s0, wbar
    else:
        e0 = np.asarray(np.bincount(tt, weights=r_ev, minlength=nt_), dtype=np.float64)
        den = s0[tt] - f * e0[tt]
        wb = wbar[tt]
    m = np.empty((n_terms, p), order="F")
    # Efron's e1 correction only touches the 2nd..d-th terms of tied times (f > 0), so the
    # tied groups are handled on their own, usually a small subset.
    tg = data.tied_terms
    use_e1 = ties == "efron" and len(tg) > 0
    r_tg = r_ev[tg]
    for col in range(p):
        s1c = _risk_sums(r * x[:, col], lo, data.hi, nt_)
        num = s1c if data.untied else s1c[tt]
        if use_e1:
            e1c = np.bincount(data.tied_group, weights=r_tg * data.x_ev[tg, col])
            num[tg] -= f[tg] * e1c[data.tied_group]
        m[:, col] = num / den
    term_time = tt
    x_ev = data.x_ev
    a = wb / den
    eta_ev = eta[evr]
    loglik = float(np.dot(w[evr], eta_ev) - np.dot(wb, np.log(den)) - shift * wb.sum())
    xsum = data.w_ev @ x_ev
    score = xsum - wb @ m
    info = np.empty((x.shape[1], x.shape[1]))
    if need_info:
        c_row = risk_row_sums(data, term_time, f, a)
        # c_row >= 0 in exact arithmetic (Efron removes at most the whole own-time term); the
        # clip only guards rounding, and the square-root form lets BLAS use a symmetric product.
        xs = x * np.sqrt(np.clip(r * c_row, 0.0, None))[:, None]
        ms = m * np.sqrt(wb)[:, None]
        info = xs.T @ xs - ms.T @ ms
    return _Terms(
        loglik=loglik,
        score=score,
        info=info,
        s0=s0,
        wbar=wbar,
        term_time=term_time,
        f=f,
        a=a,
        m=m,
        r=r,
        shift=shift,
    )


def risk_row_sums(data: CoxData, term_time: IntArray, f: FloatArray, v: FloatArray) -> FloatArray:
    """Per row, the sum of the per-term values ``v`` over the (Efron) terms at which the row is
    at risk, less ``f v`` over its own event time's terms.

    With ``v = a = wbar / D`` this is the weight ``c_i`` with which row i enters every risk-set
    sum of the information (``X' diag(r c) X``); the frailty fit uses it with other ``v``.
    """
    n_times = len(data.ev_count)
    cum = np.concatenate([[0.0], np.cumsum(np.bincount(term_time, weights=v, minlength=n_times))])
    out: FloatArray = cum[data.hi] - cum[data.lo]
    evr = data.ev_rows
    own = np.bincount(term_time, weights=v * f, minlength=n_times)
    out[evr] -= own[data.ev_time_index[evr]]
    return out


def weighted_information(data: CoxData, terms: _Terms, g: FloatArray) -> FloatArray:
    """``sum_tj g_t wbar_t V_tj``: the information matrix with each event time weighted by g_t.

    ``V_tj = S2_tj / D_tj - m_tj m_tj'`` is the (Efron) risk-set covariance of ``x``; with
    ``g = 1`` this is the Cox information. ``cox.zph`` needs ``g(t)`` and ``g(t)^2``.
    Computed with the same ``X' diag(r c) X`` identity as the information, in ``O(n p^2)``.
    """
    x = data.x
    tt = terms.term_time
    gt = g[tt]
    c_row = risk_row_sums(data, tt, terms.f, terms.a * gt)
    wb = terms.wbar[tt] if not data.untied else terms.wbar
    out: FloatArray = (x.T * (terms.r * c_row)) @ x - (terms.m.T * (wb * gt)) @ terms.m
    return out


@dataclass
class CoxFit:
    """Output of :func:`fit`: estimates on the centred covariates (log-hazard scale)."""

    beta: FloatArray
    var: FloatArray
    loglik: float
    loglik_null: float
    score_test: float
    n_iter: int
    converged: bool
    info: FloatArray
    terms: _Terms = field(repr=False)


def _solve_spd(info: FloatArray, u: FloatArray) -> FloatArray:
    try:
        c = linalg.cho_factor(info, check_finite=False)
        sol: FloatArray = linalg.cho_solve(c, u, check_finite=False)
    except linalg.LinAlgError:
        sol = np.asarray(np.linalg.lstsq(info, u, rcond=None)[0], dtype=np.float64)
    return sol


def singular_terms(
    info: FloatArray, names: list[str], scale: FloatArray, tol: float = 1e-10
) -> list[str]:
    """Names of the terms in the null space of the information matrix (collinear terms).

    A diagonal element that is zero relative to ``scale`` (the weighted sum of squares of that
    covariate over the events) means a covariate constant within every risk set, singular on
    its own. Otherwise ``info`` is scaled to unit diagonal, so the eigenvalue tolerance is
    free of the covariates' units, and terms loading on a null eigenvector are returned.
    """
    p = info.shape[0]
    diag = np.diag(info).copy()
    bad = [names[i] for i in range(p) if not diag[i] > tol * scale[i] or not diag[i] > 0]
    if bad:
        return bad
    sc = 1.0 / np.sqrt(diag)
    scaled = info * sc[:, None] * sc[None, :]
    vals, vecs = np.linalg.eigh(scaled)
    null = vecs[:, vals < tol * max(1.0, float(vals.max()))]
    if null.shape[1] == 0:
        return []
    load = np.abs(null).max(axis=1)
    return [names[i] for i in range(p) if load[i] > 1e-6]


def fit(
    data: CoxData,
    *,
    ties: Ties = "efron",
    names: list[str],
    eps: float = 1e-9,
    iter_max: int = 20,
    init: FloatArray | None = None,
) -> CoxFit:
    """Newton-Raphson with step-halving on the log partial likelihood, as ``coxph.control``.

    Raises
    ------
    ModelInputError
        When the information matrix is singular at the start (collinear terms, named).
    ConvergenceError
        When ``iter_max`` iterations pass without meeting the convergence criterion.
    """
    p = data.x.shape[1]
    beta = np.zeros(p) if init is None else init.astype(np.float64).copy()
    t = _terms(data, beta, ties)
    loglik_null = t.loglik
    scale = data.w_ev @ (data.x_ev * data.x_ev)
    bad = singular_terms(t.info, names, scale)
    if bad:
        raise ModelInputError(
            "singular design: the information matrix is not invertible; collinear (or constant "
            f"within every risk set) terms: {', '.join(bad)}. Drop or combine them."
        )
    step = _solve_spd(t.info, t.score)
    score_test = float(np.dot(t.score, step))
    old = t
    oldbeta = beta
    newbeta = beta + step
    converged = False
    it = 0
    halving = 0
    while it < iter_max:
        it += 1
        nt = _terms(data, newbeta, ties)
        finite = np.isfinite(nt.loglik) and np.all(np.isfinite(nt.info))
        # Like coxfit6/agfit4: converged only on a full (not halved) Newton step.
        if finite and halving == 0 and abs(1.0 - old.loglik / nt.loglik) <= eps:
            beta, t = newbeta, nt
            converged = True
            break
        if not finite or nt.loglik < old.loglik:
            # Step-halving towards the last accepted point, as coxph does.
            halving += 1
            newbeta = (newbeta + oldbeta) / 2
            continue
        halving = 0
        oldbeta, old = newbeta, nt
        newbeta = newbeta + _solve_spd(nt.info, nt.score)
        beta, t = oldbeta, old
    if not converged:
        raise ConvergenceError(
            f"Cox model did not converge in {iter_max} Newton iterations (last relative change "
            f"in log partial likelihood above {eps:g}); estimates may be infinite (a covariate "
            "that perfectly predicts events) -- check for monotone likelihood, drop or combine "
            "sparse terms, or raise iter_max."
        )
    bad = singular_terms(t.info, names, scale)
    if bad:
        raise ModelInputError(
            "singular design: the information matrix is not invertible at the estimate; "
            f"collinear terms: {', '.join(bad)}. Drop or combine them."
        )
    var = linalg.inv(t.info)
    var = (var + var.T) / 2
    # R's check for infinite coefficients (coxph.fit, toler.inf = sqrt(eps)): the Newton step
    # still to take is not negligible although the log likelihood stopped changing, i.e. the
    # likelihood is monotone in that coefficient and the estimate is drifting to infinity.
    nxt = np.abs(t.score @ var)
    infinite = (nxt > eps) & (nxt > np.sqrt(eps) * np.abs(beta))
    if infinite.any():
        bad_terms = [names[i] for i in np.flatnonzero(infinite)]
        raise ConvergenceError(
            f"Cox model: the log partial likelihood converged after {it} Newton iterations but "
            f"the coefficient of {', '.join(bad_terms)} did not (monotone likelihood: it is "
            "drifting to +/- infinity, typically because every event is in one level of that "
            "covariate). Remedy: combine sparse categories or drop the term; a Firth-penalised "
            "Cox model gives finite estimates."
        )
    return CoxFit(
        beta=beta,
        var=var,
        loglik=t.loglik,
        loglik_null=loglik_null,
        score_test=score_test,
        n_iter=it,
        converged=converged,
        info=t.info,
        terms=t,
    )


def score_residuals(data: CoxData, terms: _Terms) -> FloatArray:
    """Score residuals ``U_i`` (``n x p``, unweighted), as R's ``residuals(type = "score")``.

    ``U_i = delta_i (x_i - mean_j m_tj) - r_i/w_i sum_{t at risk} sum_j a_tj' (x_i - m_tj)``
    where the tied events of ``t`` itself are down-weighted by ``1 - f_j`` (Efron).
    """
    x = data.x
    p = x.shape[1]
    d = data.ev_count
    tt = terms.term_time
    a = terms.a
    nt = len(d)
    a_time = np.bincount(tt, weights=a, minlength=nt)
    # Terms are stored grouped by event time, so group sums are reduceat's.
    starts = data.ev_start
    am_time = np.add.reduceat(a[:, None] * terms.m, starts, axis=0)
    a2 = a * (1 - terms.f)
    a2_time = np.bincount(tt, weights=a2, minlength=nt)
    a2m_time = np.add.reduceat(a2[:, None] * terms.m, starts, axis=0)
    mbar_time = np.add.reduceat(terms.m, starts, axis=0) / d[:, None]
    ca = np.concatenate([[0.0], np.cumsum(a_time)])
    c_a = ca[data.hi] - ca[data.lo]
    evr = data.ev_rows
    k = data.ev_time_index[evr]
    c_a[evr] += a2_time[k] - a_time[k]
    risk = terms.r / data.weights  # exp(eta - shift): the shift is inside a via 1/D
    resid = np.empty(x.shape, order="F")
    # Column by column: O(n) gathers from the short per-event-time cumulative sums.
    for col in range(p):
        cam = np.concatenate([[0.0], np.cumsum(am_time[:, col])])
        c_am = cam[data.hi] - cam[data.lo]
        c_am[evr] += a2m_time[k, col] - am_time[k, col]
        rc = -(risk * (x[:, col] * c_a - c_am))
        rc[evr] += x[evr, col] - mbar_time[k, col]
        resid[:, col] = rc
    return resid


def robust_variance(
    data: CoxData, result: CoxFit, cluster: IntArray | None
) -> tuple[FloatArray, FloatArray]:
    """Sandwich variance ``D'D`` of R's ``coxph(robust = TRUE)`` / ``cluster = ``.

    ``D`` are the weighted dfbeta residuals ``w_i U_i V`` summed within ``cluster`` (each row its
    own cluster when ``None``). Returns the variance and the per-cluster ``D``.
    """
    u = score_residuals(data, result.terms)
    u *= data.weights[:, None]
    if cluster is not None:
        # Sum the weighted score residuals within clusters first (p columns of bincount), then
        # multiply by V: the same D = (sum_cluster w U) V with far fewer operations.
        ncl = int(cluster.max()) + 1 if cluster.size else 0
        uc: FloatArray = np.empty((ncl, u.shape[1]))
        for j in range(u.shape[1]):
            uc[:, j] = np.bincount(cluster, weights=u[:, j], minlength=ncl)
    else:
        uc = u
    dd = np.asarray(uc @ result.var, dtype=np.float64)
    v = np.asarray(dd.T @ dd, dtype=np.float64)
    return v, dd


def baseline_hazard(data: CoxData, terms: _Terms) -> tuple[FloatArray, FloatArray, IntArray]:
    """Increments of the baseline cumulative hazard at the centring point, per event time.

    ``dH(t) = sum_j wbar / (S0 - f_j e0)``: the Breslow estimator, with Efron's tie correction
    when the fit used Efron (``survfit.coxph`` with its default ``ctype``). Returns
    ``(times, increments, strata)`` in (stratum, time) order.
    """
    inc = np.bincount(terms.term_time, weights=terms.a, minlength=len(data.ev_count))
    # Undo the exp(-shift) scaling of r: the risk of a row is exp(eta), not exp(eta - shift).
    inc = inc * np.exp(-terms.shift)
    return data.event_times, inc, data.event_strata
