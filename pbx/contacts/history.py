"""A caller's history: the contact and the last calls, with what the person who answers
needs to know (who took the earlier calls, how long they talked, whether a missed call
is still waiting for a callback, whether this is a repeat caller).

Read from the journal off the ring path: by the REST bridge, the CLI, and by the events
recorder's thread for the call.ringing event."""
from __future__ import annotations

import time
from typing import Any

from pbx.numbers import ANONYMOUS, normalise
from pbx.store.journal import is_missed

ANSWERED = "answered"


def _entry(record: Any) -> dict[str, Any]:
    details = record.details or {}
    inbound = record.direction == "inbound"
    return {"id": record.id, "at": record.start, "direction": record.direction,
            "number": record.caller if inbound else record.callee, "line": record.trunk,
            "disposition": record.disposition, "answered": record.disposition == ANSWERED,
            "answered_by": details.get("answered_by") or (record.callee if record.disposition == ANSWERED
                                                          and not inbound else None),
            "talk_seconds": record.duration, "missed": is_missed(record.direction, record.disposition),
            "repeat": bool(details.get("repeat")), "recordings": _recordings(record.id, details)}


def _recordings(call_id: str, details: dict) -> list[dict]:
    """The call's recording (one per call, pbx/calls/recording.py), where to hear it."""
    rec = details.get("recording") or {}
    if not rec.get("path"):
        return []
    return [{"url": f"/api/v1/recordings/{call_id}", "format": rec.get("format"), "status": rec.get("status"),
             "duration": rec.get("duration")}]


def _open_callback(calls: list[dict]) -> dict | None:
    """The oldest missed call since the last answered one (newest first in `calls`)."""
    waiting = None
    for call in calls:
        if call["answered"]:
            break
        if call["missed"]:
            waiting = call
    return {"since": waiting["at"], "call": waiting["id"]} if waiting else None


def caller_history(journal: Any, contacts: Any, number: str, *, limit: int = 10,
                   repeat_calls: int = 3, repeat_hours: float = 24.0,
                   now: float | None = None) -> dict[str, Any]:
    country = getattr(contacts, "country", "RU") if contacts is not None else "RU"
    area = getattr(contacts, "area_code", "") if contacts is not None else ""
    e164 = normalise(number, country, area)
    info = contacts.lookup(e164) if contacts is not None and e164 != ANONYMOUS else None
    numbers = [e164]
    contact = None
    if info is not None:
        contact = contacts.get(info.contact_id).public()
        numbers += [p["number"] for p in contact["phones"] if p["number"] != e164]
    if e164 == ANONYMOUS:  # withheld numbers are not one caller
        numbers = []
    calls = [_entry(r) for r in journal.with_number(numbers, limit=max(limit, 50))] if numbers else []
    total, missed = journal.count_with_number(numbers) if numbers else (0, 0)
    now = time.time() if now is None else now
    recent = sum(1 for c in calls if c["direction"] == "inbound" and c["at"] >= now - repeat_hours * 3600)
    return {"number": e164, "contact": contact, "calls": calls[:limit],
            "total_calls": total, "missed": missed,
            "open_callback": _open_callback(calls),
            "repeat": {"calls": recent, "hours": repeat_hours, "is_repeat": recent >= repeat_calls}}


def ringing_summary(history: dict[str, Any], limit: int = 3) -> dict[str, Any]:
    """What a screen-pop shows before anyone answers: the short form of the history."""
    last = history["calls"][:limit]
    return {"contact": history["contact"], "last_calls": last, "total_calls": history["total_calls"],
            "missed": history["missed"], "open_callback": history["open_callback"],
            "repeat": history["repeat"]}
