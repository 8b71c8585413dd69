"""Business hours as the owner sees them now: each time condition's schedule outcome, its
override and what a call would get (the dashboard, `pbx timecondition list`)."""
from __future__ import annotations

from datetime import datetime
from typing import Any


def hours_now(store: Any, now: datetime | None = None) -> list[dict]:
    snap = store.snapshot()
    moment = now or datetime.now().astimezone()
    out = []
    for cond in snap.objects("timecondition"):
        schedule = snap.schedule(cond["id"])
        in_hours = bool(schedule is not None and schedule.matches(moment))
        override = cond.get("override", "")
        effective = override or ("matched" if in_hours else "unmatched")
        out.append({"id": cond["id"], "name": cond.get("name", cond["id"]), "in_hours": in_hours,
                    "override": override, "effective": effective,
                    "destination": cond[effective], "feature_code": cond.get("feature_code", "")})
    return out
