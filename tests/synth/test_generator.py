"""Generator: structure of the tables, truth, determinism across runs and workers, mobility."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recurrence.data.schema import coerce_table
from recurrence.errors import ModelInputError
from recurrence.synth import SynthConfig, generate, preset_config
from recurrence.synth.cohort import census_year_tables
from recurrence.synth.manifest import verify_manifest

N = 1500


@pytest.fixture(scope="module")
def cohort():
    return generate(n_children=N, years=6, seed=11, preset="england-2025")


def test_tables_follow_the_schemas_and_n_is_distinct_children(cohort) -> None:
    cohort.tables.validate()
    for name, frame in cohort.tables.items():
        pd.testing.assert_frame_equal(frame, coerce_table(name, frame))
    assert cohort.truth["child_key"].nunique() == N == len(cohort.truth)
    assert cohort.tables.children["child_key"].nunique() == N
    # Every child has an episode open at some time in the window.
    win_start = pd.Timestamp("2019-04-01")
    ep = cohort.tables.cin_episodes
    open_in_window = ep["cin_closure_date"].isna() | (ep["cin_closure_date"] >= win_start)
    assert open_in_window.all()
    assert (ep["cin_referral_date"] <= pd.Timestamp("2025-03-31")).all()


def test_truth_contains_unreferred_maltreatment_and_dates_are_ordered(cohort) -> None:
    ev = cohort.truth_events
    assert ev["referred"].any() and (~ev["referred"]).any()
    assert set(ev["child_key"]) <= set(cohort.truth["child_key"])
    ep = cohort.tables.cin_episodes
    closed = ep.dropna(subset=["cin_closure_date"])
    assert (closed["cin_closure_date"] >= closed["cin_referral_date"]).all()
    cp = cohort.tables.cpps.dropna(subset=["cpp_end_date"])
    assert (cp["cpp_end_date"] >= cp["cpp_start_date"]).all()
    tr = cohort.truth
    assert (tr["highly_resistant"] == (tr["resistant_trait"] | tr["no_change_after_services"])).all()
    cols = [c for c in tr.columns if c.startswith("pp_")]
    assert (tr[cols].sum(axis=1) == tr["n_parental_problems"]).all()


def test_recorded_previous_plans_never_exceed_the_truth(cohort) -> None:
    tr = cohort.truth_referrals
    plans = tr[tr["cpp"]]
    assert (plans["number_of_previous_cpp_recorded"] <= plans["previous_cpp_any_la"]).all()
    assert (plans["previous_cpp_same_la"] <= plans["number_of_previous_cpp_recorded"]).all()


def test_cin_plans_are_the_support_periods_of_episodes_returned_from_2022(cohort) -> None:
    t = cohort.tables
    key = ["la_code", "la_child_id", "cin_referral_date"]
    cp = t.cin_plans
    assert len(cp) > 0 and not cp.duplicated(key).any()  # at most one CIN plan per episode
    m = cp.merge(t.cin_episodes, on=key, how="left", validate="one_to_one", indicator=True)
    assert (m["_merge"] == "both").all()
    assert (m["census_year"] >= 2022).all()
    assert (m["cin_plan_start_date"] >= m["cin_referral_date"]).all()
    assert (m["cin_plan_start_date"] <= pd.Timestamp("2025-03-31")).all()
    # The plan lasts until the episode closes (open plans belong to open episodes).
    assert m["cin_plan_end_date"].isna().equals(m["cin_closure_date"].isna())
    ended = m.dropna(subset=["cin_plan_end_date"])
    assert (ended["cin_plan_end_date"] == ended["cin_closure_date"]).all()
    assert (ended["cin_plan_end_date"] > ended["cin_plan_start_date"]).all()
    # A step-down plan starts on the day its child protection plan ends; none overlaps a CPP.
    cpp = t.cpps.merge(cp, on=key)
    assert len(cpp) > 0
    assert (cpp["cin_plan_start_date"] == cpp["cpp_end_date"]).all()
    # Episodes closed at the assessment (not in need) or with no further action have none.
    nfa = t.cin_episodes[t.cin_episodes["referral_nfa"].fillna(False).astype(bool)]
    assert nfa.merge(cp, on=key).empty


def test_cin_plans_appear_from_the_2021_22_return_and_round_trip_through_xml(cohort, tmp_path) -> None:
    from recurrence.data.cin_xml import read_cin_xml
    from recurrence.data.cin_xml_writer import write_cin_xml

    assert len(census_year_tables(cohort.tables, 2021).cin_plans) == 0
    year = census_year_tables(cohort.tables, 2022)
    plans = year.cin_plans
    assert len(plans) > 0 and plans["cin_plan_end_date"].isna().any()
    assert (plans["cin_plan_end_date"].dropna() <= pd.Timestamp("2022-03-31")).all()
    la = plans["la_code"].value_counts().index[0]
    path = tmp_path / f"cin_{la}_2022.xml"
    write_cin_xml(year, path, la_code=la, collection_year=2022)
    got = read_cin_xml(path)
    assert len(got.rejections) == 0
    cols = ["la_child_id", "cin_referral_date", "cin_plan_start_date", "cin_plan_end_date"]
    want = plans.loc[plans["la_code"] == la, cols].sort_values(cols[:3]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.cin_plans[cols].sort_values(cols[:3]).reset_index(drop=True), want, check_dtype=False
    )


def test_no_cin_plans_before_the_2021_22_return() -> None:
    c = generate(n_children=300, years=5, seed=2, preset="england-2009")
    assert len(c.tables.cin_plans) == 0


def _hashes(c, path, fmt="csv"):
    c.write(path, fmt)
    return json.loads((path / "manifest.json").read_text())["files"]


def test_same_seed_same_bytes_whatever_the_workers(tmp_path) -> None:
    a = generate(n_children=600, years=4, seed=3, n_jobs=1)
    b = generate(n_children=600, years=4, seed=3, n_jobs=1)
    c = generate(n_children=600, years=4, seed=3, n_jobs=2)
    ha, hb, hc = _hashes(a, tmp_path / "a"), _hashes(b, tmp_path / "b"), _hashes(c, tmp_path / "c")
    assert ha == hb == hc
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "c" / "manifest.json").read_bytes()
    assert all(verify_manifest(tmp_path / "a").values())
    d = generate(n_children=600, years=4, seed=4)
    assert _hashes(d, tmp_path / "d")["cin_episodes.csv"] != ha["cin_episodes.csv"]


def test_mobility_rate_drives_moves_and_cross_la_records() -> None:
    cfg = preset_config("england-2025")
    still = generate(n_children=800, years=6, seed=5, preset="england-2025",
                     config=cfg.replace(mobility_rate=0.0))
    mobile = generate(n_children=800, years=6, seed=5, preset="england-2025",
                      config=cfg.replace(mobility_rate=0.3))
    assert not still.truth["moved_la"].any()
    assert still.tables.children.groupby("child_key")["la_code"].nunique().max() == 1
    multi = mobile.tables.children.groupby("child_key")["la_code"].nunique()
    assert (multi > 1).sum() > 20
    assert mobile.truth["moved_la"].mean() > 0.3
    # A child's records in different LAs carry different LA child ids.
    rec = mobile.tables.children
    assert rec.groupby("child_key")["la_child_id"].nunique().equals(multi)


def test_census_year_view_hides_the_future(cohort) -> None:
    y = census_year_tables(cohort.tables, 2023)
    ref = pd.Timestamp("2023-03-31")
    assert (y.cin_episodes["cin_referral_date"] <= ref).all()
    assert (y.cin_episodes["cin_closure_date"].dropna() <= ref).all()
    assert (y.cpps["cpp_end_date"].dropna() <= ref).all()
    assert (y.cin_episodes["census_year"] == 2023).all()
    y.validate()


def test_bad_arguments_raise() -> None:
    with pytest.raises(ModelInputError, match="preset"):
        generate(n_children=10, years=2, seed=1, preset="wales")
    with pytest.raises(ModelInputError, match="n_children"):
        generate(n_children=0, years=2, seed=1)
    with pytest.raises(ModelInputError, match="format"):
        generate(n_children=5, years=2, seed=1).write("unused", "json")


def test_allocation_is_proportional_and_exact() -> None:
    from recurrence.synth.generator import allocate

    w = np.array([0.5, 0.3, 0.2])
    assert allocate(10, w).tolist() == [5, 3, 2]
    assert allocate(7, w).sum() == 7
    assert isinstance(SynthConfig().to_dict()["mobility_rate"], float)


def test_long_window_reaching_before_1970_is_consistent() -> None:
    # Births from 1961 (negative day numbers): move look-ups and census years must still work.
    c = generate(n_children=200, years=30, seed=8, preset="england-2009")
    c.tables.validate()
    still = generate(n_children=200, years=30, seed=8, preset="england-2009",
                     config=preset_config("england-2009").replace(mobility_rate=0.0))
    assert not still.truth["moved_la"].any()
    assert c.truth["moved_la"].any()
    assert c.truth["birth_date"].min() < pd.Timestamp("1970-01-01")


def test_parallel_synth_then_parallel_simulation_in_one_process() -> None:
    # `recurrence reproduce --workers 2` runs both in one process; the generator used loky's
    # process-wide reusable pool, which joblib.Parallel then reused and crashed on.
    from recurrence.effects.ademp import DGM, Method, Study, run_study
    from recurrence.effects.scenarios import binary_exposure_logistic, fit_study_model

    generate(n_children=300, years=2, seed=1, n_jobs=2)
    dgm = DGM("d", binary_exposure_logistic,
              {"n": 100, "log_or": 0.2, "p_exposed": 0.4, "baseline_risk": 0.3}, {"exposure": 0.2})
    study = Study("t", (dgm,), (Method("ml", fit_study_model),), n_reps=20, seed=1, chunk_size=5)
    assert len(run_study(study, n_jobs=2, progress=False).replicates) == 20


def test_child_key_carries_no_family_or_la(cohort) -> None:
    # The internal id packs (origin LA, family, birth order); written out as the child_key it
    # gave siblings (key >> 3) and the LA (key >> 35) away. Now a keyed bijection of it.
    t = cohort.truth
    key = np.array([int(k) for k in t["child_key"]], dtype=np.uint64)
    fam = np.array([int(f) for f in t["family_id"]], dtype=np.uint64)
    assert t["child_key"].is_unique
    assert not ((key >> np.uint64(3)) == fam).any()
    la = t["origin_la_code"].astype(str).to_numpy()
    high = key >> np.uint64(35)
    # No function of the high bits names the LA (one LA per value would mean it does).
    per_value = pd.Series(la).groupby(high).nunique()
    assert (per_value > 1).any() or len(per_value) > 0.9 * len(t)
    observed = cohort.tables.children["child_key"]
    assert observed.isin(t["child_key"]).all()
