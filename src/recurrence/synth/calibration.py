"""Calibration of the free rate parameters to published national figures.

Targets (percentages):

``england-2009`` (the seed's data annexe, DCSF 2009 figures for 2008/09)
    - ``rereferral_12m``: 23% of referrals were within 12 months of a previous referral (same LA);
    - ``ni65_same_la_ever``: 13% of children becoming the subject of a plan had previously been
      the subject of a plan of the same council, however long ago (NI 65; each occasion counted);
    - ``open_plans_under5``: 45% of children on a plan at 31 March aged 4 or under;
    - ``open_plans_neg_emo``: 73% of plans at 31 March in neglect or emotional abuse;
    - ``plan_starts_per_100_referrals``: (32,800 + 5,100) plan starts / 547,000 referrals = 6.93.

``england-2025`` (DfE *Characteristics of children in need* 2024/25, ``../shared/data/dfe``)
    - ``rereferral_12m``: 22.6 (table C1);
    - ``d3_second_or_subsequent``: 24.5% of plan starts had ``number_of_previous_cpp`` > 0 (D3);
    - ``open_plans_duration_*``: plans open at 31 March by duration band, 31.5 / 25.5 / 26.3 /
      14.4 / 2.3 (D5);
    - ``plan_starts_per_100_referrals``: 61,840 / 632,830 = 9.77 (D3 and C1).

Which NI 65 the 13% is. The NI handbook (CLG 2008; definition by DCSF) defines NI 65 with a
previous plan of that council "however long ago"; the seed's data annexe says LAs recorded a
repeat only when the earlier plan in the same LA was "discontinued within the previous 12
months", with each occasion counted. The target is fitted as the handbook's definition. Under the seed's reading
the calibrated ``england-2009`` cohort gives far less: 4.7% of plan starts (occasions, same
LA, previous plan ended within a year) in 2007-2009 of a 40,000-child cohort (seed 20090331),
against 12.6% by the handbook's rule (measured with
:func:`recurrence.validity.bias_sweep.rule_sweep`). Calibrating to the seed's reading would need
a much higher repeat rate; the sources do not settle which rule produced the published 13%.

Every measure is computed from the *observed* census tables, except NI 65, which needs plans
before the window ("however long ago") and is computed from ``truth_referrals``. Because the
process is stationary, the measures are pooled over the last ``pool_years`` census years of the
window, which estimates the same expected value with a third of the simulation noise.

The fit (:func:`calibrate`) minimises squared distances between simulated and target values with
:func:`scipy.optimize.least_squares` on common random numbers: every evaluation uses the same
seed, and the generator's counter-based random numbers (:mod:`recurrence.synth._rng`) mean a
parameter change alters only the outcomes that depend on it. Free parameters are moved on an
unbounded scale (log for positive ones). The fitted values are stored in
:mod:`recurrence.synth.presets`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from scipy import optimize

from recurrence.indicators.dfe import D5_BANDS, d5_open_plans_by_duration, rereferral_rate_c1
from recurrence.synth.cohort import SyntheticCohort, generate
from recurrence.synth.config import SynthConfig
from recurrence.synth.presets import preset_config

DURATION_BANDS: Final[dict[str, str]] = dict(
    zip(
        (
            "open_plans_duration_3m_or_less",
            "open_plans_duration_3m_to_6m",
            "open_plans_duration_6m_to_1y",
            "open_plans_duration_1y_to_2y",
            "open_plans_duration_2y_or_more",
        ),
        D5_BANDS,
        strict=True,
    )
)
"""Calibration measure -> DfE D5 band (:data:`recurrence.indicators.dfe.D5_BANDS`)."""

TARGETS: Final[dict[str, dict[str, float]]] = {
    "england-2009": {
        "rereferral_12m": 23.0,
        "ni65_same_la_ever": 13.0,
        "open_plans_under5": 45.0,
        "open_plans_neg_emo": 73.0,
        "plan_starts_per_100_referrals": round(100 * (32_800 + 5_100) / 547_000, 2),
    },
    "england-2025": {
        "rereferral_12m": 22.6,
        "d3_second_or_subsequent": 24.5,
        "open_plans_duration_3m_or_less": 31.5,
        "open_plans_duration_3m_to_6m": 25.5,
        "open_plans_duration_6m_to_1y": 26.3,
        "open_plans_duration_1y_to_2y": 14.4,
        "open_plans_duration_2y_or_more": 2.3,
        "plan_starts_per_100_referrals": round(100 * 61_840 / 632_830, 2),
    },
}
"""Preset -> measure -> target percentage (sources in the module docstring)."""

FREE_PARAMETERS: Final[dict[str, tuple[str, ...]]] = {
    "england-2009": (
        "rereferral_multiplier", "plan_logit", "plan_log_or_previous", "plan_log_or_under5",
        "neg_emo_logit",
    ),
    "england-2025": (
        "rereferral_multiplier", "plan_logit", "plan_log_or_previous",
        "plan_duration_mean_days", "plan_duration_shape",
    ),
}
"""Parameters fitted per preset; all others keep their configured values."""

_POSITIVE: Final = frozenset({"rereferral_multiplier", "plan_duration_mean_days", "plan_duration_shape"})

HEADLINE: Final = frozenset({"rereferral_12m", "ni65_same_la_ever", "d3_second_or_subsequent"})
"""Headline rates (tested to within 1.5 percentage points)."""


def _days(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy(dtype="datetime64[D]").astype(np.int64).astype(np.float64)


def measures(cohort: SyntheticCohort, pool_years: int = 3) -> dict[str, float]:
    """All calibration measures (percentages) of a cohort, pooled over the last census years."""
    t = cohort.tables
    final = cohort.config.final_year
    years = [final - i for i in range(pool_years)]
    out: dict[str, float] = {}

    # Re-referrals within 12 months (DfE C1), by the indicator the package reports, so that
    # the presets are fitted on the rule they are reported with.
    c1 = rereferral_rate_c1(t)
    c1 = c1[c1["year"].isin(years)]
    n_referrals = int(c1["referral_count"].sum())
    out["rereferral_12m"] = 100 * c1["rereferral_count"].sum() / max(n_referrals, 1)

    cp = t.cpps
    start = _days(cp["cpp_start_date"])
    start_y = np.isin(_census_year(start), years)
    out["plan_starts_per_100_referrals"] = 100 * start_y.sum() / max(n_referrals, 1)
    out["d3_second_or_subsequent"] = 100 * (cp["number_of_previous_cpp"].to_numpy()[start_y] > 0).mean()
    tr = cohort.truth_referrals
    tr = tr[tr["cpp"].to_numpy()]
    tr_y = np.isin(_census_year(_days(tr["cpp_start_date"])), years)
    out["ni65_same_la_ever"] = 100 * (tr["previous_cpp_same_la"].to_numpy()[tr_y] > 0).mean()

    # Plans open at 31 March of each pooled year.
    births = t.children.set_index(["la_code", "la_child_id"])["person_birth_date"]
    birth = _days(births.reindex(pd.MultiIndex.from_frame(cp[["la_code", "la_child_id"]])).reset_index(drop=True))
    end = _days(cp["cpp_end_date"].fillna(pd.Timestamp("2200-01-01")))
    under5, negemo = [], []
    for y in years:
        day = float(np.datetime64(f"{y}-03-31", "D").astype(np.int64))
        fifth_birthday_cutoff = float(np.datetime64(f"{y - 5}-03-31", "D").astype(np.int64))
        open_ = (start <= day) & (end > day)
        # aged 4 or under on 31 March: born after 31 March five years before
        under5.append(birth[open_] > fifth_birthday_cutoff)
        negemo.append(np.isin(cp["latest_category_of_abuse"].to_numpy()[open_], ["NEG", "EMO"]))
    u5 = np.concatenate(under5)
    out["open_plans_under5"] = 100 * u5.mean()
    out["open_plans_neg_emo"] = 100 * np.concatenate(negemo).mean()
    # D5 bands by the indicator the package reports (calendar-month boundaries).
    d5 = d5_open_plans_by_duration(t, years=years)
    at31 = max(int(d5["cpp_at31"].sum()), 1)
    for name, band in DURATION_BANDS.items():
        out[name] = 100 * d5[band].sum() / at31
    out["n_referrals_pooled"] = float(n_referrals)
    out["n_plan_starts_pooled"] = float(start_y.sum())
    out["n_open_plans_pooled"] = float(u5.size)
    return out


def _census_year(days: np.ndarray) -> np.ndarray:
    d = days.astype(np.int64).astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return year + (month >= 4)


def report(cohort: SyntheticCohort, preset: str, pool_years: int = 3) -> pd.DataFrame:
    """Calibration report: one row per target with simulated value, target and difference (pp)."""
    m = measures(cohort, pool_years)
    rows = [
        {"measure": k, "target": v, "simulated": round(m[k], 3), "difference_pp": round(m[k] - v, 3)}
        for k, v in TARGETS[preset].items()
    ]
    return pd.DataFrame(rows)


def plot_report(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Bar chart of simulated beside target for each measure; returns the written path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(table)))
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["target"], height=0.4, label="target")
    ax.barh(y + 0.2, table["simulated"], height=0.4, label="simulated")
    ax.set_yticks(y, table["measure"])
    ax.invert_yaxis()
    ax.set_xlabel("per cent")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return out


@dataclass(frozen=True)
class CalibrationResult:
    """Fitted values, the final report and the optimiser's message."""

    values: dict[str, float]
    report: pd.DataFrame
    message: str
    n_evaluations: int


