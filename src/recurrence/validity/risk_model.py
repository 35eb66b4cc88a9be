"""A multivariable risk model from CIN-level data, validated out of sample by LA (issue item 3a).

The seed (C4EO 2010, data annexe) calls for multivariate analysis of child-level CIN data rather
than reliance on NI 65. This module fits a logistic model of the target (in synthetic data the
truth ``highly_resistant``; with real data one would use an observable outcome such as a later
repeat plan) on what the CIN census records about a child up to the end of the data: parental
factors at assessment (the 'B' codes), history (number of referrals and plans), re-referrals
within 12 months, plan length (years on a plan, a plan of two years or more), age at first
referral and disability (:data:`recurrence.validity.child_level.FEATURES`).

Validation is out of sample *by LA*: LAs, not children, are split into ``n_folds`` groups (seeded),
the model is fitted with :func:`recurrence.models.logistic.logit` on the other LAs and predicts
the held-out LAs, so a risk score is judged on councils it has never seen (grouped
cross-validation; Steyerberg 2019, ch. 17, on internal-external validation). When a training
fold meets separation the fold is refitted by Firth's penalised likelihood
(:func:`recurrence.models.firth.firth_logit`), and the fold is recorded.

The comparison with the NI 65 flag uses the same out-of-fold approach for a logistic model on the
flag alone (so both are probabilities on the same scale), the paired DeLong test of the AUCs
and the net reclassification improvement (categorical, with one cut-off at the overall
prevalence - "above-average risk"; and category-free), Pencina et al. (2008, 2011).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recurrence.errors import ConvergenceError, ModelInputError, SeparationError
from recurrence.models.firth import firth_logit
from recurrence.models.logistic import logit
from recurrence.validity.metrics import (
    DeLongTest,
    NRIResult,
    delong_test,
    nri,
)


def grouped_folds(groups: Sequence[object] | pd.Series, n_folds: int, seed: int) -> np.ndarray:
    """Fold number (0 .. n_folds-1) of every row, assigning whole groups (LAs) to folds.

    Groups are put in a seeded random order and dealt to folds in turn, so folds have nearly
    equal numbers of LAs. Needs at least ``n_folds`` groups.
    """
    g = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    levels = np.array(sorted(g.unique()))
    if n_folds < 2:
        raise ValueError("n_folds must be at least 2")
    if levels.size < n_folds:
        raise ModelInputError(f"{levels.size} LAs cannot make {n_folds} folds")
    rng = np.random.default_rng(seed)
    order = rng.permutation(levels)
    fold_of = {lvl: i % n_folds for i, lvl in enumerate(order)}
    return g.map(fold_of).to_numpy(dtype=int)


MIN_MINORITY = 10
"""A training column whose rarer value occurs fewer times than this is left out of the fold's fit."""


def _usable(train: pd.DataFrame, features: Sequence[str], min_minority: int) -> list[str]:
    cols = []
    for c in features:
        v = train[c]
        if v.nunique() < 2:
            continue
        if v.nunique() == 2 and int(v.value_counts().min()) < min_minority:
            continue
        cols.append(c)
    return cols


def _fit_predict(
    train: pd.DataFrame, test: pd.DataFrame, outcome: str, features: Sequence[str]
) -> tuple[np.ndarray, str]:
    """Fit on ``train`` and return test-set probabilities and the method used.

    Constant columns and binary columns with fewer than :data:`MIN_MINORITY` rows of their rarer
    value are dropped (they cannot be estimated out of sample and invite separation). On
    separation the fold is refitted by Firth's method; if that does not converge either, binary
    columns with fewer than ``3 * MIN_MINORITY`` rows of their rarer value are dropped as well and
    ordinary logistic regression is tried again. The method string records what happened.
    """
    cols = _usable(train, features, MIN_MINORITY)
    method = "logit"
    try:
        params = logit(train, outcome=outcome, covariates=cols).params
    except SeparationError:
        try:
            method = "firth"
            params = firth_logit(train, outcome=outcome, covariates=cols).params
        except ConvergenceError:
            cols = _usable(train, features, 3 * MIN_MINORITY)
            method = "logit (rare columns dropped)"
            params = logit(train, outcome=outcome, covariates=cols).params
    beta = params.reindex(["(Intercept)", *cols]).fillna(0.0).to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(test)), test[cols].to_numpy(dtype=float)])
    eta = X @ beta
    return 1 / (1 + np.exp(-eta)), method


