"""Shared design-matrix building and input checks for the logistic and survival models.

Every model in :mod:`recurrence.models` turns a data frame into a numeric design matrix here and
runs the same checks before fitting, so that bad input produces one clear
:class:`~recurrence.errors.ModelInputError` instead of a silent ``NaN``:

* :func:`check_finite` counts rows with missing or infinite values and names the first of them;
* :func:`check_binary` insists on a 0/1 (or boolean) outcome or event indicator;
* :func:`check_full_rank` finds collinear terms with a column-pivoted QR decomposition (the
  approach of R's ``lm``/``glm``, which drop aliased columns; we refuse instead and name them);
* :func:`detect_separation` checks a logistic design for complete or quasi-complete separation
  with the linear program of Konis (2007, *Linear programming algorithms for detecting separated
  data in binary logistic regression models*, DPhil thesis, Oxford), the method of R's
  ``detectseparation`` package: the data are separated exactly when some non-zero direction
  ``b`` satisfies ``(2y - 1) x_i'b >= 0`` for every row, in which case the maximum-likelihood
  estimate is infinite along ``b``.

Names are stable: the "cox" models import ``check_binary``, ``check_finite`` and
``check_full_rank``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize

from recurrence.errors import ModelInputError, SeparationError

#: Relative tolerance on the diagonal of R in the pivoted QR (R's ``lm`` uses 1e-7).
RANK_TOL = 1e-7


@dataclass(frozen=True)
class Design:
    """A validated numeric design.

    Attributes
    ----------
    X
        ``n x p`` float64 design matrix (C-contiguous), intercept first when present.
    names
        Term names, one per column of ``X``.
    rows
        Index labels of the rows of the input frame used (all of them: rows are never dropped).
    """

    X: np.ndarray
    names: list[str]
    rows: pd.Index


def _first_rows(index: pd.Index, mask: np.ndarray, k: int = 5) -> str:
    labels = [str(v) for v in index[mask][:k]]
    more = ", ..." if int(mask.sum()) > k else ""
    return ", ".join(labels) + more


def check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`ModelInputError` naming any of ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ModelInputError(
            f"column(s) not found in the data: {', '.join(missing)}; "
            f"available: {', '.join(map(str, frame.columns[:20]))}"
        )


def check_finite(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse missing or non-finite values in ``columns`` of ``frame``.

    Models never drop rows silently (R's ``na.omit`` default would): the message gives the number
    of offending rows, the columns involved and the first row labels, so the user can decide.

    Raises
    ------
    ModelInputError
        When any value is NaN, None, NA or +-inf.
    """
    check_columns(frame, columns)
    bad_any = np.zeros(len(frame), dtype=bool)
    bad_cols: list[str] = []
    for col in columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(v)
        else:
            bad = s.isna().to_numpy()
        if bad.any():
            bad_cols.append(f"{col} ({int(bad.sum())})")
            bad_any |= bad
    if bad_any.any():
        raise ModelInputError(
            f"{int(bad_any.sum())} row(s) have missing or non-finite values in "
            f"{', '.join(bad_cols)}; first rows: {_first_rows(frame.index, bad_any)}. "
            "Remove or impute them before fitting."
        )


