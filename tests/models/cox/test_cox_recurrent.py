"""Recurrent-event helpers against R (AG, PWP total and gap time; cox_reference.R configs).

The helpers derive the event number and gap times themselves; R was given them precomputed by
tests/r/make_cox_datasets.py (event numbers pooled above 4). Tolerances as test_model.py:
coefficients rtol 1e-6, SEs rtol 1e-6 (measured 4e-14).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cox_refdata import load, ref

from recurrence.errors import ModelInputError
from recurrence.models.cox.recurrent import andersen_gill, event_number, gap_times, pwp

COEF = ref("cox_coef")
COVS = ["x1", "x2", "tv"]


@pytest.fixture(scope="module")
def rec() -> pd.DataFrame:
    return load("cox_recurrent")


def _check(res, config: str, ties: str) -> None:
    r = COEF[(COEF.config == config) & (COEF.ties == ties)].set_index("term")
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.se(), r["robust_se"], rtol=1e-6)
    np.testing.assert_allclose(res.extra["naive_se"], r["se"], rtol=1e-6)


def test_event_number_and_gap_times_match_the_generator(rec) -> None:
    shuffled = rec.sample(frac=1.0, random_state=1)  # order must not matter
    n = event_number(shuffled, id="id", start="start", event="event")
    np.testing.assert_array_equal(n.clip(upper=4).loc[rec.index], rec["enum"])
    a, b = gap_times(shuffled, id="id", start="start", stop="stop", event="event")
    np.testing.assert_allclose(a.loc[rec.index], rec["gstart"])
    np.testing.assert_allclose(b.loc[rec.index], rec["gstop"])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_andersen_gill_matches_r(rec, ties: str) -> None:
    res = andersen_gill(rec, id="id", covariates=COVS, event="event", start="start", stop="stop", ties=ties)
    _check(res, "ag", ties)
    assert res.n_clusters == rec["id"].nunique()


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize(("timescale", "config"), [("total", "pwp_total"), ("gap", "pwp_gap")])
def test_pwp_matches_r(rec, ties: str, timescale: str, config: str) -> None:
    res = pwp(
        rec.drop(columns=["enum", "gstart", "gstop"]),
        id="id",
        covariates=COVS,
        event="event",
        start="start",
        stop="stop",
        timescale=timescale,  # type: ignore[arg-type]
        max_stratum=4,
        ties=ties,
    )
    _check(res, config, ties)


def test_pwp_rejects_bad_options(rec) -> None:
    with pytest.raises(ValueError, match="timescale must be one of"):
        pwp(rec, id="id", covariates=COVS, event="event", start="start", stop="stop", timescale="calendar")  # type: ignore[arg-type]
    with pytest.raises(ModelInputError, match="max_stratum must be >= 1"):
        pwp(rec, id="id", covariates=COVS, event="event", start="start", stop="stop", max_stratum=0)


def test_gap_times_run_from_the_previous_event_across_dropped_intervals() -> None:
    """Open-episode intervals left out: the clock still starts at the previous event.

    Referrals at days 0, 180 and 365 (events at 180 and 365), each episode open for about two
    months; the remaining intervals are (60, 180], (240, 365] and (396, 820].
    """
    d = pd.DataFrame({"id": 1, "start": [60, 240, 396], "stop": [180, 365, 820],
                      "event": [1, 1, 0]})
    a, b = gap_times(d, id="id", start="start", stop="stop", event="event")
    assert list(zip(a, b, strict=True)) == [(60, 180), (60, 185), (31, 455)]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_gap_time_pwp_keeps_ties_when_times_are_in_years(rec, ties: str) -> None:
    """A Cox fit depends on time only through its order and ties, so days and days / 365.25
    must give the same fit. Gap times computed in years differ by a few ulps where the days
    were equal; without R's timefix those ties split (coefficients 9% off R on such data)."""
    data = rec.drop(columns=["enum", "gstart", "gstop"])
    years = data.assign(start=data["start"] * 30 / 365.25, stop=data["stop"] * 30 / 365.25)
    kw = dict(id="id", covariates=COVS, event="event", start="start", stop="stop",
              timescale="gap", max_stratum=4, ties=ties)
    in_days = pwp(data, **kw)  # type: ignore[arg-type]
    in_years = pwp(years, **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(in_years.params, in_days.params, rtol=1e-10)
    np.testing.assert_allclose(in_years.se(), in_days.se(), rtol=1e-10)
    assert in_years.loglik == pytest.approx(in_days.loglik, rel=1e-12)
    _check(in_years, "pwp_gap", ties)


def test_robust_without_cluster_is_refused_for_intervals(rec) -> None:
    from recurrence.models.cox import coxph

    with pytest.raises(ModelInputError, match="needs cluster="):
        coxph(rec, covariates=COVS, event="event", time="stop", start="start", robust=True)
    res = coxph(rec, covariates=COVS, event="event", time="stop", start="start", cluster="id")
    assert res.n_clusters == rec["id"].nunique()


def test_timefix_false_keeps_float_ties_and_rounding_size_intervals_are_refused(rec) -> None:
    from recurrence.models.cox import coxph

    data = rec.drop(columns=["enum", "gstart", "gstop"])
    years = data.assign(start=data["start"] * 30 / 365.25, stop=data["stop"] * 30 / 365.25)
    kw = dict(id="id", covariates=COVS, event="event", start="start", stop="stop",
              timescale="gap", max_stratum=4)
    merged = pwp(years, **kw)  # type: ignore[arg-type]
    a, b = gap_times(years, id="id", start="start", stop="stop", event="event")
    exact = coxph(years.assign(a=a, b=b, n=event_number(years, id="id", start="start",
                                                        event="event").clip(upper=4)),
                  covariates=COVS, event="event", time="b", start="a", strata="n", cluster="id",
                  timefix=False)
    assert not np.allclose(exact.params, merged.params, rtol=1e-4)
    tiny = data.iloc[:50].copy()
    tiny.loc[tiny.index[0], "stop"] = tiny.loc[tiny.index[0], "start"] + 1e-12
    with pytest.raises(ModelInputError, match="rounding size"):
        coxph(tiny, covariates=COVS, event="event", time="stop", start="start", cluster="id")
