"""Extension-to-extension calls through the core as a B2BUA (runs on the core thread).

An INVITE relayed by the SIP edge becomes the A leg; every registered contact of the
callee gets a B leg; the first B leg to answer wins, the others are cancelled, and the
two legs' audio is bridged in the conference bridge. Either side ending ends both.
"""
from __future__ import annotations

import enum
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import pjsua2 as pj

from pbx.calls.legs import CoreAccount, Leg
from pbx.core import Core, Timer
from pbx.events import EventBus
from pbx.store.journal import CallRecord

log = logging.getLogger(__name__)

CALLER_HEADER = "X-Pbx-Caller"


class CallState(enum.Enum):
    ROUTING = "routing"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class Directory(Protocol):
    def get(self, number: str) -> Any: ...


class Location(Protocol):
    def contacts(self, ext: str) -> list[Any]: ...


class Journal(Protocol):
    def add(self, record: CallRecord) -> None: ...


@dataclass
class BridgedCall:
    caller: str
    callee: str
    a: Leg
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    b_legs: list[Leg] = field(default_factory=list)
    winner: Leg | None = None
    state: CallState = CallState.ROUTING
    start: float = field(default_factory=time.time)
    answer: float | None = None
    end: float | None = None
    disposition: str = ""
    timer: Timer | None = None
    bridged: bool = False

    def legs(self) -> list[Leg]:
        return [self.a, *self.b_legs]


