"""Tests of the EES-layout loader on project fixtures (always) and the real DfE folder (when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recurrence.dfe.loader import la_changes, la_years, load_table, read_ees_csv
from recurrence.errors import InputFileError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dfe"


def test_symbols_become_nan_and_are_kept_in_status():
    t = load_table(FIXTURES, "d3")
    la = t.ids  # same index as values and status
    row = la[(la["la_code"] == "201") & (la["year"] == 2021)].index[0]
    assert t.values.loc[row, "CPP_start"] == 40
    assert np.isnan(t.values.loc[row, "CPP_subsequent"])
    assert t.status.loc[row, "CPP_subsequent"] == "c"
    x_row = la[(la["la_code"] == "202") & (la["year"] == 2022)].index[0]
    assert t.status.loc[x_row, "CPP_start"] == "x"
    u_row = la[(la["la_code"] == "203") & (la["year"] == 2023)].index[0]
    assert t.status.loc[u_row, "CPP_start"] == "u"
    counts = t.suppression_counts().set_index(["column", "symbol"])["cells"]
    assert counts[("CPP_subsequent", "c")] == 1
    assert counts[("CPP_start", "x")] == 1
    # z in the C1 fixture (a whole not-applicable column)
    c1 = load_table(FIXTURES, "c1")
    la_rows = c1.ids["geographic_level"] == "Local authority"
    assert set(c1.status.loc[la_rows, "rereferral_percent"]) == {"z"}


def test_rounded_rows_and_la_codes():
    t = load_table(FIXTURES, "d3")
    assert t.ids.loc[t.ids["geographic_level"] == "National", "rounded"].all()
    assert not t.ids.loc[t.ids["geographic_level"] == "Local authority", "rounded"].any()
    assert t.ids.loc[t.ids["geographic_level"] == "National", "la_code"].isna().all()


def test_reorganisation_flagged_not_merged():
    t = load_table(FIXTURES, "d3")
    ch = la_changes(t).set_index("la_code")
    assert ch.loc["928", "change"] == "abolished"
    assert ch.loc["928", "related"] == "940;941"
    assert ch.loc["940", "change"] == "created"
    assert ch.loc["941", "first_year"] == 2022
    spans = la_years(t).set_index("la_code")
    assert spans.loc["928", "last_year"] == 2021
    assert "201" not in ch.index


def test_population_years_aligned_to_reporting_year():
    pop = load_table(FIXTURES, "population")
    assert pop.ids["year"].min() == 2020
    assert (pop.ids["year"] - pop.ids["mid_year"] == 1).all()
    ch = la_changes(pop).set_index("la_code")
    assert ch.loc["940", "change"] == "created"


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(InputFileError, match="DfE data folder not found"):
        load_table(tmp_path / "nope", "d3")
    with pytest.raises(InputFileError, match="no file d3_cpps_subsequent_plan"):
        load_table(tmp_path, "d3")


def test_malformed_files(tmp_path):
    bad = tmp_path / "d3_cpps_subsequent_plan_2020_to_2020.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="not in the EES layout"):
        read_ees_csv(bad, "d3")
    text = (FIXTURES / "d3_cpps_subsequent_plan_2020_to_2023.csv").read_text()
    lines = text.splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",n/a"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=r"line 4, column CPP_subsequent_percent: 'n/a'"):
        read_ees_csv(bad, "d3")
    lines = text.splitlines()
    lines[0] = lines[0].replace("CPP_subsequent,", "CPP_other,")
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match="lacks columns CPP_subsequent"):
        read_ees_csv(bad, "d3")


@pytest.mark.shared
def test_real_files_load_and_show_the_reorganisations(shared_dir):
    t = load_table(shared_dir / "data" / "dfe", "d3")
    ch = la_changes(t).set_index("la_code")
    # Northamptonshire 2021 -> North/West 2022; Cumbria 2023 -> Cumberland, W&F 2024;
    # Bournemouth, Poole, Dorset 2019 -> BCP, Dorset 2020.
    assert ch.loc["928", "last_year"] == 2021 and ch.loc["940", "first_year"] == 2022
    assert ch.loc["909", "last_year"] == 2023 and ch.loc["943", "first_year"] == 2024
    assert set(ch.index[ch["change"] == "abolished"]) == {"835", "836", "837", "909", "928"}
    assert set(ch.index[ch["change"] == "created"]) == {"838", "839", "940", "941", "942", "943"}
    assert "unexplained" not in set(ch["change"])
    assert ch.loc["825", "change"] == "ons_code_changed"
    nat = t.frame("National").set_index("year")
    assert nat.loc[2025, "CPP_start"] == 61840
    assert nat.loc[2025, "CPP_subsequent_percent"] == pytest.approx(24.5)
    symbols = set(t.suppression_counts()["symbol"])
    assert symbols == {"c", "x", "z", "u"}


def test_six_digit_periods_end_in_their_second_year(tmp_path):
    """EES ``202425`` (financial year 2024-25) is the year ending 31 March 2025."""
    text = (FIXTURES / "d3_cpps_subsequent_plan_2020_to_2023.csv").read_text().splitlines()
    six = [text[0]] + [
        ("201920" + line[4:]) if line.startswith("2020,") else line for line in text[1:]
    ]
    path = tmp_path / "d3_cpps_subsequent_plan_2020_to_2023.csv"
    path.write_text("\n".join(six) + "\n")
    four = read_ees_csv(FIXTURES / "d3_cpps_subsequent_plan_2020_to_2023.csv", "d3")
    got = read_ees_csv(path, "d3")
    np.testing.assert_array_equal(got.ids["year"].to_numpy(), four.ids["year"].to_numpy())
    path.write_text("\n".join([six[0], "201927" + six[1][6:]]) + "\n")
    with pytest.raises(InputFileError, match=r"line 2, column time_period: not a year: '201927'"):
        read_ees_csv(path, "d3")
