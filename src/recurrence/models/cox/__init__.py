"""Cox proportional-hazards models: counting-process engine, recurrent events, frailty, tests.

Entry points: :func:`coxph` (Cox PH with Efron/Breslow ties, strata, weights,
counting-process data and clustered robust SE), :func:`cox_zph` (proportional-hazards test),
:func:`concordance` (Harrell's C), :func:`frailty_coxph` (shared gamma frailty), and the
recurrent-event helpers :func:`andersen_gill` and :func:`pwp`
(:mod:`recurrence.models.cox.recurrent`). Estimates are log hazard ratios.
"""

from recurrence.models.cox.concordance import Concordance, concordance
from recurrence.models.cox.frailty import frailty_coxph
from recurrence.models.cox.model import CoxResults, coxph
from recurrence.models.cox.recurrent import andersen_gill, event_number, pwp
from recurrence.models.cox.zph import cox_zph

__all__ = [
    "Concordance",
    "CoxResults",
    "andersen_gill",
    "concordance",
    "cox_zph",
    "coxph",
    "event_number",
    "frailty_coxph",
    "pwp",
]
