"""Forest plot: one or several fits, ModelResults or tidy frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _glm_rref import data
from matplotlib.figure import Figure

from recurrence.models.firth import firth_logit
from recurrence.models.logistic import logit
from recurrence.models.margins import average_marginal_effects
from recurrence.models.plots import forest_plot

COV = ["age", "female", "n_pp"]


@pytest.fixture(scope="module")
def fits():
    la = data("glm_la.csv")
    return logit(la, outcome="y", covariates=COV), logit(
        la, outcome="y", covariates=COV, cluster="la_code"
    )


def test_single_fit_points_are_odds_ratios(fits) -> None:
    fig = forest_plot(fits[0], labels={"n_pp": "Parental problems"})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["age", "female", "Parental problems"]
    # The plotted x of the top row is the odds ratio of age.
    xs = ax.lines[0].get_xdata()
    np.testing.assert_allclose(xs[0], np.exp(fits[0].params["age"]))


def test_several_fits_and_tidy_frame_input(fits, tmp_path) -> None:
    tidy = fits[1].tidy()
    fig = forest_plot({"model-based": fits[0], "CR1 by LA": tidy}, terms=["n_pp", "female"],
                      title="Re-referral")
    ax = fig.axes[0]
    assert ax.get_legend() is not None
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model-based", "CR1 by LA"]
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_linear_scale_for_marginal_effects(fits) -> None:
    fig = forest_plot(average_marginal_effects(fits[0]), exponentiate=False)
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    np.testing.assert_allclose(ax.lines[0].get_xdata()[0],
                               average_marginal_effects(fits[0]).params["age"])


def test_firth_profile_intervals_drawn() -> None:
    fit = firth_logit(data("glm_sep.csv"), outcome="y", covariates=["x", "z"])
    fig = forest_plot([fit])
    assert len(fig.axes[0].get_yticklabels()) == 2


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        forest_plot(pd.DataFrame({"term": ["a"], "estimate": [0.1]}))
    with pytest.raises(TypeError, match="expected ModelResults"):
        forest_plot([1.0])  # type: ignore[list-item]
