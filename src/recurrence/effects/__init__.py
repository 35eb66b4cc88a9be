"""Reproducing the reported effect sizes of the seed review.

* :mod:`~recurrence.effects.registry` -- the registry of every quantitative claim in sections 4
  and 6 of the seed and the national figures of its data annexe (``registry.yaml``), with the
  exclusion list of non-claim numbers (``exclusions.yaml``).
* :mod:`~recurrence.effects.scales` -- re-expressing a ratio on other scales (OR -> RR at a
  baseline risk, HR <-> cumulative-risk ratio over a window).
* :mod:`~recurrence.effects.ademp` -- a general ADEMP simulation engine (aims, data-generating
  mechanisms, estimands, methods, performance measures), parallel with joblib or Dask,
  reproducible whatever the number of workers, resumable from an on-disk cache.
* :mod:`~recurrence.effects.performance` -- performance measures with Monte Carlo standard
  errors (Morris, White & Crowther 2019, Table 6).
* :mod:`~recurrence.effects.scenarios` -- a design-matched scenario for each effect claim.
* :mod:`~recurrence.effects.separation` -- the 770x claim and (quasi-)complete separation.
* :mod:`~recurrence.effects.power` -- children and events needed for the 1.3x-per-problem claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recurrence.effects.registry import Claim, get_claim, load_registry

__all__ = ["Claim", "get_claim", "load_registry"]


def __getattr__(name: str) -> Any:
    # The registry names are loaded on first use (PEP 562): importing the registry pulls in
    # pandas, and simulation workers that import recurrence.effects.ademp never need it.
    if name in __all__:
        from recurrence.effects import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'recurrence.effects' has no attribute {name!r}")
