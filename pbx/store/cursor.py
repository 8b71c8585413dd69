"""The pull contract for call records: an opaque cursor `c_<n>` (n: the journal's write
sequence number of the last record a reader got; `c_0` is the beginning). A page holds
records in the order they were written (shortly after each call ends, so not in start
order) and the cursor to go on from; following `next` until `more` is false gets every
record exactly once, records written during the sync included. Shared by
`GET /api/v1/calls?since=c_...` and `pbx calls --since c_...`."""
from __future__ import annotations

import re
from typing import Any

from pbx.errors import ValidationError
from pbx.store.journal import CallJournal

PREFIX = "c_"
START = PREFIX + "0"
MAX_PAGE = 1000
_CURSOR = re.compile(r"c_(0|[1-9][0-9]{0,17})")


def is_cursor(text: str) -> bool:
    return text.startswith(PREFIX)


def encode(seq: int) -> str:
    return f"{PREFIX}{seq}"


def decode(text: str) -> int:
    if not _CURSOR.fullmatch(text):
        raise ValidationError(f"since: a cursor is c_ and a number as a page's next gave it (c_0: from the start),"
                              f" not {text[:40]!r}", details={"field": "since"})
    return int(text[len(PREFIX):])


def pull(journal: CallJournal, cursor: str, limit: int) -> dict[str, Any]:
    """One page after `cursor`: {calls, next, more}. `next` is `cursor` itself when
    nothing new was written (ask again later with the same one)."""
    after = decode(cursor)
    rows = journal.list_written(after, min(limit, MAX_PAGE) + 1)  # one more: is there more?
    page = rows[:min(limit, MAX_PAGE)]
    return {"calls": [record.to_dict() for _, record in page],
            "next": encode(page[-1][0]) if page else encode(after),
            "more": len(rows) > len(page)}
