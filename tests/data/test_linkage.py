"""Linkage: child_key from UPN or LA + id, cross-LA following, de-duplication across census years."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recurrence.data.linkage import child_key
from recurrence.data.reader import read_cin

HEADER = """<?xml version="1.0"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>
<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails><Source><LEA>{la}</LEA></Source></Header>
<Children>{children}</Children></Message>
"""


def child(cid: str, episodes: str, upn: str | None = None, ethnicity: str = "WBRI") -> str:
    u = f"<UPN>{upn}</UPN>" if upn else ""
    return (
        f"<Child><ChildIdentifiers><LAchildID>{cid}</LAchildID>{u}<PersonBirthDate>2015-01-01</PersonBirthDate>"
        f"<GenderCurrent>1</GenderCurrent></ChildIdentifiers><ChildCharacteristics><Ethnicity>{ethnicity}</Ethnicity>"
        f"</ChildCharacteristics>{episodes}</Child>"
    )


def episode(ref: str, closure: str | None = None, plans: str = "") -> str:
    c = (
        f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>RC1</ReasonForClosure>"
        if closure
        else ""
    )
    return (
        f"<CINdetails><CINreferralDate>{ref}</CINreferralDate><ReferralSource>1A</ReferralSource>{c}"
        f"<ReferralNFA>false</ReferralNFA>{plans}</CINdetails>"
    )


def plan(start: str, end: str | None = None, reviews: tuple[str, ...] = ()) -> str:
    e = f"<CPPendDate>{end}</CPPendDate>" if end else ""
    r = "".join(f"<CPPreviewDate>{d}</CPPreviewDate>" for d in reviews)
    r = f"<Reviews>{r}</Reviews>" if r else ""
    return (
        f"<ChildProtectionPlans><CPPstartDate>{start}</CPPstartDate>{e}<InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>"
        f"<LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse><NumberOfPreviousCPP>1</NumberOfPreviousCPP>{r}</ChildProtectionPlans>"
    )


def write(folder: Path, name: str, year: int, la: str, children: str) -> Path:
    p = folder / name
    p.write_text(HEADER.format(year=year, la=la, children=children))
    return p


def test_folder_of_las_and_years_is_linked_and_deduplicated(tmp_path: Path) -> None:
    upn = "A12345678901B"
    # 2022 return of LA 318: an open episode with an open plan reviewed once
    write(
        tmp_path,
        "a_318_2022.xml",
        2022,
        "318",
        child(
            "X", episode("2021-10-01", plans=plan("2021-11-01", reviews=("2022-01-10",))), upn=None
        ),
    )
    # 2023 return of LA 318: the same episode, now closed, the plan ended with a later review; UPN now recorded
    write(
        tmp_path,
        "b_318_2023.xml",
        2023,
        "318",
        child(
            "X",
            episode("2021-10-01", "2022-09-01", plan("2021-11-01", "2022-08-01", ("2022-04-10",))),
            upn=upn,
            ethnicity="WIRI",
        ),
    )
    # 2024 return of LA 319: the family moved; new LA id, same UPN, a second plan
    write(
        tmp_path,
        "c_319_2024.xml",
        2024,
        "319",
        child("Z9", episode("2023-05-05", plans=plan("2023-06-01")), upn=upn.lower()),
    )
    t = read_cin([tmp_path])
    assert t.rejections.empty
    assert len(t.cin_episodes) == 2
    ep = t.cin_episodes.set_index("la_code").loc["318"]
    assert ep["census_year"] == 2023 and ep["cin_closure_date"] == pd.Timestamp("2022-09-01")
    kids = t.children.set_index("la_code")
    assert kids.loc["318", "ethnicity"] == "WIRI"  # latest return wins
    # UPN recorded only in the later return still links the earlier one; case-insensitive
    assert kids.loc["318", "child_key"] == kids.loc["319", "child_key"] == child_key("", "", upn)
    assert kids.loc["318", "la_child_id"] == "X" and kids.loc["319", "la_child_id"] == "Z9"
    assert len(t.cpps) == 2
    p318 = t.cpps.set_index("la_code").loc["318"]
    assert p318["cpp_end_date"] == pd.Timestamp("2022-08-01")
    # reviews from both years are pooled
    assert sorted(t.cpp_reviews["cpp_review_date"].dt.strftime("%Y-%m-%d")) == [
        "2022-01-10",
        "2022-04-10",
    ]
    assert t.cpps["child_key"].nunique() == 1


def test_child_key_is_not_the_upn_and_is_stable() -> None:
    k = child_key("318", "C1", "A12345678901B")
    assert "12345678901" not in k and k.startswith("U") and len(k) == 21
    assert k == child_key("999", "other", "a12345678901b")
    assert child_key("318", "C1") != child_key("319", "C1")
    assert child_key("318", "C1").startswith("L")


def test_input_order_does_not_matter(tmp_path: Path) -> None:
    a = write(tmp_path, "a.xml", 2022, "318", child("X", episode("2021-10-01"), ethnicity="WBRI"))
    b = write(
        tmp_path,
        "b.xml",
        2023,
        "318",
        child("X", episode("2021-10-01", "2022-05-01"), ethnicity="WIRI"),
    )
    one, two = read_cin([a, b]), read_cin([b, a])
    for name, frame in one.items():
        pd.testing.assert_frame_equal(frame, two.as_dict()[name])
    assert one.children["ethnicity"].tolist() == ["WIRI"]
