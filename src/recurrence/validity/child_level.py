"""Child-level validity of NI 65 and its alternatives against the synthetic truth.

Question: which families does each indicator find? In synthetic data the generator records for
every child whether the family is 'highly resistant' (``truth.highly_resistant``; its definition
is documented in :mod:`recurrence.synth`, after the seed's working definition: families where
interventions do not bring timely, sustained change). Each indicator is turned into a child-level
flag or score from the *observed* CIN tables only, over the whole observation window:

Flags (0/1)
    ``ni65_same_la``
        the child had a plan start with a previous plan in the same LA (the NI 65 2008-10 rule,
        "of that council, however long ago"; :func:`recurrence.tables.repeat_cpps`);
    ``ni65_any_la``
        the same through the cross-LA linkage key (the seed's remedy for mobile families);
    ``ni65_lookback_2y``
        same LA, previous plan ended within two years (or still open) before the new start;
    ``d3_recorded``
        a plan recorded with ``NumberOfPreviousCPP`` > 0 (today's DfE D3);
    ``rereferral_12m``
        a referral within 12 months of an earlier one in the same LA (DfE C1 rule);
    ``long_plan_2y``
        a plan that lasted two years or more (NI 64), open plans counted at the end of data;
    ``multiple_parental_problems``
        two or more distinct parental factors (the 'B' codes 1B-6B) recorded at assessments
        (the seed, section 4, on the accumulation of parental problems).

Scores
    ``n_plans``, ``n_referrals``, ``n_parental_factors`` (counts), and any probability columns
    added by :mod:`recurrence.validity.risk_model` and :mod:`recurrence.validity.composite`.

The unit is the child (``child_key``) and the populations are ``referred`` (every child in the
CIN tables) and ``on_plan`` (children with at least one plan start, the population NI 65 speaks
about). Outputs are aggregate: no identifier leaves :func:`validity_table`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recurrence.data.codes import PARENTAL_PROBLEM_FACTORS
from recurrence.data.schema import CINTables
from recurrence.errors import ModelInputError
from recurrence.tables import long_plans, repeat_cpps, rereferrals
from recurrence.validity.metrics import auc_delong, brier_score, calibration, flag_accuracy

FLAGS: tuple[str, ...] = (
    "ni65_same_la",
    "ni65_any_la",
    "ni65_lookback_2y",
    "d3_recorded",
    "rereferral_12m",
    "long_plan_2y",
    "multiple_parental_problems",
)
"""Child-level binary flags built by :func:`child_features`."""

SCORES: tuple[str, ...] = ("n_plans", "n_referrals", "n_parental_factors")
"""Child-level count scores built by :func:`child_features`."""

FEATURES: tuple[str, ...] = (
    "age_first_referral",
    "n_referrals",
    "n_plans",
    "any_plan",
    "rereferral_12m",
    "long_plan_2y",
    "plan_years",
    "disabled",
    *(f"pf_{c}" for c in sorted(PARENTAL_PROBLEM_FACTORS)),
)
"""Observed CIN-level predictors available to a multivariable model (see :mod:`.risk_model`).