def header_value(raw: str, name: str) -> str | None:
    """First value of a header in a raw SIP message (the edge wrote it, so it is tidy)."""
    match = re.search(rf"^{re.escape(name)}\s*:\s*(.*?)\s*$", raw, re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else None


def request_user(raw: str) -> str:
    start = raw.split("\r\n", 1)[0]
    match = re.match(r"\S+\s+sips?:([^@;>\s]+)@", start)
    return match.group(1) if match else ""


class B2bua:
    def __init__(self, core: Core, directory: Directory, location: Location, journal: Journal,
                 bus: EventBus, *, edge_addr: tuple[str, int], ring_timeout: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.core = core
        self.directory = directory
        self.location = location
        self.journal = journal
        self.bus = bus
        self.edge_addr = edge_addr
        self.ring_timeout = ring_timeout
        self.clock = clock
        self.account: CoreAccount | None = None
        self.calls: dict[str, BridgedCall] = {}
        self._dead_legs: list[Leg] = []
        self._unrecorded: list[BridgedCall] = []
        self.stats = {"calls": 0, "answered": 0, "rejected_sources": 0}

    # ---- setup / teardown (core thread) -------------------------------------------
    def start(self, engine: Any) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:pbx@{engine.sip_host}:{engine.sip_port}"
        host, port = self.edge_addr
        cfg.sipConfig.proxies.append(f"sip:{host}:{port};lr")
        cfg.mediaConfig.transportConfig = engine.media_transport_config()
        cfg.natConfig.contactRewriteUse = 0
        cfg.natConfig.viaRewriteUse = 0
        cfg.natConfig.sdpNatRewriteUse = 0
        self.account = CoreAccount(self)
        self.account.create(cfg, True)
        engine.on_stop.append(self.destroy)

    def hangup_all(self) -> None:
        for call in list(self.calls.values()):
            call.disposition = call.disposition or ("answered" if call.answer else "failed")
            for leg in call.legs():
                leg.end(503 if leg.role == "a" and not call.answer else 0)
            self._finish(call)

    def destroy(self) -> None:
        """Before libDestroy: no Call or Account may outlive the library."""
        self.hangup_all()
        for call in list(self._unrecorded):
            self._record(call)
        self.calls.clear()
        self._dead_legs.clear()
        self.core.clear_timers()
        if self.account is not None:
            self.account.shutdown()
            self.account = None

    # ---- snapshots for other threads (call through core.call) ---------------------
    def active_calls(self) -> list[dict]:
        return [{"id": c.id, "caller": c.caller, "callee": c.callee, "state": c.state.value,
                 "since": c.start} for c in self.calls.values()]

    def busy(self, ext: str) -> bool:
        return any(ext in (c.caller, c.callee) for c in self.calls.values())

    # ---- pjsua2 callbacks -----------------------------------------------------------
    def on_incoming(self, leg: Leg, raw: str, src: str) -> None:
        host = src.rsplit(":", 1)[0]
        caller = header_value(raw, CALLER_HEADER)
        if host != self.edge_addr[0] or not caller:
            # Only the edge, which authenticated the caller, may hand calls to the core.
            self.stats["rejected_sources"] += 1
            leg.end(403)
            self._bury(leg)
            return
        call = BridgedCall(caller=caller, callee=request_user(raw), a=leg, start=self.clock())
        leg.call = call
        self.calls[call.id] = call
        self.stats["calls"] += 1
        self.bus.publish("call_started", id=call.id, caller=call.caller, callee=call.callee)
        self._route(call)

    def _route(self, call: BridgedCall) -> None:
        if self.directory.get(call.callee) is None:
            return self._reject(call, 404, "unknown_number")
        if self.busy_elsewhere(call):
            return self._reject(call, 486, "busy")
        contacts = self.location.contacts(call.callee)
        if not contacts:
            return self._reject(call, 480, "unavailable")
        caller_ext = self.directory.get(call.caller)
        name = (getattr(caller_ext, "name", "") or call.caller).replace('"', "")
        edge_host, edge_port = self.edge_addr
        for binding in contacts:
            leg = Leg(self, self.account, role="b", target=binding.uri)
            leg.call = call
            op = pj.CallOpParam(True)
            op.txOption.localUri = f'"{name}" <sip:{call.caller}@{edge_host}:{edge_port}>'
            try:
                leg.makeCall(binding.uri, op)
            except pj.Error as exc:
                log.warning("call %s: cannot reach %s: %s", call.id, binding.uri, exc.info())
                leg.ended = True
                self._bury(leg)
                continue
            call.b_legs.append(leg)
        if not call.b_legs:
            return self._reject(call, 480, "unavailable")
        call.timer = self.core.call_later(self.ring_timeout, lambda: self._ring_timeout(call))

    def busy_elsewhere(self, call: BridgedCall) -> bool:
        return any(call.callee in (c.caller, c.callee) for c in self.calls.values() if c is not call)

    def on_leg_state(self, leg: Leg, state: int, status: int) -> None:
        call: BridgedCall | None = leg.call
        if call is None or call.state is CallState.ENDED:
            if state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self._bury(leg)
            return
        if state == pj.PJSIP_INV_STATE_EARLY and leg.role == "b" and call.state is CallState.ROUTING:
            call.state = CallState.RINGING
            call.a.respond(180)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and leg.role == "b":
            self._b_answered(call, leg)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            leg.ended = True
            leg.status = status
            self._bury(leg)
            self._leg_gone(call, leg)

    def on_leg_media(self, leg: Leg) -> None:
        call: BridgedCall | None = leg.call
        if call is None or call.winner is None or call.bridged:
            return
        a_audio, b_audio = call.a.audio(), call.winner.audio()
        if a_audio is None or b_audio is None:
            return  # the other side's media comes up in its own callback
        a_audio.startTransmit(b_audio)
        b_audio.startTransmit(a_audio)
        call.bridged = True

    # ---- state machine --------------------------------------------------------------
    def _b_answered(self, call: BridgedCall, leg: Leg) -> None:
        if call.winner is not None:
            leg.end()  # two phones answered at once: the later one loses
            return
        call.winner = leg
        call.state = CallState.ANSWERED
        call.answer = self.clock()
        self.stats["answered"] += 1
        if call.timer:
            call.timer.cancel()
        for other in call.b_legs:
            if other is not leg:
                other.end()
        call.a.respond(200)
        self.bus.publish("call_answered", id=call.id, caller=call.caller, callee=call.callee)
        self.on_leg_media(leg)

    def _leg_gone(self, call: BridgedCall, leg: Leg) -> None:
        if leg.role == "a":
            call.disposition = call.disposition or ("answered" if call.answer else "cancelled")
            for b in call.b_legs:
                b.end()
            return self._finish(call)
        if call.winner is leg:
            call.disposition = "answered"
            call.a.end()
            return self._finish(call)
        if call.winner is None and all(b.ended for b in call.b_legs):
            statuses = {b.status for b in call.b_legs}
            if 486 in statuses or 600 in statuses or 603 in statuses:
                self._reject(call, 486, "busy")
            else:
                self._reject(call, 480, "no_answer")

    def _ring_timeout(self, call: BridgedCall) -> None:
        if call.state in (CallState.ROUTING, CallState.RINGING):
            for b in call.b_legs:
                b.end()
            self._reject(call, 480, "no_answer")

    def _reject(self, call: BridgedCall, status: int, disposition: str) -> None:
        call.disposition = disposition
        call.a.end(status)
        self._finish(call)

    def _finish(self, call: BridgedCall) -> None:
        if call.state is CallState.ENDED:
            return
        call.state = CallState.ENDED
        call.end = self.clock()
        if call.timer:
            call.timer.cancel()
        self.calls.pop(call.id, None)
        # Let the remaining legs' streams close first, so their RTP counters are in.
        self._unrecorded.append(call)
        self.core.call_later(0.5, lambda: self._record(call))

    def _record(self, call: BridgedCall) -> None:
        if call not in self._unrecorded:
            return
        self._unrecorded.remove(call)
        talked = (call.end or 0) - call.answer if call.answer else 0.0
        legs = {"a": call.a.rtp, **({"b": call.winner.rtp} if call.winner else {})}
        record = CallRecord(
            id=call.id, caller=call.caller, callee=call.callee, direction="internal",
            trunk=None, start=call.start, answer=call.answer, end=call.end or call.start,
            duration=round(talked, 3), disposition=call.disposition or "failed",
            details={"legs": legs, "contacts": [b.target for b in call.b_legs]})
        try:
            self.journal.add(record)
        except Exception:
            log.exception("call %s: could not write the call record", call.id)
        self.bus.publish("call_ended", id=call.id, caller=call.caller, callee=call.callee,
                         disposition=record.disposition, duration=record.duration)
        # Break call<->leg cycles so legs die by refcount here, on the core thread,
        # never in a garbage-collector pass on some other thread.
        for leg in call.legs():
            leg.call = None
        call.b_legs.clear()
        call.winner = None

    def _bury(self, leg: Leg) -> None:
        """Drop the Python object later: deleting a Call inside its own callback crashes."""
        self._dead_legs.append(leg)
        self.core.call_later(2.0, lambda: self._dead_legs.remove(leg) if leg in self._dead_legs else None)
