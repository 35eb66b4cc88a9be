"""Synthetic linked CIN cohorts with known truth, calibrated to national figures.

``generate(n_children=..., years=..., seed=..., preset="england-2009")`` returns a
:class:`SyntheticCohort` whose ``tables`` are the census tables the readers produce and whose
``truth`` / ``truth_events`` / ``truth_referrals`` hold what really happened. The model is
documented in ``docs/synthetic_model.md`` and :mod:`recurrence.synth.generator`.

The names below are imported on first use (PEP 562), so that a worker process that only
simulates (``recurrence.synth.generator`` and ``recurrence.synth.assemble.prepare``) starts
without importing pandas: importing ``recurrence.synth.cohort`` took 3.7-4.4 s, the
worker's modules (``generator`` and ``assemble``) 1.4-1.5 s, in the lead's runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recurrence.synth.cohort import SyntheticCohort, generate
    from recurrence.synth.config import CONFIG_VERSION, SynthConfig
    from recurrence.synth.presets import PRESETS, preset_config

_WHERE = {
    "SyntheticCohort": "cohort",
    "generate": "cohort",
    "CONFIG_VERSION": "config",
    "SynthConfig": "config",
    "PRESETS": "presets",
    "preset_config": "presets",
}

__all__ = ["CONFIG_VERSION", "PRESETS", "SynthConfig", "SyntheticCohort", "generate", "preset_config"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"recurrence.synth.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'recurrence.synth' has no attribute {name!r}")