``n_parental_factors`` is left out because it is the sum of the ``pf_`` indicators."""


def end_of_data(tables: CINTables) -> pd.Timestamp:
    """Latest date seen in the referral, plan and closure columns (the end of observation)."""
    dates = pd.concat([
        tables.cin_episodes["cin_referral_date"], tables.cin_episodes["cin_closure_date"],
        tables.cpps["cpp_start_date"], tables.cpps["cpp_end_date"],
    ]).dropna()
    if dates.empty:
        raise ModelInputError("the CIN tables hold no referral or plan dates")
    return pd.Timestamp(dates.max())


def child_features(tables: CINTables, *, lookback_years: float = 2.0) -> pd.DataFrame:
    """One row per child (``child_key``) with the flags, scores and model features.

    Also carries ``la_code``: the LA of the child's first referral (ties broken by code), used
    to group children by LA for cross-validation and LA-level aggregation.
    """
    eps = tables.cin_episodes
    if eps.empty:
        raise ModelInputError("the CIN tables hold no referrals")
    first = eps.sort_values(["child_key", "cin_referral_date", "la_code"]).drop_duplicates(
        "child_key"
    )
    out = first[["child_key", "la_code", "la_child_id", "cin_referral_date"]].rename(
        columns={"cin_referral_date": "first_referral"}
    )
    births = (
        tables.children.dropna(subset=["person_birth_date"])
        .groupby("child_key")["person_birth_date"].min()
    )
    out["age_first_referral"] = (
        (out["first_referral"] - out["child_key"].map(births)).dt.days / 365.25
    ).clip(lower=0)
    out["age_first_referral"] = out["age_first_referral"].fillna(out["age_first_referral"].median())
    disab = tables.children.groupby("child_key")["disabilities"].agg(
        lambda s: bool(s.dropna().map(lambda v: v != "NONE" and v != "").any())
    )
    out["disabled"] = out["child_key"].map(disab).fillna(False).astype(int)

    out["n_referrals"] = out["child_key"].map(eps.groupby("child_key").size()).astype(int)
    rr = rereferrals(tables, scope="same_la")
    out["rereferral_12m"] = out["child_key"].map(rr.groupby("child_key")["rereferral"].any())

    cp = repeat_cpps(tables)
    n_plans = cp.groupby("child_key").size()
    out["n_plans"] = out["child_key"].map(n_plans).fillna(0).astype(int)
    out["any_plan"] = (out["n_plans"] > 0).astype(int)
    out["ni65_same_la"] = out["child_key"].map(cp.groupby("child_key")["repeat_same_la"].any())
    out["ni65_any_la"] = out["child_key"].map(cp.groupby("child_key")["repeat_any_la"].any())
    within = cp["repeat_same_la"] & (
        cp["previous_open_same_la"].fillna(False).astype(bool)
        | (
            (cp["cpp_start_date"] - cp["last_previous_end_same_la"]).dt.days
            <= 365.25 * lookback_years
        )
    )
    out["ni65_lookback_2y"] = out["child_key"].map(within.groupby(cp["child_key"]).any())
    rec = cp["repeat_recorded"].fillna(False).astype(bool)
    out["d3_recorded"] = out["child_key"].map(rec.groupby(cp["child_key"]).any())

    lp = long_plans(tables, end_of_data=end_of_data(tables))
    out["long_plan_2y"] = out["child_key"].map(lp.groupby("child_key")["lasted_2y_or_more"].any())
    out["plan_years"] = out["child_key"].map(
        (lp["duration_days"].fillna(0) / 365.25).groupby(lp["child_key"]).sum()
    ).fillna(0.0)

    af = tables.assessment_factors
    af = af[af["assessment_factor"].isin(list(PARENTAL_PROBLEM_FACTORS))]
    present = af.drop_duplicates(["child_key", "assessment_factor"])
    for code in sorted(PARENTAL_PROBLEM_FACTORS):
        keys = set(present.loc[present["assessment_factor"] == code, "child_key"])
        out[f"pf_{code}"] = out["child_key"].isin(keys).astype(int)
    out["n_parental_factors"] = out[[f"pf_{c}" for c in sorted(PARENTAL_PROBLEM_FACTORS)]].sum(
        axis=1
    )
    out["multiple_parental_problems"] = out["n_parental_factors"] >= 2
    for f in FLAGS:
        out[f] = out[f].astype("boolean").fillna(False).astype(int)
    return out.drop(columns=["la_child_id", "first_referral"]).reset_index(drop=True)


def attach_truth(features: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Add ``highly_resistant`` (0/1) and the true ``n_parental_problems`` from the generator's truth.

    Every observed child must be in the truth table; a missing child raises
    :class:`~recurrence.errors.ModelInputError` naming how many are missing.
    """
    need = {"child_key", "highly_resistant"}
    if not need <= set(truth.columns):
        raise ModelInputError(f"truth table lacks columns {sorted(need - set(truth.columns))}")
    t = truth.drop_duplicates("child_key").set_index(truth["child_key"].astype(str).to_numpy())
    keys = features["child_key"].astype(str)
    missing = ~keys.isin(t.index)
    if missing.any():
        raise ModelInputError(f"{int(missing.sum())} observed children are not in the truth table")
    out = features.copy()
    out["highly_resistant"] = (
        t["highly_resistant"].reindex(keys.to_numpy()).astype(bool).astype(int).to_numpy()
    )
    return out


