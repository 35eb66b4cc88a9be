"""Configuration: every parameter states its scale and source; the seed's effects are the defaults."""

from __future__ import annotations

import dataclasses
import math

import pytest

from recurrence.errors import ModelInputError
from recurrence.synth import PRESETS, SynthConfig


def test_every_field_has_scale_and_source() -> None:
    for f in dataclasses.fields(SynthConfig):
        assert f.metadata.get("scale"), f.name
        assert f.metadata.get("source"), f.name


def test_seed_effect_sizes_are_the_defaults() -> None:
    c = SynthConfig()
    assert c.hr_per_problem == 1.3
    assert c.hr_substance == 1.5
    assert c.hr_financial == 3.3
    assert c.hr_domestic_abuse == 1.5
    assert c.hr_family_stress == 1.2
    assert 1.4 <= c.hr_low_support <= 2.4
    assert 1.3 <= c.hr_disability <= 1.5
    assert c.hr_attendance == pytest.approx(1 - 0.32)
    assert c.hr_no_service_60d == 2.0
    assert c.hr_no_assessment == 4.0
    assert math.isclose(c.hr_low_support, math.sqrt(1.4 * 2.4))
    for name in ("hr_substance", "hr_financial", "hr_attendance", "hr_no_assessment"):
        assert "seed" in SynthConfig.__dataclass_fields__[name].metadata["source"]


def test_presets_and_validation() -> None:
    assert set(PRESETS) == {"england-2009", "england-2025"}
    assert PRESETS["england-2009"].final_year == 2009
    assert PRESETS["england-2025"].final_year == 2025
    with pytest.raises(ModelInputError, match="probability"):
        SynthConfig(mobility_rate=1.5)
    with pytest.raises(ModelInputError, match="positive"):
        SynthConfig(hr_financial=0.0)
    with pytest.raises(ModelInputError, match="unknown SynthConfig"):
        SynthConfig().replace(not_a_field=1)
    assert SynthConfig().replace(mobility_rate=0.1).mobility_rate == 0.1
    with pytest.raises(dataclasses.FrozenInstanceError):
        SynthConfig().mobility_rate = 0.2  # type: ignore[misc]