def cross_validated_risk(
    data: pd.DataFrame,
    *,
    outcome: str,
    features: Sequence[str],
    group: str = "la_code",
    n_folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Out-of-fold predicted probabilities of ``outcome`` from a logistic model on ``features``.

    Returns the probabilities (one per row of ``data``, each predicted by a model that did not
    see the row's LA) and a table of folds (``fold``, ``n_las``, ``n``, ``method``).
    """
    d = data.copy()
    for c in features:
        d[c] = d[c].astype(float)
    d[outcome] = d[outcome].astype(int)
    folds = grouped_folds(d[group], n_folds, seed)
    pred = np.full(len(d), np.nan)
    info = []
    for k in range(n_folds):
        test = folds == k
        p, method = _fit_predict(d[~test], d[test], outcome, features)
        pred[test] = p
        info.append({"fold": k, "n_las": int(d.loc[test, group].nunique()),
                     "n": int(test.sum()), "method": method})
    return pred, pd.DataFrame(info)


@dataclass(frozen=True)
class RiskComparison:
    """The risk model against the NI 65 flag: DeLong test and NRIs (new = risk model)."""

    delong: DeLongTest
    nri_categorical: NRIResult
    nri_continuous: NRIResult
    cutoff: float

    def table(self) -> pd.DataFrame:
        """One row per comparison statistic, with estimate, interval and p-value."""
        d, c, k = self.delong, self.nri_categorical, self.nri_continuous
        return pd.DataFrame([
            {"statistic": "auc_difference_delong", "estimate": d.difference,
             "ci_lower": d.ci_lower, "ci_upper": d.ci_upper, "z": d.z, "p_value": d.p_value,
             "detail": f"AUC model {d.auc1:.4f} vs flag {d.auc2:.4f}"},
            {"statistic": "nri_categorical", "estimate": c.nri, "ci_lower": c.ci_lower,
             "ci_upper": c.ci_upper, "z": c.z, "p_value": c.p_value,
             "detail": f"events {c.nri_events:.4f}, non-events {c.nri_nonevents:.4f}, "
                       f"cut-off {self.cutoff:.4f}"},
            {"statistic": "nri_continuous", "estimate": k.nri, "ci_lower": k.ci_lower,
             "ci_upper": k.ci_upper, "z": k.z, "p_value": k.p_value,
             "detail": f"events {k.nri_events:.4f}, non-events {k.nri_nonevents:.4f}"},
        ])


def compare_with_flag(
    data: pd.DataFrame,
    *,
    outcome: str,
    risk: np.ndarray,
    flag: str,
    group: str = "la_code",
    n_folds: int = 5,
    seed: int = 0,
) -> RiskComparison:
    """Compare out-of-fold ``risk`` with the 0/1 ``flag`` (e.g. NI 65) for predicting ``outcome``.

    The flag is turned into a probability by the same grouped cross-validation (a logistic
    model on the flag alone), so the category-free NRI compares like with like.
    """
    y = data[outcome].to_numpy().astype(bool)
    old, _ = cross_validated_risk(data, outcome=outcome, features=[flag], group=group,
                                  n_folds=n_folds, seed=seed)
    cutoff = float(y.mean())
    return RiskComparison(
        delong=delong_test(y, risk, data[flag].to_numpy(dtype=float)),
        nri_categorical=nri(y, old, risk, kind="categorical", cutoffs=(cutoff,)),
        nri_continuous=nri(y, old, risk, kind="continuous"),
        cutoff=cutoff,
    )