def validity_table(
    data: pd.DataFrame,
    *,
    flags: Sequence[str] = FLAGS,
    scores: Sequence[str] = SCORES,
    probabilities: Sequence[str] = (),
    truth: str = "highly_resistant",
    population: str = "referred",
    level: float = 0.95,
) -> pd.DataFrame:
    """Accuracy of each flag and discrimination of each score against ``truth``.

    Returns one row per indicator: ``indicator``, ``kind`` (flag, score or probability),
    ``population``, ``n``, ``prevalence``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``
    (flags only; proportions with Wilson ``_ci_lower``/``_ci_upper``), ``auc`` with DeLong
    ``auc_ci_lower``/``auc_ci_upper``, ``brier`` (flags: the misclassification rate; probabilities:
    the Brier score; counts: empty), and for probabilities the calibration intercept and slope
    (log-odds scale). Exact counts come with them: ``n_positive`` and ``n_negative`` (children
    with and without the truth) for every row, and for flags ``n_flagged``, ``n_not_flagged``,
    ``n_true_positive`` and ``n_true_negative``.
    """
    y = data[truth].to_numpy().astype(bool)
    rows = []
    for kind, cols in (("flag", flags), ("score", scores), ("probability", probabilities)):
        for col in cols:
            x = data[col].to_numpy(dtype=float)
            row: dict[str, object] = {"indicator": col, "kind": kind, "population": population,
                                      "n": int(y.size), "prevalence": float(y.mean()),
                                      "n_positive": int(y.sum()), "n_negative": int((~y).sum())}
            if kind == "flag":
                acc = flag_accuracy(x.astype(bool), y, level)
                # The cell counts, so that a release can round them and recompute every rate
                # from the rounded counts (a rate from exact counts gives them back).
                row.update({"n_flagged": int(acc["tp"] + acc["fp"]),
                            "n_not_flagged": int(acc["tn"] + acc["fn"]),
                            "n_true_positive": int(acc["tp"]), "n_true_negative": int(acc["tn"])})
                for k in ("sensitivity", "specificity", "ppv", "npv"):
                    row[k] = acc[k]
                    row[f"{k}_ci_lower"] = acc[f"{k}_ci_lower"]
                    row[f"{k}_ci_upper"] = acc[f"{k}_ci_upper"]
                row["flag_rate"] = acc["flag_rate"]
            a = auc_delong(y, x, level)
            row.update({"auc": a.auc, "auc_ci_lower": a.ci_lower, "auc_ci_upper": a.ci_upper})
            if kind in ("flag", "probability"):
                row["brier"] = brier_score(y, x)
            if kind == "probability":
                cal = calibration(y, x, level)
                row.update({"calibration_intercept": cal.intercept,
                            "calibration_slope": cal.slope})
            rows.append(row)
    cols_order = ["indicator", "kind", "population", "n", "prevalence", "sensitivity",
                  "specificity", "ppv", "npv", "auc", "auc_ci_lower", "auc_ci_upper", "brier"]
    out = pd.DataFrame(rows)
    for c in cols_order:
        if c not in out.columns:
            out[c] = np.nan
    rest = [c for c in out.columns if c not in cols_order]
    return out[cols_order + rest]
