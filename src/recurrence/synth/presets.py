"""Named parameter sets: ``england-2009`` and ``england-2025``.

A preset is a :class:`~recurrence.synth.config.SynthConfig` whose final year and LA population
year are fixed and whose free rate parameters were fitted by
:func:`recurrence.synth.calibration.calibrate` to the preset's targets
(:data:`recurrence.synth.calibration.TARGETS`) and stored here, so that :func:`generate` hits the
targets without recalibrating. ``python -m recurrence.synth.calibration --preset NAME`` refits
them and prints the values to paste here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from recurrence.errors import ModelInputError
from recurrence.synth.config import SynthConfig

_BASE: Final[dict[str, dict[str, Any]]] = {
    "england-2009": {"final_year": 2009, "population_year": 2012},
    "england-2025": {"final_year": 2025, "population_year": 2024},
}

FITTED: Final[dict[str, dict[str, Any]]] = {
    # python -m recurrence.synth.calibration --preset england-2009 --children 40000 --evaluations 36
    "england-2009": {
        "rereferral_multiplier": 14.8765,
        "plan_logit": -1.1523,
        "plan_log_or_previous": -0.5727,
        "plan_log_or_under5": 3.104,
        "neg_emo_logit": 0.9518,
    },
    # python -m recurrence.synth.calibration --preset england-2025 --children 40000 --evaluations 36
    "england-2025": {
        "rereferral_multiplier": 15.1163,
        "plan_logit": -0.269,
        "plan_log_or_previous": 0.3988,
        "plan_duration_mean_days": 245.2438,
        "plan_duration_shape": 1.486,
    },
}
"""Calibrated values of the free parameters, per preset (see the module docstring)."""

PRESETS: Final = MappingProxyType(
    {name: SynthConfig(**base, **FITTED[name]) for name, base in _BASE.items()}
)
"""Preset name -> configuration (read-only mapping)."""


def preset_config(name: str) -> SynthConfig:
    """The configuration of preset ``name`` (``england-2009`` or ``england-2025``)."""
    if name not in PRESETS:
        raise ModelInputError(f"preset must be one of {', '.join(PRESETS)}; got {name!r}")
    return PRESETS[name]
