"""cox_zph against R survival 3.5 ``cox.zph`` (tests/r/cox_reference.R, table ``cox_zph.csv``).

Tolerance: chi-square statistics rtol 1e-7 (they are computed from the same score and
information as R's zph1/zph2 code, and agree to ~1e-11 in practice); df exactly; p-values rtol 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from cox_refdata import fit_args, ref

from recurrence.models.cox import cox_zph, coxph

ZPH = ref("cox_zph")
CASES = [
    (c, t, tr)
    for c in ("right_basic", "right_strata", "ag", "pwp_gap")
    for t in ("efron", "breslow")
    for tr in ("km", "identity", "rank")
]


@pytest.fixture(scope="module")
def fits():
    out = {}
    for c in ("right_basic", "right_strata", "ag", "pwp_gap"):
        for t in ("efron", "breslow"):
            data, args = fit_args(c)
            out[(c, t)] = coxph(data, ties=t, **args)
    return out


@pytest.mark.parametrize(("config", "ties", "transform"), CASES)
def test_zph_matches_r(fits, config: str, ties: str, transform: str) -> None:
    z = cox_zph(fits[(config, ties)], transform=transform)
    r = ZPH[(ZPH["config"] == config) & (ZPH["ties"] == ties) & (ZPH["transform"] == transform)]
    r = r.set_index("term")
    assert list(z.index) == list(r.index)
    np.testing.assert_allclose(z["chisq"], r["chisq"], rtol=1e-7)
    np.testing.assert_array_equal(z["df"], r["df"])
    np.testing.assert_allclose(z["p"], r["p"], rtol=1e-6)


def test_zph_rejects_unknown_transform(fits) -> None:
    with pytest.raises(ValueError, match="transform must be one of"):
        cox_zph(fits[("ag", "efron")], transform="log")  # type: ignore[arg-type]