def calibrate(
    preset: str,
    *,
    n_children: int = 60_000,
    years: int = 10,
    seed: int = 1,
    free: Sequence[str] | None = None,
    max_evaluations: int = 60,
    step: float = 0.1,
    n_jobs: int = 1,
) -> CalibrationResult:
    """Fit the preset's free parameters to :data:`TARGETS` by least squares on common random numbers.

    Parameters
    ----------
    preset
        ``england-2009`` or ``england-2025``.
    n_children, years, seed
        The cohort simulated at every evaluation (same seed: common random numbers).
    free
        Names of the parameters to fit (default :data:`FREE_PARAMETERS`).
    max_evaluations
        Budget of cohort simulations.
    step
        Finite-difference step on the unbounded scale (log for positive parameters). Larger than
        a usual step because the measures are step functions of the parameters at fixed random
        numbers.
    """
    base = preset_config(preset)
    names = tuple(free) if free is not None else FREE_PARAMETERS[preset]
    targets = TARGETS[preset]
    keys = list(targets)
    x0 = np.array([_to_free(n, getattr(base, n)) for n in names])
    count = [0]

    def config_at(x: np.ndarray) -> SynthConfig:
        return base.replace(**{n: _from_free(n, v) for n, v in zip(names, x, strict=True)})

    def residuals(x: np.ndarray) -> np.ndarray:
        count[0] += 1
        cohort = generate(n_children=n_children, years=years, seed=seed, preset=preset,
                          config=config_at(x), n_jobs=n_jobs)
        m = measures(cohort)
        return np.array([m[k] - targets[k] for k in keys])

    def jac(x: np.ndarray) -> np.ndarray:
        f0 = residuals(x)
        cols = []
        for i in range(x.size):
            xi = x.copy()
            xi[i] += step
            cols.append((residuals(xi) - f0) / step)
        return np.column_stack(cols)

    fit = optimize.least_squares(
        residuals, x0, jac=jac, method="trf", max_nfev=max(2, max_evaluations // (len(names) + 2)),
        x_scale=1.0,
    )
    values = {n: float(_from_free(n, v)) for n, v in zip(names, fit.x, strict=True)}
    cohort = generate(n_children=n_children, years=years, seed=seed, preset=preset,
                      config=base.replace(**values), n_jobs=n_jobs)
    return CalibrationResult(values, report(cohort, preset), str(fit.message), count[0] + 1)


def _to_free(name: str, value: float) -> float:
    return float(np.log(value)) if name in _POSITIVE else float(value)


def _from_free(name: str, value: float) -> float:
    return float(np.exp(value)) if name in _POSITIVE else float(value)


def main(argv: list[str] | None = None) -> None:
    """``python -m recurrence.synth.calibration --preset england-2009`` refits and prints values."""
    parser = argparse.ArgumentParser(description="Fit a preset's free parameters to its targets.")
    parser.add_argument("--preset", required=True, choices=sorted(TARGETS))
    parser.add_argument("--children", type=int, default=60_000)
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    res = calibrate(args.preset, n_children=args.children, max_evaluations=args.evaluations,
                    n_jobs=args.jobs)
    print(res.message, res.n_evaluations)
    print({k: round(v, 4) for k, v in res.values.items()})
    print(res.report.to_string(index=False))
    if args.plot is not None:
        plot_report(res.report, args.plot, args.preset)


if __name__ == "__main__":
    main()
