"""Small shared pieces of the analysis tables: identity scopes and option checking."""

from __future__ import annotations

from typing import Final, Literal, get_args

import pandas as pd

from recurrence.models.base import check_literal

Scope = Literal["same_la", "any_la"]
"""Whose history counts: the same LA's records of the child, or every LA's (via ``child_key``)."""

SCOPE_KEYS: Final[dict[str, list[str]]] = {
    "same_la": ["la_code", "la_child_id"],
    "any_la": ["child_key"],
}
"""Columns identifying "the same child" in each scope.

Within an LA the census identifies a child by ``la_child_id`` (LAchildID), which is all the
council itself could see (NI 65's "of that council"; DfE's re-referral derivation links records
within an LA). ``child_key`` is the cross-LA linkage key (NPD pupil matching reference), so the
``any_la`` scope follows a child who moves between councils.
"""


def check_scope(scope: str) -> Scope:
    """Return ``scope`` if it is ``"same_la"`` or ``"any_la"``, else raise ``ValueError``."""
    check_literal("scope", scope, get_args(Scope))
    return scope  # type: ignore[return-value]


def as_timestamp(value: object, name: str) -> pd.Timestamp:
    """Parse a date argument (str, date, Timestamp) or raise ``ValueError`` naming it."""
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a date; got {value!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"{name} must be a date; got {value!r}")
    return ts.normalize()
