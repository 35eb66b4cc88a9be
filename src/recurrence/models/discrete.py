"""Discrete-time hazard models on person-period data, and the person-period builder.

When recurrence is recorded in coarse units (census years, quarters) or with many ties, the
natural model is for the discrete hazard ``h(k | x) = P(T = k | T >= k, x)`` of recurrence in
interval ``k`` given none before (Singer and Willett 2003, *Applied Longitudinal Data Analysis*,
ch. 10-12; Allison 1982, *Sociological Methodology* 13:61-98). Expanding each subject to one row
per interval at risk (the *person-period* table) turns the likelihood into that of a binary
regression of the interval's event indicator:

* ``link="logit"``: ``logit h(k | x) = alpha_k + x' beta`` -- estimates on the **log-odds**
  scale of the discrete hazard (a proportional-odds model);
* ``link="cloglog"``: ``log(-log(1 - h(k | x))) = alpha_k + x' beta`` -- estimates on the
  **log-hazard** scale: the grouped-time version of the Cox model, so ``exp(beta)`` is a hazard
  ratio of the underlying continuous-time process (Prentice and Gloeckler 1978, *Biometrics*
  34:57-67).

The baseline ``alpha_k`` is one parameter per interval (``baseline="step"``, named
``period[T.k]`` against interval 1 as in R's ``factor(period)``), or a linear trend in ``k``.
Fits use :func:`recurrence.models.logistic.logit_arrays` and match R's
``glm(y ~ factor(period) + x, family = binomial(link))`` on the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from recurrence.errors import ModelInputError
from recurrence.models._design import build_design, check_binary, check_finite
from recurrence.models.base import check_literal
from recurrence.models.logistic import CovType, Link, LogitResults, logit_arrays

Baseline = Literal["step", "linear"]
BASELINES: tuple[str, ...] = get_args(Baseline)


def person_period(
    frame: pd.DataFrame,
    *,
    id: str,
    time: str,
    event: str,
    interval_width: float = 1.0,
    covariates: Sequence[str] = (),
) -> pd.DataFrame:
    """Expand one row per subject into one row per interval at risk.

    Subject ``i`` with follow-up ``T_i`` (time to recurrence or censoring, in the units of
    ``time``) is at risk in intervals ``k = 1..K_i`` with ``K_i = max(1, ceil(T_i / width))``;
    interval ``k`` covers ``((k-1) width, k width]``. The row for interval ``K_i`` has
    ``event = 1`` when the subject's event was observed, all other rows 0. A subject censored
    inside interval ``K_i`` counts as surviving it (the usual convention, Singer and Willett
    2003, section 10.5; it slightly understates the hazard of the last interval when censoring is
    heavy within intervals -- choose ``interval_width`` to match how time was recorded).

    Parameters
    ----------
    frame
        One row per subject (not modified).
    id
        Subject identifier column (must be unique).
    time
        Follow-up time (>= 0).
    event
        0/1 event indicator.
    interval_width
        Width of each interval in the units of ``time`` (e.g. 365.25 for years of days).
    covariates
        Time-fixed columns copied to every row.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``period`` (1-based int), ``period_start``, ``period_end``, ``event``
        (0/1 int), then the covariates, sorted by subject and period.
    """
    if not interval_width > 0:
        raise ModelInputError(f"interval_width must be positive; got {interval_width}")
    cols = [id, time, event, *covariates]
    check_finite(frame, [time, event, *covariates])
    if frame[id].duplicated().any():
        dup = frame.loc[frame[id].duplicated(), id].iloc[:5].tolist()
        raise ModelInputError(f"{id} must be unique (one row per subject); repeated: {dup}")
    t = frame[time].to_numpy(dtype=float)
    if (t < 0).any():
        raise ModelInputError(f"{time} has {int((t < 0).sum())} negative value(s)")
    e = check_binary(frame[event].to_numpy(), event).astype(int)
    k = np.maximum(1, np.ceil(t / interval_width - 1e-12)).astype(np.int64)
    rep = np.repeat(np.arange(len(frame)), k)
    start = np.cumsum(k) - k
    period = np.arange(len(rep)) - np.repeat(start, k) + 1
    last = period == k[rep]
    out = frame[cols].iloc[rep].reset_index(drop=True)
    out = out.drop(columns=[time, event])
    out.insert(1, "period", period)
    out.insert(2, "period_start", (period - 1) * interval_width)
    out.insert(3, "period_end", period * interval_width)
    out.insert(4, "event", (e[rep] * last).astype(int))
    return out


def discrete_hazard(
    pp: pd.DataFrame,
    *,
    covariates: Sequence[str],
    event: str = "event",
    period: str = "period",
    link: Link = "cloglog",
    baseline: Baseline = "step",
    cluster: str | None = None,
    cov_type: CovType = "model",
) -> LogitResults:
    """Fit a discrete-time hazard model to a person-period table.

    Parameters
    ----------
    pp
        Person-period table, e.g. from :func:`person_period`.
    covariates
        Covariate columns.
    event, period
        Event indicator and 1-based interval columns.
    link
        ``"cloglog"`` (log-hazard scale, grouped-time proportional hazards) or ``"logit"``
        (log-odds of the discrete hazard).
    baseline
        ``"step"``: intercept plus one dummy per later interval (``period[T.k]``);
        ``"linear"``: intercept plus a linear term in ``period``.
    cluster, cov_type
        Cluster-robust SEs, as :func:`recurrence.models.logistic.logit` (cluster by subject
        gives SEs robust to the repeated rows; by LA for LA-level dependence).
    """
    check_literal("baseline", baseline, BASELINES)
    check_literal("link", link, ("logit", "cloglog"))
    extra = [event, period] + ([cluster] if cluster else [])
    design = build_design(pp, covariates, intercept=True, extra=extra)
    per = pp[period].to_numpy()
    if baseline == "step":
        levels = np.unique(per)
        dummies = [(per == lv).astype(float) for lv in levels[1:]]
        names = [f"{period}[T.{lv}]" for lv in levels[1:]]
    else:
        dummies = [per.astype(float)]
        names = [period]
    X = np.column_stack([design.X[:, :1], *dummies, design.X[:, 1:]])
    all_names = [design.names[0], *names, *design.names[1:]]
    y = check_binary(pp[event].to_numpy(), event)
    return logit_arrays(
        X,
        y,
        all_names,
        cluster=None if cluster is None else pp[cluster].to_numpy(),
        cov_type=cov_type,
        link=link,
        outcome=event,
        covariates=list(covariates),
    )
