"""Harrell's C against R ``concordance(fit)`` (tests/r/cox_reference.R, ``cox_concordance.csv``).

Tolerances: concordance rtol 1e-10 and pair counts rtol 1e-10 (exact counting; weighted counts
are sums of products of weights); standard error rtol 1e-8 (same infinitesimal-jackknife
formula, clustered like R when the fit had ``cluster=``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cox_refdata import fit_args, ref

from recurrence.models.cox import coxph
from recurrence.models.cox.concordance import concordance

CONC = ref("cox_concordance")


@pytest.mark.parametrize("config", list(CONC["config"]))
def test_concordance_matches_r(config: str) -> None:
    data, args = fit_args(config)
    c = concordance(coxph(data, **args))
    r = CONC[CONC["config"] == config].iloc[0]
    assert c.concordance == pytest.approx(r["concordance"], rel=1e-10)
    assert c.std_error == pytest.approx(r["std"], rel=1e-8)
    got = [c.concordant, c.discordant, c.tied_x, c.tied_y, c.tied_xy]
    want = r[["concordant", "discordant", "tied_x", "tied_y", "tied_xy"]].to_numpy(dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-8)


def test_hand_counted_example() -> None:
    # events at 1, 2, 3, 4 with predictors 2, 3, 1, 0: of the 6 pairs only (1, 2) is discordant
    df = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": 1, "x": [2.0, 3, 1, 0]})
    c = concordance(coxph(df, covariates=["x"], event="e", time="t"))
    assert (c.concordant, c.discordant, c.tied_x) == (5, 1, 0)
    assert c.concordance == pytest.approx(5 / 6)
