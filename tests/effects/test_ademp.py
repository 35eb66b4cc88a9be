"""The ADEMP engine: reproducible whatever the workers (joblib, Dask), resumable, YAML studies."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recurrence.effects.ademp import (
    DGM,
    Estimate,
    Method,
    Study,
    StudyError,
    load_study,
    replicate_seeds,
    run_study,
)
from recurrence.effects.scenarios import binary_exposure_logistic, fit_firth, fit_study_model

LOG13 = math.log(1.3)


def _study(n_reps: int = 40, chunk_size: int = 10, seed: int = 11) -> Study:
    dgms = tuple(
        DGM(
            f"n{n}",
            binary_exposure_logistic,
            {"n": n, "log_or": LOG13, "p_exposed": 0.4, "baseline_risk": 0.3},
            {"exposure": LOG13},
        )
        for n in (60, 120)
    )
    methods = (Method("ml", fit_study_model), Method("firth", fit_firth))
    return Study("t", dgms, methods, n_reps=n_reps, seed=seed, chunk_size=chunk_size)


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return run_study(_study(), n_jobs=1, progress=False).replicates


def test_replicates_are_sorted_and_complete(serial: pd.DataFrame) -> None:
    assert len(serial) == 2 * 2 * 40
    assert list(serial.columns[:4]) == ["dgm", "method", "estimand", "rep"]
    keys = serial[["dgm", "method", "estimand", "rep"]].apply(tuple, axis=1).tolist()
    assert keys == sorted(keys)
    assert serial["estimate"].notna().sum() > 150


def test_two_joblib_workers_give_identical_replicates(serial: pd.DataFrame) -> None:
    parallel = run_study(_study(), n_jobs=2, progress=False).replicates
    pd.testing.assert_frame_equal(parallel, serial, check_exact=True)


def test_dask_local_cluster_gives_identical_replicates(serial: pd.DataFrame) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        res = run_study(_study(), scheduler=client, progress=False).replicates
    pd.testing.assert_frame_equal(res, serial, check_exact=True)


def test_streams_do_not_depend_on_other_dgms_or_chunking(serial: pd.DataFrame) -> None:
    full = _study()
    only_second = Study("t", full.dgms[1:], full.methods, n_reps=40, seed=11, chunk_size=7)
    res = run_study(only_second, progress=False).replicates
    expected = serial[serial["dgm"] == "n120"].reset_index(drop=True)
    pd.testing.assert_frame_equal(res, expected, check_exact=True)


def test_replicate_seeds_are_spawned_children() -> None:
    dgm = _study().dgms[0]
    seeds = replicate_seeds(5, dgm, 3)
    assert [s.spawn_key for s in seeds] == [(dgm.key(), i) for i in range(3)]
    assert all(s.entropy == 5 for s in seeds)


_calls = {"n": 0, "fail_at": -1}


def _flaky_fit(data: dict[str, Any]) -> dict[str, Estimate]:
    _calls["n"] += 1
    if _calls["n"] == _calls["fail_at"]:
        raise RuntimeError("interrupted on purpose")
    return fit_study_model(data)


def _flaky_study() -> Study:
    s = _study()
    return Study("t", s.dgms, (Method("ml", _flaky_fit),), n_reps=40, seed=11, chunk_size=10)


def test_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    reference = run_study(_flaky_study(), progress=False).replicates
    _calls.update(n=0, fail_at=55)  # dies inside the 6th chunk (replicate 55 of 80)
    with pytest.raises(RuntimeError, match="on purpose"):
        run_study(_flaky_study(), cache_dir=tmp_path, progress=False)
    cached = sorted(tmp_path.rglob("reps_*.parquet"))
    assert len(cached) == 5
    _calls.update(n=0, fail_at=-1)
    resumed = run_study(_flaky_study(), cache_dir=tmp_path, progress=False)
    assert (resumed.chunks_cached, resumed.chunks_computed) == (5, 3)
    assert _calls["n"] == 30  # only the missing replicates were fitted
    assert resumed.complete
    pd.testing.assert_frame_equal(resumed.replicates, reference, check_exact=True)


def test_max_chunks_runs_in_slices(tmp_path: Path) -> None:
    first = run_study(_study(), cache_dir=tmp_path, progress=False, max_chunks=3)
    assert not first.complete and first.chunks_computed == 3
    second = run_study(_study(), cache_dir=tmp_path, progress=False)
    assert second.complete and (second.chunks_cached, second.chunks_computed) == (3, 5)


def test_cache_is_keyed_by_what_determines_the_numbers(tmp_path: Path) -> None:
    run_study(_study(), cache_dir=tmp_path, progress=False)
    other_seed = run_study(_study(seed=12), cache_dir=tmp_path, progress=False)
    assert other_seed.chunks_cached == 0


def test_performance_table_recovers_truth_scale() -> None:
    run = run_study(_study(n_reps=60, chunk_size=30), progress=False)
    perf = run.performance()
    assert set(perf["method"]) == {"ml", "firth"}
    assert (perf["true_value"] == LOG13).all()
    ratio = run.performance(ratio_scale=True)
    assert np.allclose(ratio["true_value"], 1.3)
    # Firth never fails; its coverage is a proportion of 60
    firth = perf[perf["method"] == "firth"]
    assert (firth["nonconvergence_rate"] == 0).all()
    assert ((firth["coverage"] * 60).round(9) % 1 == 0).all()


def test_yaml_study_and_errors(tmp_path: Path, repo_dir: Path) -> None:
    study = load_study(repo_dir / "src/recurrence/effects/studies/example_study.yaml")
    assert len(study.dgms) == 12 and {m.name for m in study.methods} == {"ml", "firth"}
    assert study.dgms[0].truth == {"exposure": 0.0}
    assert study.dgms[0].name == "cohort[n=50,log_or=0]"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nseed: 1\nn_reps: 5\ndgms: []\nmethods: []\n")
    with pytest.raises(StudyError, match=r"bad\.yaml"):
        load_study(bad)
    bad.write_text("name: [unclosed\n")
    with pytest.raises(StudyError, match="not valid YAML"):
        load_study(bad)
    bad.write_text(
        "name: x\nseed: 1\nn_reps: 2\ndgms:\n  - {name: a, generate: 'recurrence.nope:f'}\n"
        "methods:\n  - {name: m, fit: 'recurrence.nope:g'}\n"
    )
    with pytest.raises(StudyError, match=r"cannot import 'recurrence\.nope:f'"):
        load_study(bad)


def _ml_one_at_a_time(data: Any, **params: Any) -> Any:
    """fit_study_model without its batched twin (a plain function has no ``batch``)."""
    return fit_study_model(data, **params)


def test_batched_fit_gives_the_one_at_a_time_replicates(serial: pd.DataFrame) -> None:
    assert hasattr(fit_study_model, "batch")
    study = _study()
    plain = Study(
        "t",
        study.dgms,
        (Method("ml", _ml_one_at_a_time), Method("firth", fit_firth)),
        n_reps=study.n_reps,
        seed=study.seed,
        chunk_size=study.chunk_size,
    )
    ref = run_study(plain, n_jobs=1, progress=False).replicates
    cols = ["dgm", "method", "estimand", "rep", "converged", "error"]
    pd.testing.assert_frame_equal(serial[cols], ref[cols], check_exact=True)
    for c in ("estimate", "se", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(serial[c], ref[c], rtol=1e-12, atol=1e-13)


def test_ratio_scale_power_without_p_values_tests_a_ratio_of_one() -> None:
    """Wald p-values come from the log scale: under the null the rejection rate is ~alpha."""
    from recurrence.effects.ademp import performance_table

    rng = np.random.default_rng(4)
    n = 2000
    reps = pd.DataFrame({
        "dgm": "null", "method": "m", "estimand": "x", "estimate": rng.normal(0, 0.2, n),
        "se": 0.2, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan, "converged": True,
    })
    study = Study("t", (DGM("null", binary_exposure_logistic, {}, {"x": 0.0}),),
                  (Method("m", fit_study_model),), n_reps=n, seed=1)
    log_scale = performance_table(reps, study).iloc[0]
    ratio = performance_table(reps, study, ratio_scale=True).iloc[0]
    assert ratio["power"] == log_scale["power"]  # the same Wald test, made before moving
    assert abs(ratio["power"] - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)
    assert ratio["true_value"] == 1.0
