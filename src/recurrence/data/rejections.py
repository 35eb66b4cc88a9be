"""Rejection records: what a reader could not load, and why.

Readers never drop input silently. Every record or value they cannot load becomes one row of
the ``rejections`` table (:data:`recurrence.data.schema.REJECTIONS`) with the columns
``source_file, record, la_code, la_child_id, element, value, reason``.

Two kinds of row are written, told apart by ``record``:

Whole records (``record`` in :data:`RECORD_KINDS`)
    The record (a child, CIN episode, assessment, factor, CIN plan, section 47 enquiry, child
    protection plan or plan review) is not in any table. When a record is rejected, each record
    nested in it is rejected too with the reason ``"<parent kind> rejected"`` (for example a
    plan inside a rejected episode gets ``"episode rejected"``), so that every record of the
    input is accounted for exactly once (the loss invariant, ``tests/data/test_loss_invariant.py``).
Values (``record == "field"``)
    The record was kept but one value in it was not loaded: an unknown code or an invalid yes/no
    in an optional coded field (the column is left missing), an invalid UPN (not used for
    linkage), an unknown element or stray text (ignored). ``element`` names the element and
    ``value`` the text found.

``reason`` is a short phrase from a fixed vocabulary (see :data:`REASONS`) so that rejections
can be counted by reason; the specifics go into ``element`` and ``value``.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from recurrence.data.schema import coerce_table, empty_table

RECORD_KINDS: Final[tuple[str, ...]] = (
    "child",
    "episode",
    "assessment",
    "factor",
    "cin_plan",
    "section47",
    "cpp",
    "review",
)
"""Kinds of whole record, outermost first (``cpp`` = child protection plan)."""

FIELD: Final = "field"
"""``record`` value of a row that rejects one value of a record that was otherwise kept."""

MISSING_REQUIRED: Final = "missing required element"
INVALID_DATE: Final = "invalid date"
DATE_OUT_OF_RANGE: Final = "date out of range"
END_BEFORE_START: Final = "end date before start date"
UNKNOWN_CODE: Final = "unknown code"
INVALID_YES_NO: Final = "invalid yes/no value"
INVALID_NUMBER: Final = "invalid number"
INVALID_UPN: Final = "invalid UPN"
INVALID_ID: Final = "invalid identifier"
REPEATED_ELEMENT: Final = "repeated element"
UNKNOWN_ELEMENT: Final = "unknown element"
STRAY_TEXT: Final = "stray text"
MISPLACED_RECORD: Final = "misplaced record"
DUPLICATE: Final = "duplicate {kind}"
PARENT_REJECTED: Final = "{kind} rejected"

REASONS: Final[tuple[str, ...]] = (
    MISSING_REQUIRED,
    INVALID_DATE,
    DATE_OUT_OF_RANGE,
    END_BEFORE_START,
    UNKNOWN_CODE,
    INVALID_YES_NO,
    INVALID_NUMBER,
    INVALID_UPN,
    INVALID_ID,
    REPEATED_ELEMENT,
    UNKNOWN_ELEMENT,
    STRAY_TEXT,
    MISPLACED_RECORD,
    *(DUPLICATE.format(kind=k) for k in RECORD_KINDS),
    *(PARENT_REJECTED.format(kind=k) for k in RECORD_KINDS),
)
"""Every reason a reader of this package writes."""

COLUMNS: Final[tuple[str, ...]] = (
    "source_file",
    "record",
    "la_code",
    "la_child_id",
    "element",
    "value",
    "reason",
)


class RejectionLog:
    """Collects rejection rows column-wise (cheap to append, one frame built at the end).

    Parameters
    ----------
    source_file
        Written into every row's ``source_file`` unless :meth:`add` is given another (flat
        files pass ``"name.csv:row N"``).
    la_code
        Default ``la_code`` of the rows; may be set later (the XML header can follow records).
    """

    def __init__(self, source_file: str, la_code: str | None = None) -> None:
        self.source_file = source_file
        self.la_code = la_code
        self._cols: dict[str, list[str | None]] = {c: [] for c in COLUMNS}
        self._has_own_la: list[bool] = []

    def __len__(self) -> int:
        return len(self._cols["reason"])

    def add(
        self,
        record: str,
        reason: str,
        *,
        la_child_id: str | None = None,
        element: str | None = None,
        value: str | None = None,
        source_file: str | None = None,
        la_code: str | None = None,
    ) -> None:
        """Append one row. ``record`` is a kind from :data:`RECORD_KINDS` or :data:`FIELD`."""
        c = self._cols
        c["source_file"].append(source_file or self.source_file)
        c["record"].append(record)
        c["la_code"].append(la_code)
        self._has_own_la.append(la_code is not None)
        c["la_child_id"].append(la_child_id)
        c["element"].append(element)
        c["value"].append(value)
        c["reason"].append(reason)

    def to_frame(self) -> pd.DataFrame:
        """The rows as a typed ``rejections`` table (rows without their own LA get the log's)."""
        if not len(self):
            return empty_table("rejections")
        cols = dict(self._cols)
        cols["la_code"] = [
            la if own else self.la_code
            for la, own in zip(cols["la_code"], self._has_own_la, strict=True)
        ]
        return coerce_table("rejections", pd.DataFrame(cols))


def is_record_rejection(rejections: pd.DataFrame, kind: str) -> pd.Series:
    """Boolean mask of the rows that reject a whole record of ``kind`` (e.g. ``"cpp"``)."""
    if kind not in RECORD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}; got {kind!r}")
    return rejections["record"] == kind


def summarise(rejections: pd.DataFrame) -> pd.DataFrame:
    """Count rejections by ``record`` and ``reason`` (columns record, reason, n), largest first.

    Ties are ordered by record then reason so the summary is deterministic.
    """
    if rejections.empty:
        return pd.DataFrame({"record": [], "reason": [], "n": pd.Series([], dtype="int64")})
    counts = rejections.groupby(["record", "reason"], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values(["n", "record", "reason"], ascending=[False, True, True])
    return counts.reset_index(drop=True)