def check_weights(weights: np.ndarray, n: int, name: str = "weights") -> np.ndarray:
    """Prior weights as floats: one per row, finite and non-negative (as ``glm`` requires)."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ModelInputError(f"{name} must be finite, non-negative, one per row")
    return w


def check_binary(y: np.ndarray | pd.Series, name: str) -> np.ndarray:
    """Return ``y`` as float 0.0/1.0, refusing any other value.

    Parameters
    ----------
    y
        Outcome or event indicator (numeric or boolean).
    name
        Column name used in the message.

    Raises
    ------
    ModelInputError
        When a value is not 0, 1, True or False (including NaN), naming the first bad values.
    """
    arr = np.asarray(y)
    if arr.dtype == bool:
        return arr.astype(float)
    try:
        v = arr.astype(float)
    except (TypeError, ValueError):
        raise ModelInputError(
            f"{name} must be coded 0/1; found non-numeric values such as {arr[:3].tolist()!r}"
        ) from None
    bad = ~((v == 0) | (v == 1))
    if bad.any():
        examples = sorted({repr(x) for x in np.asarray(arr)[bad][:50].tolist()})[:5]
        raise ModelInputError(
            f"{name} must be coded 0/1; {int(bad.sum())} row(s) have other values "
            f"({', '.join(examples)})"
        )
    return v


def check_full_rank(X: np.ndarray, names: Sequence[str], tol: float = RANK_TOL) -> None:
    """Refuse a rank-deficient design, naming the collinear terms.

    Uses a column-pivoted QR decomposition of the column-scaled design. Columns that the pivoting
    pushes past the numerical rank are aliased; each is expressed in terms of the retained columns
    (least squares), and the terms with non-negligible weights are named with it, e.g.
    ``"c = a + b"``-style groups.

    Raises
    ------
    ModelInputError
        When ``rank(X) < X.shape[1]`` (also for a constant column besides the intercept, or a
        column of zeros).
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    if p == 0:
        return
    if n < p:
        raise ModelInputError(f"design has {p} terms but only {n} rows; it cannot be full rank")
    scale = np.sqrt((X**2).sum(axis=0))
    zero = scale == 0
    if zero.any():
        raise ModelInputError(
            "singular design: term(s) "
            + ", ".join(str(names[int(j)]) for j in np.flatnonzero(zero))
            + " are all zero"
        )
    Xs = X / scale
    _, r, piv = linalg.qr(Xs, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int((d > tol * d[0]).sum())
    if rank == p:
        return
    kept = piv[:rank]
    groups = []
    for j in piv[rank:]:
        coef, *_ = np.linalg.lstsq(Xs[:, kept], Xs[:, j], rcond=None)
        involved = [str(names[kept[k]]) for k in np.flatnonzero(np.abs(coef) > 1e-6)]
        groups.append(
            f"{names[j]} is a linear combination of {', '.join(involved) or 'nothing'}"
        )
    raise ModelInputError(
        f"singular design (rank {rank} < {p} terms), collinear terms: " + "; ".join(groups)
        + ". Drop one term of each group."
    )


def detect_separation(
    X: np.ndarray, y: np.ndarray, names: Sequence[str], tol: float = 1e-7
) -> list[str]:
    """Terms whose maximum-likelihood estimates are infinite because of separation.

    Solves Konis' linear program: maximise ``sum_i s_i x_i'b`` subject to ``s_i x_i'b >= 0`` for
    all rows and ``-1 <= b_j <= 1``, with ``s_i = 2 y_i - 1``. The optimum is 0 when the data
    overlap (MLE finite). A positive optimum gives a separating direction ``b``; the terms with
    ``|b_j| > tol`` are those whose estimates diverge. (Weights do not matter as long as they are
    positive, so rows with zero weight must be removed before calling.)

    Returns
    -------
    list of str
        Empty when the MLE exists; otherwise the names of the diverging terms.
    """
    X = np.asarray(X, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    # Scaling the columns keeps the LP well conditioned without changing which b_j are non-zero.
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    A = (X / scale) * s[:, None]
    res = optimize.linprog(
        c=-A.sum(axis=0),
        A_ub=-A,
        b_ub=np.zeros(A.shape[0]),
        bounds=[(-1.0, 1.0)] * A.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= tol * max(1.0, float(np.abs(A).sum()) * 1e-9):
        return []
    b = res.x
    return [str(names[int(j)]) for j in np.flatnonzero(np.abs(b) > 1e-6)]


def raise_separation(terms: Sequence[str], outcome: str) -> None:
    """Raise :class:`SeparationError` naming ``terms`` and suggesting Firth's method."""
    intercept_only = list(terms) == ["(Intercept)"]
    what = (
        f"all outcomes in {outcome} are equal"
        if intercept_only
        else (
            f"term {terms[0]} separates the outcome {outcome}"
            if len(terms) == 1
            else f"terms {', '.join(terms)} jointly separate the outcome {outcome}"
        )
    )
    raise SeparationError(
        f"complete or quasi-complete separation: {what}, so maximum-likelihood estimates are "
        "infinite. Use Firth's penalised logistic regression (recurrence.models.firth.firth_logit, "
        "or --firth on the command line), or remove or merge the term."
    )


def build_design(
    data: pd.DataFrame,
    covariates: Sequence[str],
    *,
    intercept: bool = True,
    extra: Sequence[str] = (),
) -> Design:
    """Build the numeric design matrix for ``covariates`` of ``data``.

    Numeric and boolean columns enter as they are. Text, categorical or object columns are
    expanded to treatment (dummy) contrasts against their first level in sorted order, named
    ``column[T.level]`` as in R and patsy. No formula parsing takes place, so repeated fits (the
    bootstrap and simulation callers) stay cheap.

    Parameters
    ----------
    data
        Input frame (not modified).
    covariates
        Column names, in order.
    intercept
        Prepend a column of ones named ``(Intercept)`` (as R names it).
    extra
        Further columns (outcome, time, cluster...) checked for missing values with the
        covariates.

    Raises
    ------
    ModelInputError
        On missing columns or non-finite values.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if len(set(covariates)) != len(covariates):
        raise ModelInputError(f"covariates are repeated: {covariates}")
    check_finite(data, [*covariates, *[c for c in extra if c not in covariates]])
    cols: list[np.ndarray] = []
    names: list[str] = []
    if intercept:
        cols.append(np.ones(len(data)))
        names.append("(Intercept)")
    for c in covariates:
        s = data[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=float))
            names.append(str(c))
        else:
            levels = (
                list(s.cat.categories)
                if isinstance(s.dtype, pd.CategoricalDtype)
                else sorted(s.unique(), key=str)
            )
            for lev in levels[1:]:
                cols.append((s == lev).to_numpy(dtype=float))
                names.append(f"{c}[T.{lev}]")
    X = np.column_stack(cols) if cols else np.empty((len(data), 0))
    return Design(X=np.ascontiguousarray(X), names=names, rows=data.index)
