"""Analysis tables derived from CIN tables: one documented function per outcome definition.

- :func:`rereferrals` - re-referral within 12 months of a previous referral, per referral;
- :func:`repeat_cpps` - repeat child protection plans, derived (same LA / any LA) and recorded;
- :func:`long_plans` - plan durations and the two-years-or-more flag;
- :func:`time_to_recurrence` - survival time from a referral or plan end to the next referral
  or plan, censored at 18, death or end of data;
- :func:`counting_process` - ``(start, stop]`` rows for recurrent-referral models with
  time-varying covariates;

Years are years ending 31 March (:mod:`recurrence.tables._dates`).
"""

from recurrence.tables.counting_process import PARENTAL_PROBLEM_COLUMNS, counting_process
from recurrence.tables.long_plans import long_plans
from recurrence.tables.repeat_cpp import repeat_cpps
from recurrence.tables.rereferral import rereferrals
from recurrence.tables.time_to_recurrence import time_to_recurrence

__all__ = [
    "PARENTAL_PROBLEM_COLUMNS",
    "counting_process",
    "long_plans",
    "repeat_cpps",
    "rereferrals",
    "time_to_recurrence",
]
