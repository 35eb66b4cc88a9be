"""LA-level indicators computed from child-level CIN tables (year ending 31 March).

- :func:`ni65` - NI 65 (2008-10) and its counting variants (occasions/children, same/any LA,
  look-back window);
- :func:`d3_repeat_plans` - today's DfE D3, second or subsequent plans from
  ``NumberOfPreviousCPP``;
- :func:`rereferral_rate_c1` - DfE C1, re-referrals within 12 months;
- :func:`ni64_long_plans` - NI 64, plans ending that lasted two years or more;
- :func:`d5_open_plans_by_duration` - DfE D5, plans open at 31 March by length.

Each returns a DataFrame with one row per ``la_code`` and ``year``.
"""

from recurrence.indicators.dfe import (
    D5_BANDS,
    d3_repeat_plans,
    d5_open_plans_by_duration,
    ni64_long_plans,
    rereferral_rate_c1,
)
from recurrence.indicators.ni65 import ni65

__all__ = [
    "D5_BANDS",
    "d3_repeat_plans",
    "d5_open_plans_by_duration",
    "ni64_long_plans",
    "ni65",
    "rereferral_rate_c1",
]
