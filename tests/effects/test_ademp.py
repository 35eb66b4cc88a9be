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
        "name: x\nseed: 1\nn_reps: 2\ndgms:\n  - {name: a, generate: 'recurrence.nope:f', truth: {b: 0}}\n"
        "methods:\n  - {name: m, fit: 'recurrence.nope:g'}\n"
    )
    with pytest.raises(StudyError, match=r"cannot import 'recurrence\.nope:f'"):
        load_study(bad)


_GOOD = {
    "name": "x", "seed": 1, "n_reps": 4,
    "dgms": [{"name": "a", "generate": "recurrence.effects.scenarios:binary_exposure_logistic",
              "params": {"n": 200, "log_or": 0.3, "p_exposed": 0.3, "baseline_risk": 0.2}, "truth": {"exposure": "log_or"}}],
    "methods": [{"name": "ml", "fit": "recurrence.effects.scenarios:fit_study_model"}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nrep": 100}, r"nrep: Extra inputs are not permitted"),
        ({"n_reps": 5.9}, r"n_reps: Input should be a valid integer \(got 5\.9\)"),
        ({"n_reps": "many"}, r"n_reps: Input should be a valid integer \(got 'many'\)"),
        ({"seed": 1.7}, r"seed: Input should be a valid integer"),
        ({"alpha": "high"}, r"alpha: Input should be a valid number"),
        ({"alpha": 1.5}, r"alpha: Input should be less than 1"),
        ({"dgms": [dict(_GOOD["dgms"][0], truht={"exposure": 0})]}, r"dgms\[0\]\.truht: Extra inputs"),
        ({"dgms": [dict(_GOOD["dgms"][0], params=[1, 2])]}, r"dgms\[0\]\.params: Input should be a valid dictionary"),
        ({"dgms": [dict(_GOOD["dgms"][0], vary={"n": 50})]}, r"dgms\[0\]\.vary\.n: Input should be a valid list"),
        ({"dgms": [dict(_GOOD["dgms"][0], truth={"exposure": "lor"})]}, r"dgms\[0\]\.truth\.exposure: names parameter 'lor'"),
        ({"dgms": "cohort"}, r"dgms: Input should be a valid list"),
        ({"methods": [{"name": "ml", "fit": "recurrence.effects.scenarios:fit_study_model", "params": {"alpah": 0.1}}]},
         r"method ml: params do not fit .*alpah"),
        ({"dgms": [dict(_GOOD["dgms"][0], params={**_GOOD["dgms"][0]["params"], "size": 3})]},
         r"mechanism a: params do not fit .*size"),
    ],
)
def test_yaml_mistakes_are_one_line_errors_naming_the_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    import yaml

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(_GOOD | change), encoding="utf-8")
    with pytest.raises(StudyError, match=message) as info:
        load_study(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)) and text.count(str(path)) == 1
    path.write_text(yaml.safe_dump(_GOOD), encoding="utf-8")
    assert load_study(path).dgms[0].truth == {"exposure": 0.3}
    # A numeric name is still a name.
    path.write_text(yaml.safe_dump(_GOOD | {"name": 2024}), encoding="utf-8")
    assert load_study(path).name == "2024"


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


def _se_only(data: Any) -> Any:
    e = fit_study_model(data)["exposure"]
    return {"exposure": Estimate(e.estimate, se=e.se)}


def _point_only(data: Any) -> Any:
    return {"exposure": Estimate(fit_study_model(data)["exposure"].estimate)}


def _one_dgm_study(methods: tuple[Method, ...], *, alpha: float = 0.05, truth: str = "exposure") -> Study:
    dgm = DGM("cohort", binary_exposure_logistic,
              {"n": 300, "log_or": LOG13, "p_exposed": 0.4, "baseline_risk": 0.25}, {truth: LOG13})
    return Study("s", (dgm,), methods, n_reps=60, seed=5, alpha=alpha, chunk_size=30)


def test_methods_without_an_se_or_a_ci_are_scored_on_what_they_give() -> None:
    study = _one_dgm_study((Method("full", fit_study_model), Method("se_only", _se_only),
                            Method("point", _point_only)))
    perf = run_study(study, progress=False).performance().set_index("method")
    # Wald limits from the SE equal the full method's own (Wald) limits: same coverage.
    assert perf.loc["se_only", "coverage"] == perf.loc["full", "coverage"] > 0.8
    assert perf.loc["se_only", "model_se"] == pytest.approx(perf.loc["full", "model_se"])
    # A point estimator is not a failed fit: bias and empirical SE as the full method's.
    assert perf.loc["point", "nonconvergence_rate"] == 0 and perf.loc["point", "n_used"] == 60
    assert perf.loc["point", "bias"] == pytest.approx(perf.loc["full", "bias"])
    assert perf.loc["point", "emp_se"] == pytest.approx(perf.loc["full", "emp_se"])
    assert math.isnan(perf.loc["point", "coverage"]) and math.isnan(perf.loc["point", "model_se"])


def test_the_study_alpha_reaches_methods_that_take_one() -> None:
    study = _one_dgm_study(
        (Method("ml", fit_study_model), Method("ml95", fit_study_model, {"alpha": 0.05})), alpha=0.10
    )
    reps = run_study(study, progress=False).replicates
    half = (reps["ci_upper"] - reps["ci_lower"]) / (2 * reps["se"])
    z = half.groupby(reps["method"]).agg(["min", "max"])
    assert z.loc["ml"].to_numpy() == pytest.approx([1.6448536, 1.6448536])  # 90% intervals
    assert z.loc["ml95"].to_numpy() == pytest.approx([1.9599640, 1.9599640])  # its own alpha


def test_a_truth_no_method_estimates_is_an_error() -> None:
    run = run_study(_one_dgm_study((Method("ml", fit_study_model),), truth="exposur"), progress=False)
    # The message names what the methods did return, so the misspelling shows.
    with pytest.raises(StudyError, match=r"no method returned the estimand 'exposur' .*\(the methods returned: exposure\)"):
        run.performance()


def test_an_unreachable_scheduler_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed")
    from recurrence.errors import OptionError

    class Unreachable:
        def __init__(self, address: str) -> None:
            raise OSError(f"Timed out trying to connect to {address} after 30 s")

    monkeypatch.setattr(distributed, "Client", Unreachable)
    with pytest.raises(OptionError, match=r"cannot connect to the Dask scheduler 'tcp://h:1'"):
        run_study(_study(n_reps=4), scheduler="tcp://h:1", progress=False)
