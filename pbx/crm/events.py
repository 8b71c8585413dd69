"""Event types of the CRM contract, their envelope, and which bus topics they come from."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

EVENT_TYPES = ("call.ringing", "call.answered", "call.ended", "call.missed", "recording.ready",
               "recording.disk_low", "recording.disk_ok", "sms.received", "contact.changed", "line.down",
               "line.up", "outbox.dead_letter")

# bus topic -> event type; line_state is split by its state. call_ended is not here: the
# call.ended event carries the whole call record and is written by the journal hook.
TOPICS = {"call_started": "call.ringing", "call_answered": "call.answered",
          "sms_received": "sms.received", "contact_changed": "contact.changed",
          "recording_ready": "recording.ready", "outbox_dead_letter": "outbox.dead_letter",
          # the disk guard's alerts: recordings stopped for want of space, and resumed
          "recording_disk_low": "recording.disk_low", "recording_disk_ok": "recording.disk_ok"}


def event_type(topic: str, data: dict[str, Any]) -> str | None:
    """The event type a bus event becomes, or None when it is not part of the contract."""
    if topic == "line_state":
        return {"up": "line.up", "down": "line.down"}.get(str(data.get("state")))
    return TOPICS.get(topic)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(kind: str, data: dict[str, Any], at: float) -> str:
    """The JSON body every endpoint and SSE client gets; kept as text so each retry sends
    the very same bytes."""
    return json.dumps({"type": kind, "timestamp": iso(at), "data": data}, ensure_ascii=False,
                      separators=(",", ":"), default=str)
