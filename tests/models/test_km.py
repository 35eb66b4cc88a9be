"""Kaplan-Meier against survival::survfit (tests/r/km_reference.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, ref

from recurrence.errors import ModelInputError
from recurrence.models.km import kaplan_meier

COLS = ["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"]


def _r(group: str) -> pd.DataFrame:
    r = ref("km_reference.csv")
    return r[r["group"].astype(str) == group].reset_index(drop=True)


@pytest.mark.parametrize(("conf_type", "group"), [("log", "all"), ("plain", "plain"), ("log-log", "log-log")])
def test_matches_survfit(conf_type: str, group: str) -> None:
    km = kaplan_meier(data("km_ties.csv"), time="time", event="status", conf_type=conf_type)
    tab = km.table
    expected = _r(group)
    assert len(tab) == len(expected)
    for col in COLS:
        np.testing.assert_allclose(tab[col].to_numpy(float), expected[col].to_numpy(float),
                                   rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=col)


def test_groups_match_separate_fits() -> None:
    km = kaplan_meier(data("km_ties.csv"), time="time", event="status", by="group")
    for g in (0, 1):
        tab = km.table[km.table["group"] == g]
        np.testing.assert_allclose(tab["surv"], _r(str(g))["surv"], rtol=1e-10)
        np.testing.assert_allclose(tab["upper"], _r(str(g))["upper"], rtol=1e-10)


def test_step_function_and_median() -> None:
    d = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 0, 1, 0]})
    km = kaplan_meier(d, time="t", event="e")
    at = km.at([0.5, 1, 2.5, 10])
    np.testing.assert_allclose(at["surv"], [1.0, 0.8, 0.6, 0.3])
    assert km.median().loc["all"] == 3.0


def test_bad_input_messages() -> None:
    d = pd.DataFrame({"t": [1.0, -2, 3], "e": [1, 0, 1]})
    with pytest.raises(ModelInputError, match=r"t has 1 negative value\(s\); first rows: 1"):
        kaplan_meier(d, time="t", event="e")
    with pytest.raises(ModelInputError, match="e must be coded 0/1"):
        kaplan_meier(d.assign(t=1.0, e=[1, 2, 0]), time="t", event="e")
    with pytest.raises(ModelInputError, match=r"1 row\(s\) have missing"):
        kaplan_meier(d.assign(t=[1.0, np.nan, 2]), time="t", event="e")


def test_weighted_uses_survfit_variance_rule() -> None:
    d = data("km_ties.csv")
    n = np.arange(1, len(d) + 1)
    # Non-integer weights: survfit switches to the infinitesimal-jackknife variance.
    km = kaplan_meier(d.assign(w=1 + (n % 4) / 2), time="time", event="status", weights="w")
    exp = _r("weighted")
    for col in COLS:
        np.testing.assert_allclose(km.table[col].to_numpy(float), exp[col].to_numpy(float),
                                   rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=col)
    # A weighted curve that reaches 0: survfit's IJ SE there is exactly 0 and the plain limits
    # are 0 (rounding noise in the influence sum used to make them NaN).
    z = d.assign(w=1 + (n % 4) / 2)
    z.loc[z["time"] == z["time"].max(), "status"] = 1
    kz = kaplan_meier(z, time="time", event="status", weights="w", conf_type="plain").table
    exp = _r("weighted_to_zero")
    assert exp["surv"].iloc[-1] == 0 and kz["surv"].iloc[-1] == 0
    for col in COLS:
        np.testing.assert_allclose(kz[col].to_numpy(float), exp[col].to_numpy(float),
                                   rtol=1e-10, atol=1e-12, equal_nan=False, err_msg=col)
    assert kz["std_err"].iloc[-1] == 0.0
    # Integer weights keep Greenwood: equal to replicating rows.
    wi = 1 + (n % 3)
    a = kaplan_meier(d.assign(w=wi), time="time", event="status", weights="w").table
    b = kaplan_meier(d.loc[d.index.repeat(wi)], time="time", event="status").table
    np.testing.assert_allclose(a["std_err"], b["std_err"], rtol=1e-12)
    np.testing.assert_allclose(a["surv"], b["surv"], rtol=1e-12)


@pytest.mark.parametrize("case", list("abcdefg"))
def test_median_matches_r_quantile(case: str) -> None:
    """Including curves exactly 0.5 over an interval, whose midpoint R takes (km_median.csv)."""
    r = ref("km_median.csv").set_index("case").loc[case]
    d = pd.DataFrame({"t": [float(v) for v in r["time"].split()],
                      "e": [int(v) for v in r["event"].split()]})
    got = kaplan_meier(d, time="t", event="e").median().loc["all"]
    if pd.isna(r["median"]):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(float(r["median"]), abs=1e-12)
