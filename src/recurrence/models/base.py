"""One results interface for every model in the package.

Every fitting function or model class returns a :class:`ModelResults`: an immutable object with
``coef()``, ``se()``, ``confint()``, ``tidy()`` and ``summary()`` (after pyfixest), whose
derived quantities are cached properties (after linearmodels). Estimates are always on the model's
linear-predictor scale, named in :attr:`ModelResults.scale` (log-odds for logistic models,
log-hazard for Cox models, log subdistribution hazard for Fine-Gray); ``tidy()`` adds the
exponentiated estimate and interval (odds ratio, hazard ratio).

A methodologist adds a model by subclassing :class:`RecurrenceModel` and implementing
:meth:`RecurrenceModel._fit`, which returns the parameter vector, its covariance matrix and the
fit statistics; the base class checks the options and builds the results. See
``notebooks/06_extending.ipynb``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from recurrence.errors import OptionError

Scale = Literal[
    "log-odds",
    "log-hazard",
    "log-subdistribution-hazard",
    "log-rate",
    "log-risk",
    "identity",
]
SCALES: tuple[str, ...] = get_args(Scale)

TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "ci_lower",
    "ci_upper",
    "exp_estimate",
    "exp_ci_lower",
    "exp_ci_upper",
)
"""Columns of :meth:`ModelResults.tidy`, the contract of ``recurrence fit --out``."""


def check_literal(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """Raise :class:`~recurrence.errors.OptionError` (a ``ValueError``) unless ``value`` is one
    of ``allowed`` (runtime check of a Literal)."""
    if value not in allowed:
        raise OptionError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


@dataclass(frozen=True)
class ModelResults:
    """Immutable results of a fitted model.

    Parameters
    ----------
    model
        Short name of the model ("logit", "cox", "fine-gray", ...).
    params
        Estimates on the linear-predictor scale given by ``scale``, indexed by term.
    cov
        Covariance matrix of ``params`` (the robust one when ``cov_type`` is robust/clustered).
    scale
        Scale of ``params``: "log-odds", "log-hazard", ...
    nobs
        Rows used in the fit (intervals, for counting-process data).
    cov_type
        "model" (inverse information), "robust", "cluster" (with ``n_clusters``), ...
    df_resid
        Degrees of freedom for t-based inference (small-cluster corrections); ``None`` means the
        normal distribution, as R's survival and glm use for these models.
    loglik, n_events, n_clusters, n_iter, converged
        Fit statistics; ``loglik`` is the (partial, for Cox) log-likelihood at the estimate.
    extra
        Model-specific information (e.g. frailty variance, random-effect SD, ties method).
    """

    model: str
    params: pd.Series
    cov: pd.DataFrame
    scale: Scale
    nobs: int
    cov_type: str = "model"
    df_resid: float | None = None
    loglik: float | None = None
    n_events: int | None = None
    n_clusters: int | None = None
    n_iter: int | None = None
    converged: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_literal("scale", self.scale, SCALES)
        if list(self.cov.index) != list(self.params.index) or list(self.cov.columns) != list(
            self.params.index
        ):
            raise ValueError("cov must be indexed by the terms of params, in the same order")

    # -- cached derived quantities ------------------------------------------------------------
    @cached_property
    def std_errors(self) -> pd.Series:
        """Standard errors on the linear scale: square roots of the covariance diagonal."""
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index)

    @cached_property
    def statistics(self) -> pd.Series:
        """Wald statistics, estimate / standard error (z, or t when ``df_resid`` is set)."""
        return self.params / self.std_errors

    @cached_property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the Wald statistics."""
        from scipy import stats  # lazy: scipy.stats costs seconds to import in every worker

        z = np.abs(self.statistics.to_numpy())
        if self.df_resid is None:
            p = 2 * stats.norm.sf(z)
        else:
            p = 2 * stats.t.sf(z, self.df_resid)
        return pd.Series(p, index=self.params.index)

    def _critical(self, level: float) -> float:
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got {level}")
        from scipy import stats

        q = 0.5 + level / 2
        return float(stats.norm.ppf(q) if self.df_resid is None else stats.t.ppf(q, self.df_resid))

    # -- pyfixest-style accessors ---------------------------------------------------------------
    def coef(self) -> pd.Series:
        """Estimates on the linear scale (``scale``)."""
        return self.params.copy()

    def se(self) -> pd.Series:
        """Standard errors on the linear scale."""
        return self.std_errors.copy()

    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the estimates."""
        return self.cov.copy()

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Wald confidence intervals on the linear scale (columns ``ci_lower``, ``ci_upper``).

        Models with better intervals (profile likelihood for Firth) override this.
        """
        c = self._critical(level)
        return pd.DataFrame(
            {
                "ci_lower": self.params - c * self.std_errors,
                "ci_upper": self.params + c * self.std_errors,
            }
        )

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        """One row per term with the columns of :data:`TIDY_COLUMNS`.

        ``estimate``, ``ci_lower`` and ``ci_upper`` are on the linear scale; the ``exp_``
        columns are their exponentials (odds, hazard or rate ratios).
        """
        ci = self.confint(level)
        out = pd.DataFrame(
            {
                "term": self.params.index.astype(str),
                "estimate": self.params.to_numpy(),
                "std_error": self.std_errors.to_numpy(),
                "statistic": self.statistics.to_numpy(),
                "p_value": self.pvalues.to_numpy(),
                "ci_lower": ci["ci_lower"].to_numpy(),
                "ci_upper": ci["ci_upper"].to_numpy(),
            }
        )
        with np.errstate(over="ignore"):
            out["exp_estimate"] = np.exp(out["estimate"])
            out["exp_ci_lower"] = np.exp(out["ci_lower"])
            out["exp_ci_upper"] = np.exp(out["ci_upper"])
        return out.loc[:, list(TIDY_COLUMNS)]

    def summary(self, level: float = 0.95) -> str:
        """A plain-text summary: header lines with the fit statistics, then the tidy table."""
        head = [
            f"Model: {self.model}    scale: {self.scale}    covariance: {self.cov_type}",
            f"Observations: {self.nobs}"
            + (f"    events: {self.n_events}" if self.n_events is not None else "")
            + (f"    clusters: {self.n_clusters}" if self.n_clusters is not None else ""),
        ]
        if self.loglik is not None:
            head.append(
                f"Log-likelihood: {self.loglik:.4f}    converged: {self.converged}"
                + (f" in {self.n_iter} iterations" if self.n_iter is not None else "")
            )
        for key, value in self.extra.items():
            if isinstance(value, (int, float, str, np.floating, np.integer)):
                head.append(f"{key}: {value}")
        table = self.tidy(level).set_index("term")
        return "\n".join(head) + "\n" + table.to_string(float_format=lambda v: f"{v:.6g}")

    def __repr__(self) -> str:
        return self.summary()


class RecurrenceModel(abc.ABC):
    """Base class of the package's models.

    Subclasses set :attr:`name` and :attr:`scale` and implement :meth:`_fit`, which receives the
    validated design and returns a :class:`ModelResults`. Options are keyword-only arguments of
    ``fit`` and are checked at run time (typed ``Literal`` plus :func:`check_literal`).

    Examples
    --------
    A methodologist's log-binomial (risk-ratio) model, in outline::

        class LogBinomial(RecurrenceModel):
            name = "log-binomial"
            scale = "log-risk"

            def _fit(self, **options):
                ...  # maximise the likelihood, return ModelResults(...)
    """

    name: str = "model"
    scale: Scale = "identity"

    def fit(self, **options: Any) -> ModelResults:
        """Fit the model; keyword-only options are model specific."""
        results = self._fit(**options)
        if not isinstance(results, ModelResults):
            raise TypeError(f"{type(self).__name__}._fit must return ModelResults")
        return results

    @abc.abstractmethod
    def _fit(self, **options: Any) -> ModelResults:
        """Fit and return results; implemented by each model."""
