"""Tests of the real-data LA analyses on fixtures, hand-worked cases, and the real folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recurrence.dfe import la_stats

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dfe"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return la_stats.la_panel(FIXTURES)


def test_panel_recomputes_rates_and_imputes_c(panel):
    row = panel[(panel["la_code"] == "201") & (panel["year"] == 2021)].iloc[0]
    assert row["cpp_subsequent"] == la_stats.SUPPRESSED_MIDPOINT
    assert row["repeat_percent"] == pytest.approx(100 * 3 / 40)
    assert row["imputed_cells"] >= 1
    assert row["rereferral_percent"] == pytest.approx(100 * row["rereferrals"] / row["referrals"])
    missing = la_stats.la_panel(FIXTURES, suppressed="missing")
    r2 = missing[(missing["la_code"] == "201") & (missing["year"] == 2021)].iloc[0]
    assert np.isnan(r2["repeat_percent"])
    assert panel.loc[panel["la_code"] == "940", "reorganised"].all()
    assert not panel.loc[panel["la_code"] == "205", "reorganised"].any()
    with pytest.raises(ValueError):
        la_stats.la_panel(FIXTURES, suppressed="drop")  # type: ignore[arg-type]


def test_icc_matches_hand_computed_balanced_anova():
    # 3 LAs x 2 years, year means already equal -> ICC(1) = (MSB - MSW) / (MSB + MSW)
    d = pd.DataFrame({"la_code": ["a", "a", "b", "b", "c", "c"],
                      "year": [1, 2, 1, 2, 1, 2],
                      "repeat_percent": [10.0, 12.0, 20.0, 20.0, 30.0, 28.0]})
    # LA means 11, 20, 29; grand 20; MSB = 2 * (81 + 0 + 81) / 2 = 162;
    # MSW = (1 + 1 + 0 + 0 + 1 + 1) / 3 = 4/3; ICC = (162 - 4/3) / (162 + 4/3)
    res = la_stats.icc_over_years(d, denominator=None)
    assert res.icc_anova == pytest.approx((162 - 4 / 3) / (162 + 4 / 3))
    assert res.ci_lower < res.icc_anova < res.ci_upper
    assert res.n0 == pytest.approx(2.0)


def test_fixture_icc_overdispersion_and_models(panel):
    icc = la_stats.icc_over_years(panel)
    # The fixture gives each LA its own true rate 12%..38%, so reliability is high.
    assert icc.icc_anova > 0.5
    assert icc.icc_mixed > 0.5
    table, od, year = la_stats.latest_funnel(panel)
    assert year == 2023
    assert od.phi > 1 and od.tau > 0
    assert table["la_code"].nunique() == len(table)
    by_year = la_stats.overdispersion_by_year(panel)
    assert list(by_year["year"]) == [2020, 2021, 2022, 2023]
    corr = la_stats.correlations(panel)
    assert set(corr["covariate"]) == set(la_stats.COVARIATES)
    assert ((corr["ci_lower"] <= corr["spearman"]) & (corr["spearman"] <= corr["ci_upper"])).all()
    coefs, summary = la_stats.multilevel_model(panel)
    assert len(coefs) == 2 * len(la_stats.COVARIATES)
    assert summary["n_las"] == 14
    yy = la_stats.year_to_year(panel)
    assert len(yy) == 3


@pytest.mark.shared
def test_real_data_reliability_and_overdispersion(shared_dir):
    panel = la_stats.la_panel(shared_dir / "data" / "dfe")
    # National 2025 from LA counts (c cells at midpoint) is close to the published 24.5%.
    la25 = panel[panel["year"] == 2025]
    assert 100 * la25["cpp_subsequent"].sum() / la25["cpp_starts"].sum() == pytest.approx(24.5, abs=0.3)
    icc = la_stats.icc_over_years(panel)
    assert 0 < icc.ci_lower < icc.icc_anova < icc.ci_upper < 1
    _, od, year = la_stats.latest_funnel(panel)
    assert year == 2025
    assert od.p_value < 0.05 and od.phi > 1
    # Both D3 counts suppressed: no percentage (the midpoint would make it 3 / 3 = 100%).
    both_c = panel["cpp_starts"].eq(la_stats.SUPPRESSED_MIDPOINT) & panel["imputed_cells"].gt(0)
    assert both_c.sum() >= 5 and panel.loc[both_c, "repeat_percent"].isna().all()
    assert panel["repeat_percent"].max() < 100
    corr = la_stats.correlations(panel).set_index(["covariate", "scope"])
    # Across LAs, repeat plans go with re-referrals (the convergent-validity check).
    assert corr.loc[("rereferral_percent", "la_means"), "ci_lower"] > 0
    assert corr.loc[("rereferral_percent", "la_means"), "n_las"] > 140
