"""One call's way through the dial plan: a small state machine on the core thread.

A `Flow` takes a destination (`ivr:main`, `ringgroup:sales`, ...), does what it says
with the B2BUA's leg mechanics (ring, pick up, play, hang up) and hands the call on.
It reads the plan snapshot taken when the call came in, so an edit while the call is
in a menu cannot pull the menu from under it. Every step is written into `call.path`,
which the call record keeps (where callers were lost).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from pbx.dialplan import strategies
from pbx.errors import PbxError

if TYPE_CHECKING:
    from pbx.dialplan.engine import DialPlan

log = logging.getLogger(__name__)
MAX_HOPS = 200  # automatic loops are refused on save; this only guards a corrupt file
BUSY = frozenset({486, 600, 603})  # a phone's busy, busy everywhere, decline
HOLD = "system-hold-en"  # what a caller the appliance has answered hears while phones ring


class Flow:
    def __init__(self, plan: "DialPlan", call: Any, snapshot: Any) -> None:
        self.plan = plan
        self.call = call
        self.snapshot = snapshot
        self.b2bua = plan.b2bua
        self.node = ""
        self.menus: list[str] = []  # IVRs on the way here, for ivr:return
        self.hops = 0
        self.listener: Any = None
        self.timer: Any = None
        self.keys_to: Callable[[str], None] | None = None  # who takes a pressed key now
        self.after_pickup: Callable[[], None] | None = None
        self.picked_up = False
        self.no_answer: Callable[[set[int]], None] | None = None
        self.ringing: dict | None = None  # the path entry of the members ringing now
        self.group: str = ""
        self.ended = False
        self.display_prefix = ""

    # ---- moving on ----------------------------------------------------------------------
    def go(self, dest: str) -> None:
        if self.ended:
            return
        self._quiet()
        self.hops += 1
        kind, _, ident = dest.partition(":")
        self.group, self.display_prefix = "", ""  # a group's name and memory are its own
        if dest == "hangup" or self.hops > MAX_HOPS:
            return self.hang_up()
        obj = self.snapshot.get(kind, ident)
        enter = getattr(self, f"_enter_{kind}", None)
        if kind == "extension":
            obj = {"number": ident}
        if obj is None or enter is None:
            log.error("call %s: destination %s does not exist; hanging up", self.call.id, dest)
            self.step("missing", id=dest)
            return self.hang_up()
        self.node = dest
        enter(ident, obj)

    def step(self, kind: str, **what: Any) -> dict:
        entry = {"step": kind, "at": round(self.plan.clock() - self.call.start, 3), **what}
        self.call.path.append(entry)
        return entry

    def hang_up(self, disposition: str = "") -> None:
        self.step("hangup")
        self.b2bua.plan_hangup(self.call, disposition or ("unavailable" if not self.picked_up else "no_answer"))

    def stop(self) -> None:
        """The call ended: nothing of it may fire later."""
        self.ended = True
        self._quiet()
        self._close_ring_entry()

    def _quiet(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.keys_to = None
        self.no_answer = None

    def _later(self, seconds: float, fn: Callable[[], None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.b2bua.core.call_later(seconds, fn)

    # ---- what the B2BUA tells the flow ----------------------------------------------------
    def media_ready(self) -> None:
        """The appliance has answered and the caller's audio is up."""
        self.picked_up = True
        then, self.after_pickup = self.after_pickup, None
        if then is not None and not self.ended:
            then()

    def key(self, digit: str) -> None:
        if self.keys_to is not None and not self.ended:
            self.keys_to(digit)

    def rang_out(self, statuses: set[int]) -> None:
        """The members ringing now did not answer (timeout, all refused or busy)."""
        self._close_ring_entry()
        handler, self.no_answer = self.no_answer, None
        if handler is not None and not self.ended:
            handler(statuses)

    def answered(self, ext: str) -> None:
        self._close_ring_entry()
        self._quiet()
        self.step("answered", ext=ext)
        if self.group:
            self.plan.remember_answer(self.group, ext)

    def _close_ring_entry(self) -> None:
        if self.ringing is not None:
            self.ringing["seconds"] = round(self.plan.clock() - self.call.start - self.ringing["at"], 3)
            self.ringing = None

    # ---- prompts -----------------------------------------------------------------------------
    def pick_up(self, then: Callable[[], None]) -> None:
        if self.picked_up:
            return then()
        self.after_pickup = then
        self.b2bua.pick_up(self.call)

    def play(self, prompt_id: str, then: Callable[[], None], *, or_else: bool = True) -> bool:
        """Play a prompt to the caller, then go on; if it cannot be played, go on at once
        (or_else) or not at all. False when it is not playing."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        sink = self.b2bua.caller_audio(self.call)
        path = self.plan.prompt_path(prompt_id) if prompt_id else None
        if sink is not None and path is not None:
            try:
                self.listener = self.plan.players.play(str(path), sink, lambda: self._prompt_done(then))
                return True
            except PbxError as exc:  # a broken file must not leave the caller in silence for good
                log.warning("call %s: prompt %s: %s", self.call.id, prompt_id, exc.message)
        elif prompt_id:
            log.warning("call %s: prompt %s cannot be played", self.call.id, prompt_id)
        if or_else:
            self._later(0, then)
        return False

    def announce(self, prompt_id: str, then: Callable[[], None]) -> None:
        """play(), as a callback that returns nothing (pick_up's)."""
        self.play(prompt_id, then)

    def _prompt_done(self, then: Callable[[], None]) -> None:
        self.listener = None
        if not self.ended:
            then()

    # ---- destinations --------------------------------------------------------------------------
    def _enter_extension(self, number: str, _obj: dict) -> None:
        self.step("extension", id=number)
        self._ring_members([number], [[number]], self.b2bua.ring_timeout, self.b2bua.ring_timeout, "hangup")

    def ring_first(self, ext: str, seconds: float, then: str) -> None:
        """The caller's responsible extension rings alone first; unanswered, on to `then`."""
        self.node = f"extension:{ext}"
        self.step("responsible", id=ext)
        self._ring_members([ext], [[ext]], seconds, seconds, then)

    def _enter_ringgroup(self, ident: str, group: dict) -> None:
        self.step("ringgroup", id=ident, strategy=group["strategy"])
        self.group = ident
        members = list(group.get("members") or [])
        if "*" in members:
            members = [e.number for e in self.b2bua.directory.list()]
        plan = strategies.steps(group["strategy"], members, self.plan.available,
                                last_answered=self.plan.last_answer(ident), rng=self.plan.rng)
        self.display_prefix = group.get("name_prefix", "")
        self._ring_members(members, plan, float(group["ring_time"]), float(group["total_time"]),
                           group.get("no_answer", "hangup"))

    def _ring_members(self, members: list[str], plan: list[list[str]], ring_time: float, total_time: float,
                      then: str) -> None:
        """Ring the plan's steps. The caller hears busy (486) only when every member was
        busy: on a call here, or their phones said so; else no answer or unavailable."""
        deadline = self.plan.clock() + total_time
        steps = list(plan)
        outcome = {"rang": False, "busy": True}  # busy: in every step so far, everyone said busy

        def next_step(statuses: set[int] | None = None) -> None:
            if statuses is not None:
                outcome["rang"] = True
                outcome["busy"] = outcome["busy"] and bool(statuses) and statuses <= BUSY
            while steps:
                step = steps.pop(0)
                left = deadline - self.plan.clock()
                if left <= 0.05:
                    break
                reached = {m: self.plan.reach(m) for m in step}
                contacts = [b for m in step for b in reached[m]]
                if not contacts:
                    continue
                self.ringing = self.step("ring", members=[m for m in step if reached[m]])
                self.no_answer = next_step
                if self.b2bua.ring_flow(self.call, contacts, self._display(), min(ring_time, left)):
                    if self.listener is None:
                        self._hold()
                    return
                self._close_ring_entry()
            self.no_answer = None
            if then == "hangup":
                rang = outcome["rang"]
                busy = outcome["busy"] if rang else bool(members) and all(self.plan.busy(m) for m in members)
                return self.hang_up("busy" if busy else "no_answer" if rang or self.picked_up else "unavailable")
            self.go(then)

        next_step()

    def _hold(self) -> None:
        """Over and over until someone answers (a caller in silence thinks the line is dead)."""
        if self.picked_up and not self.ended and self.plan.prompt_path(HOLD) is not None:
            self.play(HOLD, self._hold, or_else=False)  # not playable now: silence, not a busy loop

    def _display(self) -> str:
        return f"{self.display_prefix}{self.call.caller_name or self.call.caller}"

    def _enter_timecondition(self, ident: str, cond: dict) -> None:
        override = cond.get("override", "")
        if override in ("matched", "unmatched"):
            matched = override == "matched"
        else:
            matched = self.plan.schedule_matches(self.snapshot, ident, datetime.now(timezone.utc))
        self.step("timecondition", id=ident, matched=matched, override=override or None)
        self.go(cond["matched"] if matched else cond["unmatched"])

    def _enter_announcement(self, ident: str, ann: dict) -> None:
        self.step("announcement", id=ident)
        self.pick_up(lambda: self.announce(ann["prompt"], lambda: self.go(ann.get("then", "hangup"))))

    def _enter_ivr(self, ident: str, ivr: dict) -> None:
        if not self.menus or self.menus[-1] != ident:
            self.menus.append(ident)
        entry = self.step("ivr", id=ident, keys="")
        Menu(self, ident, ivr, entry).start()


class Menu:
    """An IVR menu: the prompt (keys may interrupt it), then keys or timeouts."""

    def __init__(self, flow: Flow, ident: str, ivr: dict, entry: dict) -> None:
        self.flow, self.ident, self.ivr, self.entry = flow, ident, ivr, entry
        self.digits = ""
        self.invalid = 0
        self.timeouts = 0

    def start(self) -> None:
        self.flow.pick_up(self.prompt)

    def prompt(self, first: str | None = None) -> None:
        self.digits = ""
        self.flow.keys_to = self.on_key
        if first:  # a retry prompt ("that is not a valid option") before the menu again
            self.flow.play(first, self.prompt)
            return
        self.flow.play(self.ivr["prompt"], self.wait)

    def wait(self) -> None:
        self.flow.keys_to = self.on_key
        self.flow._later(float(self.ivr["first_digit_timeout"]), self.timed_out)

    def on_key(self, digit: str) -> None:
        flow = self.flow
        if flow.timer is not None:  # the first-digit (or inter-digit) wait is over
            flow.timer.cancel()
            flow.timer = None
        if flow.listener is not None:  # barge in: the caller knows what they want
            flow.listener.stop()
            flow.listener = None
        self.digits += digit
        self.entry["keys"] += digit
        if self._may_continue():
            flow._later(float(self.ivr["inter_digit_timeout"]), self.resolve)
        else:
            self.resolve()

    def _may_continue(self) -> bool:
        """With direct dial, '1' may be the start of 101: wait for the next digit."""
        if not self.ivr.get("direct_dial") or not self.digits.isdigit():
            return False
        longer = any(e.number.startswith(self.digits) and e.number != self.digits
                     for e in self.flow.b2bua.directory.list())
        return longer

    def resolve(self) -> None:
        flow, digits = self.flow, self.digits
        keys = self.ivr.get("keys") or {}
        if digits in keys:
            dest = keys[digits]
            if dest == "ivr:repeat":
                return self.prompt()
            if dest == "ivr:return":
                flow.menus.pop() if len(flow.menus) > 1 else None
                return flow.go(f"ivr:{flow.menus[-1]}")
            return flow.go(dest)
        if self.ivr.get("direct_dial") and flow.b2bua.directory.get(digits) is not None:
            return flow.go(f"extension:{digits}")
        self.invalid += 1
        flow.step("invalid", id=self.ident, keys=digits)
        if self.invalid >= int(self.ivr["retries"]):
            return flow.go(self.ivr["invalid_destination"])
        self.prompt(self.ivr.get("invalid_prompt") or None)

    def timed_out(self) -> None:
        flow = self.flow
        if self.digits:
            return self.resolve()
        self.timeouts += 1
        flow.step("timeout", id=self.ident)
        if self.timeouts >= int(self.ivr["retries"]):
            return flow.go(self.ivr["timeout_destination"])
        self.prompt(self.ivr.get("timeout_prompt") or None)
