"""Child-level flags, LA indicator pooling and the bias sweep on a small synthetic cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recurrence.errors import ModelInputError
from recurrence.synth import generate
from recurrence.validity import child_level as cl
from recurrence.validity.bias_sweep import rule_sweep
from recurrence.validity.la_level import la_indicator_table


@pytest.fixture(scope="module")
def cohort():
    return generate(n_children=1500, years=10, seed=7)


@pytest.fixture(scope="module")
def child(cohort) -> pd.DataFrame:
    return cl.attach_truth(cl.child_features(cohort.tables), cohort.truth)


def test_flags_are_consistent(child, cohort):
    assert child["child_key"].is_unique
    assert set(child["child_key"]) == set(cohort.tables.cin_episodes["child_key"])
    # A same-LA repeat needs two plans; any-LA linkage can only add repeats.
    assert (child.loc[child["ni65_same_la"] == 1, "n_plans"] >= 2).all()
    assert (child["ni65_same_la"] <= child["ni65_any_la"]).all()
    assert (child["ni65_lookback_2y"] <= child["ni65_same_la"]).all()
    assert (child["multiple_parental_problems"] == (child["n_parental_factors"] >= 2)).all()
    assert (child.loc[child["long_plan_2y"] == 1, "any_plan"] == 1).all()
    assert child["highly_resistant"].isin([0, 1]).all()
    truth = cohort.truth.set_index("child_key")["highly_resistant"].astype(int)
    assert (child.set_index("child_key")["highly_resistant"] == truth.reindex(child["child_key"])).all()


def test_validity_table_columns_and_bounds(child):
    tab = cl.validity_table(child, scores=cl.SCORES)
    assert list(tab.columns[:13]) == ["indicator", "kind", "population", "n", "prevalence",
                                      "sensitivity", "specificity", "ppv", "npv", "auc",
                                      "auc_ci_lower", "auc_ci_upper", "brier"]
    flags = tab[tab["kind"] == "flag"]
    assert len(flags) == len(cl.FLAGS)
    assert ((flags["auc"] - (flags["sensitivity"] + flags["specificity"]) / 2).abs() < 1e-12).all()
    assert ((tab["auc_ci_lower"] <= tab["auc"]) & (tab["auc"] <= tab["auc_ci_upper"])).all()


def test_attach_truth_rejects_unknown_children(child, cohort):
    with pytest.raises(ModelInputError, match="not in the truth table"):
        cl.attach_truth(child.drop(columns="highly_resistant"), cohort.truth.iloc[:10])


def test_la_indicators_and_bias_sweep(cohort):
    ind = la_indicator_table(cohort.tables)
    assert set(ind["indicator"]) >= {"ni65", "ni65_any_la", "d3", "c1_rereferral", "ni64_long"}
    wide = ind.pivot_table(index="la_code", columns="indicator", values="numerator")
    both = wide[["ni65", "ni65_any_la"]].dropna()
    assert len(both) > 10
    assert (both["ni65"] <= both["ni65_any_la"]).all()
    sweep = rule_sweep(cohort.tables, cohort.truth)
    assert len(sweep) == 24
    key = sweep.set_index(["counting", "scope", "history"]).sort_index()
    ever = sweep["lookback_years"].isna()
    target = sweep[ever & (sweep["counting"] == "children") & (sweep["scope"] == "any_la")
                   & (sweep["history"] == "full")]
    # The full-history, any-LA, distinct-children variant is the target itself.
    assert target["bias_pp"].iloc[0] == pytest.approx(0.0)
    same = key.loc[("children", "same_la", "full")]
    anyla = key.loc[("children", "any_la", "full")]
    assert (same["ni65_percent"].to_numpy() <= anyla["ni65_percent"].to_numpy() + 1e-12).all()
    # Shorter look-backs and truncated history can only miss previous plans.
    assert (sweep["bias_pp"] <= 1e-9)[sweep["counting"] == "children"].all()
    assert np.isfinite(sweep["resistant_share_percent"]).all()


@pytest.mark.slow
def test_mobility_sweep_without_moves_has_no_same_la_bias():
    from recurrence.validity.bias_sweep import mobility_sweep

    sweep = mobility_sweep([0.0, 0.3], n_children=1200, years=10, seed=5)
    full = sweep[sweep["lookback_years"].isna() & (sweep["history"] == "full")
                 & (sweep["counting"] == "children")].set_index(["mobility_rate", "scope"])
    # Without moves the same-LA rule sees every previous plan; with moves it can only miss some.
    assert full.loc[(0.0, "same_la"), "bias_pp"] == pytest.approx(0.0)
    assert full.loc[(0.3, "same_la"), "bias_pp"] <= 0.0
    assert full.loc[(0.3, "any_la"), "bias_pp"] == pytest.approx(0.0)
    assert set(sweep["mobility_rate"]) == {0.0, 0.3}


def test_mobility_sweep_passes_rates_and_distinct_seeds(cohort, monkeypatch):
    import recurrence.synth as synth
    from recurrence.validity.bias_sweep import mobility_sweep

    calls = []

    def fake_generate(*, n_children, years, seed, preset, config):
        calls.append((config.mobility_rate, seed, n_children, years, preset))
        return cohort

    monkeypatch.setattr(synth, "generate", fake_generate)
    sweep = mobility_sweep([0.0, 0.1], n_children=10, years=3, seed=9)
    assert [c[0] for c in calls] == [0.0, 0.1]
    assert calls[0][1] != calls[1][1]
    assert sorted(set(sweep["mobility_rate"])) == [0.0, 0.1]
    assert len(sweep) == 48
