"""Per-child follow-up limits: the 18th birthday, death, or the end of the data.

A child leaves the scope of children's social care at 18 (Children Act 1989, s.105: a child is
a person under 18), so recurrence is censored at the 18th birthday, at death
(``person_death_date``), or at the end of the data, whichever comes first.

A child who appears in several LAs has several ``children`` rows sharing one ``child_key``: the
earliest recorded birth date is used and the earliest death date. Only a child with no recorded
birth date in any LA falls back to the earliest ``expected_person_birth_date`` (a child recorded
before birth). A child with no birth date at all is not
censored by age.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recurrence.data.schema import CINTables
from recurrence.tables._dates import eighteenth_birthday

CENSOR_REASONS = ("18th_birthday", "death", "end_of_data")


def child_censoring(tables: CINTables, end_of_data: pd.Timestamp) -> pd.DataFrame:
    """Return one row per ``child_key`` with its censoring date and reason.

    Columns: ``birth_date``, ``death_date``, ``eighteenth_birthday``, ``censor_date`` (the
    earliest of the 18th birthday, death and ``end_of_data``) and ``censor_reason`` (one of
    :data:`CENSOR_REASONS`; ties go to the first in that order). Indexed by ``child_key``; keys
    that appear in other tables but not in ``children`` are censored at ``end_of_data`` only.
    """
    ch = tables.children
    g = pd.DataFrame(
        {
            "child_key": ch["child_key"],
            "birth_date": ch["person_birth_date"],
            "expected": ch["expected_person_birth_date"],
            "death_date": ch["person_death_date"],
        }
    ).groupby("child_key", sort=True)
    out = g.min()
    # The expected date stands in only where no LA recorded an actual birth date: an expected
    # date given before birth must not beat a real one recorded by another LA.
    out["birth_date"] = out["birth_date"].fillna(out.pop("expected"))
    keys = pd.Index(
        pd.concat(
            [
                tables.children["child_key"],
                tables.cin_episodes["child_key"],
                tables.cpps["child_key"],
            ]
        ).unique(),
        name="child_key",
    )
    out = out.reindex(keys)
    out["eighteenth_birthday"] = eighteenth_birthday(out["birth_date"])
    eod = pd.Series(end_of_data, index=out.index, dtype="datetime64[ns]")
    cands = np.stack(
        [
            out["eighteenth_birthday"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            out["death_date"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            eod.to_numpy().astype(np.int64),
        ],
        axis=1,
    )
    nat = np.iinfo(np.int64).min
    cands = np.where(cands == nat, np.iinfo(np.int64).max, cands)
    which = np.argmin(cands, axis=1)
    out["censor_date"] = pd.Series(
        cands[np.arange(len(out)), which].astype("datetime64[ns]"), index=out.index
    )
    out["censor_reason"] = np.asarray(CENSOR_REASONS, dtype=object)[which]
    return out
