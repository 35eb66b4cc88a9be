"""recurrence: statistics of child-maltreatment recurrence in England.

Read Children in Need (CIN) census data at child level, generate calibrated synthetic linked
cohorts with known truth, fit logistic and survival models of recurrence that agree with R, reproduce
the effect sizes reported in the literature by design-matched simulation, and test NI 65 as a proxy
for 'highly resistant' families.
"""

from recurrence._version import __version__

__all__ = ["__version__"]
