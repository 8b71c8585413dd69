"""The dial plan at run time (core thread): which destination a call starts at.

Inbound line calls go by the inbound routes, an extension dialling a plan object's
number (ring group 600, IVR 700) enters it, feature codes flip time conditions, and
outbound numbers go by the outbound routes and the extension's permissions. The store
is read through snapshots (one stat when nothing changed), never per key press.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from pbx.dialplan.flow import Flow
from pbx.dialplan.numberclass import classify_outside, is_outside

log = logging.getLogger(__name__)

EMERGENCY = ("112", "911", "999")  # go out on any line, whatever the routes and permissions say


class DialPlan:
    def __init__(self, b2bua: Any, store: Any, prompts: Any, players: Any, *,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.b2bua = b2bua
        self.store = store
        self.prompts = prompts
        self.players = players
        self.clock = clock
        self.rng = rng or random.Random()
        self._answers: dict[str, str] = {}  # ring group -> who answered last (round robin)

    # ---- where a call starts -------------------------------------------------------------
    def inbound(self, call: Any, trunk: str) -> None:
        """A line call with its caller ID: the first inbound route that matches."""
        snap = self.store.snapshot()
        who = getattr(call, "identity", None)  # pbx.contacts.callers.Caller, when contacts are on
        route = snap.match_inbound(trunk, call.caller, who.tier if who is not None else "unknown")
        if route is not None:
            manager = who.info.responsible if who is not None and who.info is not None else ""
            seconds = route.get("responsible_first", 0)
            if seconds and manager and self.b2bua.directory.get(manager) is not None:
                flow = self._flow(call, snap)
                flow.step("route", destination=route["destination"], route=route["id"], responsible=manager)
                return flow.ring_first(manager, float(seconds), route["destination"])
            return self._start(call, snap, route["destination"], route=route["id"])
        flow = self._flow(call, snap)
        flow.step("route", id=None)
        flow.hang_up("no_route")

    def blocked(self, call: Any, prompt: str) -> None:
        """A blocked caller: the line is answered, the prompt played, then hung up."""
        flow = self._flow(call, self.store.snapshot())
        flow.step("blocked", prompt=prompt)
        flow.pick_up(lambda: flow.announce(prompt, lambda: flow.hang_up("blocked")))

    def internal(self, call: Any) -> bool:
        """An extension dialled something that is not an extension: a plan object's
        number or a feature code. False when it is neither."""
        snap = self.store.snapshot()
        dest = snap.by_number(call.callee)
        if dest is not None:
            self._start(call, snap, dest, dialled=call.callee)
            return True
        cond = snap.by_feature_code(call.callee)
        if cond is not None:
            self._toggle_override(call, snap, snap.get("timecondition", cond.partition(":")[2]))
            return True
        return False

    def outbound(self, call: Any, dialled: str, check_permission: bool = True) -> bool:
        """An outside number: the first outbound route whose pattern matches, if the
        extension may call that kind of number (a ring group's outside member is the
        owner's own choice: not checked). False when no route matches."""
        snap = self.store.snapshot()
        lines = self.b2bua.trunks
        emergency = dialled in EMERGENCY and self.b2bua.directory.get(dialled) is None
        found = snap.match_outbound(dialled)
        if found is not None:
            route, number = found
            trunks = list(route["trunks"]) or (list(lines.lines) if lines is not None else [])
            if emergency and lines is not None:  # the route's lines first, then every other one
                trunks += [name for name in lines.lines if name not in trunks]
            cls = "emergency" if emergency else self.number_class(number, trunks)
            call.path.append({"step": "outbound", "id": route["id"], "number": number, "class": cls, "at": 0.0})
            if check_permission and cls not in snap.permission(call.caller):
                log.warning("call %s: extension %s may not call %s numbers (%s)", call.id, call.caller, cls, number)
                call.path.append({"step": "refused", "class": cls, "at": 0.0})
                self.b2bua.refuse(call, 403, "forbidden")
                return True
            if lines is None or not lines.outbound(call, number, trunks):
                self.b2bua.refuse(call, 503, "failed")  # no line free
            return True
        if emergency and lines is not None:
            call.path.append({"step": "outbound", "id": None, "number": dialled, "class": "emergency", "at": 0.0})
            if not lines.outbound(call, dialled, list(lines.lines)):
                self.b2bua.refuse(call, 503, "failed")
            return True
        return False

    # ---- helpers for flows ----------------------------------------------------------------
    def _start(self, call: Any, snap: Any, dest: str, **why: Any) -> None:
        flow = self._flow(call, snap)
        flow.step("route", destination=dest, **why)
        flow.go(dest)

    def _flow(self, call: Any, snap: Any) -> Flow:
        call.flow = Flow(self, call, snap)
        return call.flow

    def reach(self, member: str) -> list[Any]:
        """Where to ring a member now: its phones' registrations; for an outside number
        a B leg that the core turns into a line call (pbx.calls.b2bua.OutsideMember),
        while a line is free. [] when the member cannot be rung."""
        b = self.b2bua
        if self.busy(member):
            return []
        if is_outside(member):
            return [b.outside_member(member)] if b.trunks is not None and b.trunks.free_lines() else []
        return b.location.contacts(member) if b.directory.get(member) is not None else []

    def busy(self, member: str) -> bool:
        """On a call here (an outside number: its line call)."""
        b = self.b2bua
        if is_outside(member):
            return b.trunks is not None and b.busy(b.trunks.normalised(member))
        return b.busy(member)

    def available(self, member: str) -> bool:
        return bool(self.reach(member))

    def remember_answer(self, group: str, ext: str) -> None:
        self._answers[group] = ext

    def last_answer(self, group: str) -> str:
        return self._answers.get(group, "")

    def prompt_path(self, prompt_id: str) -> Path | None:
        if self.prompts is None or not self.prompts.exists(prompt_id):
            return None
        return Path(self.prompts.path(prompt_id))

    def schedule_matches(self, snap: Any, cond_id: str, now: datetime) -> bool:
        sched = snap.schedule(cond_id)
        return bool(sched is not None and sched.matches(now))

    def number_class(self, number: str, trunks: list[str]) -> str:
        lines = self.b2bua.trunks
        config = lines.trunks.get(trunks[0]) if lines is not None and trunks else None
        return classify_outside(number, config.country if config else "RU", config.area_code if config else "")

    def _toggle_override(self, call: Any, snap: Any, cond: Any) -> None:
        """Feature code (*27): force the other outcome now, or back to the schedule.
        The store is written on a worker thread (a file write never runs on the core)."""
        if cond.get("override"):
            new = ""
        else:
            new = "unmatched" if self.schedule_matches(snap, cond["id"], datetime.now().astimezone()) else "matched"
        flow = self._flow(call, snap)
        flow.step("override", id=cond["id"], override=new or None)
        store, ident = self.store, cond["id"]

        def save() -> None:
            try:
                current = store.get("timecondition", ident)
                if current is not None:
                    store.save("timecondition", {**current, "override": new})
            except Exception:
                log.exception("time condition %s: override not saved", ident)
        threading.Thread(target=save, name="override-save", daemon=True).start()
        prompt = "system-closed-en" if new == "unmatched" else "system-goodbye-en"
        flow.pick_up(lambda: flow.announce(prompt, lambda: flow.hang_up("answered")))
