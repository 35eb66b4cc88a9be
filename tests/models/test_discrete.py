"""Person-period builder and discrete-time hazard models against R glm (tests/r/glm_discrete.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data, ref

from recurrence.errors import ModelInputError
from recurrence.models.discrete import discrete_hazard, person_period


@pytest.fixture(scope="module")
def pp() -> pd.DataFrame:
    return person_period(data("disc.csv"), id="id", time="time", event="event", covariates=["x", "g"])


def test_person_period_shape(pp: pd.DataFrame) -> None:
    d = data("disc.csv")
    # R builds the same table independently: 2175 rows, 224 events.
    assert len(pp) == int(d["time"].sum()) == 2175
    assert pp["event"].sum() == d["event"].sum() == 224
    assert (pp.groupby("id")["period"].max().to_numpy() == d["time"].to_numpy()).all()
    assert list(pp.columns[:5]) == ["id", "period", "period_start", "period_end", "event"]


def test_interval_width_and_zero_time() -> None:
    d = pd.DataFrame({"id": [1, 2, 3], "t": [0.0, 400.0, 730.5], "e": [1, 0, 1]})
    pp = person_period(d, id="id", time="t", event="e", interval_width=365.25)
    assert pp.groupby("id").size().tolist() == [1, 2, 2]
    assert pp["event"].tolist() == [1, 0, 0, 0, 1]


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_matches_glm(pp: pd.DataFrame, link: str) -> None:
    res = discrete_hazard(pp, covariates=["x", "g"], link=link)
    r = ref("glm_discrete.csv")
    exp = r[r["link"] == link].set_index("term")
    np.testing.assert_allclose(res.params, exp["estimate"][res.params.index], rtol=1e-6)
    np.testing.assert_allclose(res.se(), exp["std_err"][res.params.index], rtol=1e-6)
    assert res.scale == ("log-odds" if link == "logit" else "log-hazard")


def test_linear_baseline_and_cluster(pp: pd.DataFrame) -> None:
    res = discrete_hazard(pp, covariates=["x"], baseline="linear", cluster="id")
    assert list(res.params.index) == ["(Intercept)", "period", "x"]
    assert res.cov_type == "CR1"


def test_bad_input() -> None:
    d = pd.DataFrame({"id": [1, 1], "t": [1.0, 2.0], "e": [1, 0]})
    with pytest.raises(ModelInputError, match="must be unique"):
        person_period(d, id="id", time="t", event="e")
    with pytest.raises(ModelInputError, match="interval_width must be positive"):
        person_period(d, id="id", time="t", event="e", interval_width=0)
    with pytest.raises(ModelInputError, match="e must be coded 0/1"):
        person_period(d.assign(id=[1, 2], e=[3, 0]), id="id", time="t", event="e")
