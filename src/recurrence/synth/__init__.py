"""Synthetic linked CIN cohorts with known truth, calibrated to national figures.

``generate(n_children=..., years=..., seed=..., preset="england-2009")`` returns a
:class:`SyntheticCohort` whose ``tables`` are the census tables the readers produce and whose
``truth`` / ``truth_events`` / ``truth_referrals`` hold what really happened. The model is
documented in ``docs/synthetic_model.md`` and :mod:`recurrence.synth.generator`.
"""

from recurrence.synth.cohort import SyntheticCohort, generate
from recurrence.synth.config import CONFIG_VERSION, SynthConfig
from recurrence.synth.presets import PRESETS, preset_config

__all__ = ["CONFIG_VERSION", "PRESETS", "SynthConfig", "SyntheticCohort", "generate", "preset_config"]
