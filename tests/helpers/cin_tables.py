"""Build small, valid CINTables by hand for tests whose expected values are worked out on paper.

Children are named by ``child_key``; a child's record in an LA gets ``la_child_id``
``"<la>-<child_key>"``. Every referral, plan and assessment creates the child's row in that LA
(birth date from ``births``, default 1 January 2005) and the plan's or assessment's episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from recurrence.data.schema import CINTables

Plan = tuple  # (child_key, la_code, start, end | None, number_of_previous_cpp | None[, referral])
Referral = tuple  # (child_key, la_code, date)
Assessment = tuple  # (child_key, la_code, referral, start, authorised | None, "1B 3B")


def lcid(child: str, la: str) -> str:
    return f"{la}-{child}"


def build(
    *,
    plans: Iterable[Plan] = (),
    referrals: Iterable[Referral] = (),
    assessments: Iterable[Assessment] = (),
    births: Mapping[str, str | None] | None = None,
    deaths: Mapping[str, str] | None = None,
    validate: bool = False,
) -> CINTables:
    """Return CINTables holding exactly the given records (see the module docstring).

    Tables are coerced to the schema dtypes; pandera validation (slow: about half a second) runs
    only with ``validate=True``; ``tests/helpers/test_cin_tables.py`` checks that the builder's
    output validates.
    """
    births = dict(births or {})
    deaths = dict(deaths or {})
    eps: dict[tuple[str, str, str], dict] = {}
    cpps = []
    asm = []
    factors = []

    def episode(child: str, la: str, date: str) -> None:
        eps.setdefault(
            (child, la, date),
            {
                "child_key": child,
                "la_code": la,
                "la_child_id": lcid(child, la),
                "cin_referral_date": date,
            },
        )

    for child, la, date in referrals:
        episode(child, la, date)
    for p in plans:
        child, la, start, end, nprev = p[:5]
        ref = p[5] if len(p) > 5 else start
        episode(child, la, ref)
        cpps.append(
            {
                "child_key": child,
                "la_code": la,
                "la_child_id": lcid(child, la),
                "cin_referral_date": ref,
                "cpp_start_date": start,
                "cpp_end_date": end,
                "initial_category_of_abuse": "NEG",
                "latest_category_of_abuse": "NEG",
                "number_of_previous_cpp": nprev,
            }
        )
    for child, la, ref, start, auth, codes in assessments:
        episode(child, la, ref)
        ids = {
            "child_key": child,
            "la_code": la,
            "la_child_id": lcid(child, la),
            "cin_referral_date": ref,
            "assessment_actual_start_date": start,
        }
        asm.append(
            {**ids, "assessment_internal_review_date": None, "assessment_authorisation_date": auth}
        )
        factors.extend({**ids, "assessment_factor": code} for code in codes.split())
    kids = {(e["child_key"], e["la_code"]) for e in eps.values()}
    children = pd.DataFrame(
        [
            {
                "child_key": child,
                "la_code": la,
                "la_child_id": lcid(child, la),
                "person_birth_date": births.get(child, "2005-01-01"),
                "expected_person_birth_date": None,
                "sex": "F",
                "ethnicity": "WBRI",
                "disabilities": "NONE",
                "person_death_date": deaths.get(child),
            }
            for child, la in sorted(kids)
        ]
    )
    episodes = pd.DataFrame(list(eps.values()))
    for col, val in {
        "referral_source": "1A",
        "primary_need_code": "N1",
        "cin_closure_date": None,
        "reason_for_closure": None,
        "date_of_initial_cpc": None,
        "referral_nfa": False,
        "census_year": None,
    }.items():
        episodes[col] = val
    frames = {"children": children, "cin_episodes": episodes}
    if cpps:
        frames["cpps"] = pd.DataFrame(cpps)
    if asm:
        frames["assessments"] = pd.DataFrame(asm)
        if factors:
            frames["assessment_factors"] = pd.DataFrame(factors)
    tables = CINTables.from_mapping(frames)
    return tables.validate() if validate else tables
