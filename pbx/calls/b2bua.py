"""Extension-to-extension calls through the core as a B2BUA (runs on the core thread).

An INVITE relayed by the SIP edge becomes the A leg; every registered contact of the
callee gets a B leg; the first B leg to answer wins, the others are cancelled, and the
two legs' audio is bridged in the conference bridge. Either side ending ends both.
"""
from __future__ import annotations

import enum
import logging
import re
import secrets
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import pjsua2 as pj

from pbx.calls import transfer as xfer
from pbx.calls.dtmf_relay import DEFAULT_MS, DtmfEvent, DtmfRelay, KeyPress
from pbx.calls.legs import CoreAccount, Leg
from pbx.core import Core, Timer
from pbx.errors import PbxError
from pbx.events import EventBus
from pbx.store.journal import CallRecord

log = logging.getLogger(__name__)

CALLER_HEADER = "X-Pbx-Caller"
# On a ring group's B leg to an outside number (see OutsideMember): a one-time nonce the
# core keeps, so only the core can make itself dial a line (the edge strips X-Pbx-* from
# phones, and relays what the core sends to itself straight back to it).
OUTSIDE_HEADER = "X-Pbx-Outside"
OUTSIDE_NONCE_TTL = 60.0  # s: a B leg that has not come back by then never will
FEATURE_WAIT = 1.5  # s: a * or # pressed in a call waits this long for the 1 of *1 or the # of ##
DIAL_WAIT = 3.0  # s: after ##, the number to transfer to is complete at # or after this pause


class CallState(enum.Enum):
    ROUTING = "routing"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class Directory(Protocol):
    def get(self, number: str) -> Any: ...
    def list(self) -> list[Any]: ...


class Location(Protocol):
    def contacts(self, ext: str) -> list[Any]: ...


class Journal(Protocol):
    def add(self, record: CallRecord) -> None: ...


@dataclass
class BridgedCall:
    """One call as the owner sees it. It holds only live legs: a leg leaves it in its
    DISCONNECTED callback, leaving its figures behind (see B2bua._release)."""

    caller: str
    callee: str
    a: Leg | None
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
    contacts: list[str] = field(default_factory=list)
    b_statuses: list[int] = field(default_factory=list)
    rtp: dict[str, dict[str, int]] = field(default_factory=dict)
    origin: Any = None  # the phone line of an inbound or outbound call (pbx.calls.trunk)
    direction: str = "internal"
    caller_name: str = ""
    identity: Any = None  # who the caller of a line call is (pbx.contacts.callers.Caller)
    flow: Any = None  # where the dial plan has the call (pbx.dialplan.flow.Flow)
    path: list[dict] = field(default_factory=list)  # the plan steps, kept in the call record
    attempt: int = 0  # which ring step the B legs belong to (older ones are being cancelled)
    attempt_over: int = 0  # the last ring step the flow has heard the end of (once each)
    # recording (pbx/calls/recording.py): its recorders while up, the policy, what went wrong
    taping: Any = None
    recording_policy: Any = None
    recording_notes: list[str] = field(default_factory=list)
    recording_details: dict = field(default_factory=dict)  # what the call record says of it
    held_key: Any = None  # a phone's * or # waiting for the key of *1 (record) or ## (transfer)
    dialing: Any = None  # after ##: (the leg, the digits so far, the timer) of a blind transfer
    transfer: Any = None  # a blind transfer ringing its number (pbx.calls.transfer.Transfer)
    announcing: Any = None  # "this call may be recorded" playing to the caller before the bridge
    announced: bool = False  # once per call (a transfer bridges it again)
    music: Any = None  # the hold prompt's listener while a transfer rings or a phone holds the call
    held_by: Any = None  # the leg that put the call on hold

    def legs(self) -> list[Leg]:
        return [leg for leg in (self.a, *self.b_legs) if leg is not None]


@dataclass(frozen=True)
class OutsideMember:
    """A ring group's member that is an outside number (a mobile), rung like a phone: its
    B leg is an INVITE from the core to itself (through the edge), which comes back as
    an outbound call on a free line. Ring times, first answer wins and cancelling work
    as for any B leg; the line's call is journalled as an outbound call of its own."""

    ext: str  # the number, as the owner wrote it and the line dials it
    uri: str


def header_value(raw: str, name: str) -> str | None:
    """First value of a header in a raw SIP message (the edge wrote it, so it is tidy).
    Only the header section: a body may hold lines that look like headers."""
    head = raw.split("\r\n\r\n", 1)[0]
    match = re.search(rf"^{re.escape(name)}\s*:\s*(.*?)\s*$", head, re.IGNORECASE | re.MULTILINE)
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
        # Every live pjsua2 call object, released in its own DISCONNECTED callback.
        # pjsua2 keeps a dead Call's id, and pjsua reuses ids: a Call object destroyed
        # later would detach and hang up whichever new call got its id.
        self._legs: set[Leg] = set()
        self._unrecorded: list[BridgedCall] = []
        self.trunks: Any = None  # pbx.calls.trunk.TrunkCalls, set by the composition root
        self.plan: Any = None  # pbx.dialplan.engine.DialPlan, set by the composition root
        self.callers: Any = None  # pbx.contacts.callers.CallerDirectory, set by the composition root
        self.recorders: Any = None  # pbx.calls.recording.CallRecorders, set by the composition root
        self.outbound_prefix = "9"
        self.dtmf = DtmfRelay(core.call_later, self._relay_key)
        self.stats = {"calls_total": 0, "answered_total": 0, "rejected_sources": 0}
        self.core_host = ""  # the core's own SIP address, set by start()
        self._outside: dict[str, tuple[str, str, float]] = {}  # nonce -> number, group call, until

    # ---- setup / teardown (core thread) -------------------------------------------
    def start(self, engine: Any) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:pbx@{engine.sip_host}:{engine.sip_port}"
        self.core_host = f"{engine.sip_host}:{engine.sip_port}"
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

    def _release(self, leg: Leg) -> None:
        """Drop every reference to a leg whose call is over (called in its DISCONNECTED
        callback, where pjsua2 allows the object to go)."""
        self._legs.discard(leg)
        call: BridgedCall | None = leg.call
        leg.call = None
        if call is None:
            return
        if leg is call.a:
            call.a = None
            call.rtp["a"] = leg.rtp
        if leg is call.winner:
            call.winner = None
            call.rtp["b"] = leg.rtp
        if leg in call.b_legs:
            call.b_legs.remove(leg)
            if leg.attempt == call.attempt:  # a cancelled step's legs say nothing of this one
                call.b_statuses.append(leg.status)

    def destroy(self) -> None:
        """Before libDestroy: no Call or Account may outlive the library."""
        self.hangup_all()
        for call in list(self._unrecorded):
            self._record(call)
        self.calls.clear()
        self._legs.clear()  # still before libDestroy: each Call hangs up and detaches
        self.core.clear_timers()
        if self.account is not None:
            self.account.shutdown()
            self.account = None

    # ---- snapshots for other threads (call through core.call) ---------------------
    def active_calls(self) -> list[dict]:
        return [{"id": c.id, "caller": c.caller, "callee": c.callee, "state": c.state.value,
                 "since": c.start} for c in self.calls.values()]

    def status(self) -> dict:
        ep = pj.Endpoint.instance()
        return {"active_calls": len(self.calls), "conference_ports": ep.mediaActivePorts(),
                "live_legs": len(self._legs), **self.stats}

    def busy(self, ext: str) -> bool:
        return any(ext in (c.caller, c.callee) for c in self.calls.values())

    # ---- pjsua2 callbacks -----------------------------------------------------------
    def on_incoming(self, leg: Leg, raw: str, src: str) -> None:
        self._legs.add(leg)
        host = src.rsplit(":", 1)[0]
        caller = header_value(raw, CALLER_HEADER)
        if host != self.edge_addr[0] or not caller:
            # Only the edge, which authenticated the caller, may hand calls to the core.
            self.stats["rejected_sources"] += 1
            leg.end(403)
            return
        call = BridgedCall(caller=caller, callee=request_user(raw), a=leg, start=self.clock())
        member = self._outside.pop(header_value(raw, OUTSIDE_HEADER) or "", None)
        if member is not None and member[2] >= self.clock():
            call.callee = member[0]
            return self._dial_member(call, leg, member[1])
        caller_ext = self.directory.get(caller)
        call.caller_name = getattr(caller_ext, "name", "") or ""
        leg.call = call
        self.calls[call.id] = call
        self.stats["calls_total"] += 1
        self.bus.publish("call_started", id=call.id, caller=call.caller, callee=call.callee)
        self._route(call)

    def outside_member(self, number: str) -> OutsideMember:
        return OutsideMember(number, f"sip:{number}@{self.core_host}")

    def _dial_member(self, call: BridgedCall, leg: Leg, group_call: str) -> None:
        """The B leg of a ring group's outside member, back at the core: dial it on a line."""
        leg.call, leg.loop = call, True
        call.direction = "outbound"
        call.path.append({"step": "member_of", "call": group_call, "at": 0.0})
        self.calls[call.id] = call
        self.bus.publish("call_started", id=call.id, caller=call.caller, callee=call.callee)
        # An outbound route that matches the number picks the lines; else any free line.
        if self.plan is not None and self.plan.outbound(call, call.callee, check_permission=False):
            return
        if self.trunks is None or not self.trunks.outbound(call, call.callee):
            self._reject(call, 503, "failed")

    def _route(self, call: BridgedCall) -> None:
        if self.plan is not None and self.directory.get(call.callee) is None:
            # not an extension: a ring group's or IVR's number, a feature code, an outside number
            if self.plan.internal(call) or self.plan.outbound(call, call.callee):
                return
            return self._reject(call, 404, "unknown_number")
        prefix = self.outbound_prefix
        if self.plan is None and self.trunks is not None and call.callee.startswith(prefix) \
                and len(call.callee) > len(prefix) + 2:
            if not self.trunks.outbound(call, call.callee[len(prefix):]):
                self._reject(call, 503, "failed")  # no free line
            return
        if self.directory.get(call.callee) is None:
            return self._reject(call, 404, "unknown_number")
        if self.busy_elsewhere(call):
            return self._reject(call, 486, "busy")
        contacts = self.location.contacts(call.callee)
        if not contacts:
            return self._reject(call, 480, "unavailable")
        caller_ext = self.directory.get(call.caller)
        self.ring(call, contacts, getattr(caller_ext, "name", "") or call.caller)

    def ring(self, call: BridgedCall, contacts: list[Any], display: str) -> None:
        """B legs to every contact; 480 if none could be reached; the ring timeout."""
        self._make_b_legs(call, contacts, display)
        if not call.b_legs:
            return self._reject(call, 480, "unavailable")
        call.timer = self.core.call_later(self.ring_timeout, lambda: self._ring_timeout(call))

    def _make_b_legs(self, call: BridgedCall, contacts: list[Any], display: str,
                     caller: str | None = None) -> list[Leg]:
        name = display.replace('"', "").replace("\\", "")  # nothing that would end the quoted name
        edge_host, edge_port = self.edge_addr
        made = []
        for binding in contacts:
            leg = Leg(self, self.account, role="b", target=binding.uri)
            leg.ext = binding.ext
            op = pj.CallOpParam(True)
            op.txOption.localUri = f'"{name}" <sip:{caller or call.caller}@{edge_host}:{edge_port}>'
            if isinstance(binding, OutsideMember):
                leg.loop = True
                now = self.clock()
                self._outside = {k: v for k, v in self._outside.items() if v[2] >= now}
                nonce = secrets.token_hex(16)
                self._outside[nonce] = (binding.ext, call.id, now + OUTSIDE_NONCE_TTL)
                for header, value in ((CALLER_HEADER, call.caller), (OUTSIDE_HEADER, nonce)):
                    h = pj.SipHeader()
                    h.hName, h.hValue = header, value
                    op.txOption.headers.append(h)
            try:
                leg.makeCall(binding.uri, op)
            except pj.Error as exc:
                log.warning("call %s: cannot reach %s: %s", call.id, binding.uri, exc.reason)
                continue  # no pjsua call was made: the object may simply go
            leg.call = call
            self._legs.add(leg)
            call.b_legs.append(leg)
            call.contacts.append(binding.uri)
            made.append(leg)
        return made

    # ---- what the dial plan's flows ask for (pbx/dialplan/flow.py) -------------------------
    def ring_flow(self, call: BridgedCall, contacts: list[Any], display: str, timeout: float) -> bool:
        """One ring step of a flow: B legs to these contacts for `timeout` seconds; the flow
        hears rang_out() when none answered. False if no contact could be reached."""
        call.attempt += 1
        call.b_statuses.clear()
        attempt = call.attempt
        for leg in self._make_b_legs(call, contacts, display):
            leg.attempt = attempt
        if not any(leg.attempt == attempt for leg in call.b_legs):
            return False
        if call.timer:
            call.timer.cancel()
        call.timer = self.core.call_later(timeout, lambda: self._step_timeout(call, attempt))
        return True

    def _step_timeout(self, call: BridgedCall, attempt: int) -> None:
        if call.state is CallState.ENDED or call.winner is not None or attempt != call.attempt:
            return
        call.timer = None
        call.attempt_over = attempt  # a leg's DISCONNECTED inside end() must not say it again
        self._end_b_legs(call)
        if call.flow is not None and call.state is not CallState.ENDED:
            call.flow.rang_out(set(call.b_statuses) | {408})  # 408: some rang their time out

    def pick_up(self, call: BridgedCall) -> None:
        """The appliance answers the caller itself (IVR, announcement); the flow hears
        media_ready() once the caller's audio is up."""
        if call.origin is not None and call.a is None:
            call.origin.answer(lambda ok: self.core.submit(self._picked_up, call, ok))
        elif call.a is not None:
            call.a.respond(200)  # on_leg_media follows when the caller's ACK brings media

    def _picked_up(self, call: BridgedCall, ok: bool) -> None:
        if call.state is CallState.ENDED:
            return
        if not ok:
            return self._reject(call, 480, "failed")
        if call.origin.port is None:
            call.origin.open_port()
        if call.flow is not None:
            call.flow.media_ready()

    def caller_audio(self, call: BridgedCall) -> Any:
        """Where a prompt for the caller goes: the line's port or the A leg's audio."""
        if call.origin is not None and call.a is None:
            return call.origin.port
        return call.a.audio() if call.a is not None else None

    def plan_hangup(self, call: BridgedCall, disposition: str) -> None:
        self._reject(call, 486 if disposition == "busy" else 480, disposition)

    def refuse(self, call: BridgedCall, status: int, disposition: str) -> None:
        self._reject(call, status, disposition)

    def busy_elsewhere(self, call: BridgedCall) -> bool:
        return any(call.callee in (c.caller, c.callee) for c in self.calls.values() if c is not call)

    def on_leg_state(self, leg: Leg, state: int, status: int) -> None:
        call: BridgedCall | None = leg.call
        log.debug("leg %s %s: state %s status %s (call %s)", leg.role, leg.target, state, status,
                  call.id if call else None)
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            leg.ended, leg.status = True, status
            self._release(leg)
            if call is not None and call.state is not CallState.ENDED:
                self._leg_gone(call, leg)
            return
        if call is None or call.state is CallState.ENDED:
            return
        if state == pj.PJSIP_INV_STATE_EARLY and leg.role == "b" and call.state is CallState.ROUTING:
            call.state = CallState.RINGING
            if call.a is not None and not (call.flow is not None and call.flow.picked_up):
                call.a.respond(180)  # a phone line keeps ringing by itself
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and leg.role == "b":
            self._b_answered(call, leg)

    def on_leg_media(self, leg: Leg) -> None:
        call: BridgedCall | None = leg.call
        if call is None:
            return
        if call.bridged:
            if leg in (call.a, call.winner) and not leg.ended:
                self._media_changed(call, leg)
            return
        if leg is call.a and call.winner is None and call.flow is not None and call.flow.after_pickup:
            return call.flow.media_ready()  # the appliance answered: a prompt is waiting
        self._bridge(call)

    def _bridge(self, call: BridgedCall) -> None:
        if call.bridged or call.announcing is not None or call.state is CallState.ENDED:
            return
        sides = self.sides(call)
        if sides is None:
            return  # the other side's media comes up in its own callback
        a_audio, b_audio = sides
        outside = b_audio if call.a is not None and call.origin is not None else a_audio  # who the notice is for
        if self.recorders is not None and self.recorders.announce(call, outside, lambda: self._announced(call)):
            return
        a_audio.startTransmit(b_audio)
        b_audio.startTransmit(a_audio)
        call.bridged = True
        if self.recorders is not None:
            self.recorders.bridged(call)

    def _announced(self, call: BridgedCall) -> None:
        call.announcing = None
        self._bridge(call)

    def sides(self, call: BridgedCall) -> tuple[Any, Any] | None:
        """The caller's and the callee's audio (a phone leg's or the line's port), once both are up."""
        line_port = getattr(call.origin, "port", None)
        a_audio = call.a.audio() if call.a is not None else line_port
        if call.winner is not None:
            b_audio = call.winner.audio()
        elif call.a is not None and call.origin is not None:
            b_audio = line_port  # an outbound call: the line is the far side
        else:
            return None
        if a_audio is None or b_audio is None:
            return None
        return a_audio, b_audio

    def on_leg_dtmf(self, leg: Leg, event: DtmfEvent) -> None:
        self.dtmf.event(leg, event)

    def _relay_key(self, leg: Leg, key: KeyPress) -> None:
        """A phone pressed a key: on a line call it goes out to the line, else to the other
        phone, with the duration it was held (an IVR or voicemail may be there)."""
        call: BridgedCall | None = leg.call
        if call is not None and leg is call.a and call.flow is not None and call.flow.keys_to is not None:
            return call.flow.key(key.digit)  # a menu listens
        if call is None or call.state is not CallState.ANSWERED or (leg is not call.a and leg is not call.winner):
            return
        if not leg.loop and self._feature_key(call, leg, key):  # a loop leg's keys are a caller's outside
            return
        self._pass_key(call, leg, key)

    def _feature_key(self, call: BridgedCall, leg: Leg, key: KeyPress) -> bool:
        """*1 starts or stops an on-demand recording, ## then a number and # transfers the
        call blind; True when the key was the PBX's (else it goes on to the far end)."""
        if call.dialing is not None and call.dialing[0] is leg:
            return self._transfer_digit(call, key)
        held, call.held_key = call.held_key, None
        if held is not None:
            held_leg, first, timer = held
            timer.cancel()
            if held_leg is leg and (first.digit, key.digit) == ("*", "1"):
                self.recorders.toggle(call, self._own_ext(call, leg))
                return True
            if held_leg is leg and (first.digit, key.digit) == ("#", "#") and call.bridged and call.dialing is None:
                call.dialing = (leg, "", self.core.call_later(DIAL_WAIT, lambda: self._dialed(call)))
                return True
            self._pass_key(call, held_leg, first)  # no feature code after all: the key goes on
        star = key.digit == "*" and self.recorders is not None and self.recorders.on_demand(call)
        if star or key.digit == "#":
            timer = self.core.call_later(FEATURE_WAIT, lambda: self._release_key(call))
            call.held_key = (leg, key, timer)
            return True
        return False

    def _release_key(self, call: BridgedCall) -> None:
        held, call.held_key = call.held_key, None
        if held is not None and call.state is CallState.ANSWERED and held[0].call is call:
            self._pass_key(call, held[0], held[1])

    def _transfer_digit(self, call: BridgedCall, key: KeyPress) -> bool:
        leg, digits, timer = call.dialing
        timer.cancel()
        if key.digit == "#":
            self._dialed(call)
        else:
            digits += key.digit if key.digit.isdigit() and len(digits) < 32 else ""
            call.dialing = (leg, digits, self.core.call_later(DIAL_WAIT, lambda: self._dialed(call)))
        return True

    def _dialed(self, call: BridgedCall) -> None:
        """## and a number: the blind transfer a REFER would ask for (no NOTIFY to send)."""
        dialing, call.dialing = call.dialing, None
        if dialing is None or call.state is not CallState.ANSWERED:
            return
        leg, digits, timer = dialing
        timer.cancel()
        if leg.call is not call:
            return
        if not digits or self._hand_on(call, leg, digits, self._own_ext(call, leg), lambda status: None):
            # no transfer after all: the keys were for the far end (an IVR out there wants ##)
            for digit in "##" + digits:
                self._pass_key(call, leg, KeyPress(digit, DEFAULT_MS))

    def _pass_key(self, call: BridgedCall, leg: Leg, key: KeyPress) -> None:
        if call.origin is not None:
            call.origin.send_dtmf(key.digit)
            return
        far = call.winner if leg is call.a else call.a
        if far is not None and not far.ended and not far.send_digit(key.digit, key.duration_ms):
            log.warning("call %s: key %s not passed on (neither RFC 4733 nor INFO)", call.id, key.digit)

    def origin_dtmf(self, call: BridgedCall, digit: str) -> None:
        """The far end on a line pressed a key: to the menu listening, or the phone in the call."""
        if call.flow is not None and call.flow.keys_to is not None:
            self.bus.publish("dtmf", id=call.id, digit=digit, source=call.origin.line_name)
            return call.flow.key(digit)
        if call.state is not CallState.ANSWERED:
            return
        leg = call.winner if call.a is None else call.a
        if leg is not None:
            leg.send_digit(digit)
        self.bus.publish("dtmf", id=call.id, digit=digit, source=call.origin.line_name)

    # ---- blind transfer (pbx/calls/transfer.py) --------------------------------------
    def transfer(self, sip_call_id: str, number: str, referrer: str, cseq: int, notify: bool) -> None:
        """A phone in a call sent REFER (the edge has answered 202; `referrer` is the
        extension registered where it came from): hand the other party on to `number`."""
        leg = xfer.find_leg(self._legs, sip_call_id)
        if leg is None:
            log.info("REFER from %s to %s in no live call", referrer, number)
            return
        call: BridgedCall = leg.call

        def say(status: int) -> None:
            if notify:
                xfer.notify(leg, status, cseq)

        self._hand_on(call, leg, number, referrer, say)

    def _hand_on(self, call: BridgedCall, leg: Leg, number: str, referrer: str, say: Callable[[int], None]) -> int:
        """The blind transfer itself, asked by REFER or by ## from `referrer` on `leg`;
        say(status) tells the phone the outcome (the REFER's NOTIFY). 0, or the refusal."""
        refused = self._transfer_refusal(call, leg, number, referrer)
        if refused:
            log.info("call %s: transfer by %s to %s refused (%s)", call.id if call else None, referrer, number, refused)
            say(refused)
            return refused
        entry = {"step": "transfer", "by": referrer, "to": number, "at": round(self.clock() - call.start, 3)}
        call.path.append(entry)
        stays = self._other_audio(call, leg)
        call.transfer = xfer.Transfer(referrer, number, entry, *self._staying_party(call, leg))
        say(200)
        leg.transferred = True
        gone = leg.audio(held=True)  # a phone often holds the call before it transfers
        for src, dst in ((gone, stays), (stays, gone)):
            if src is not None and dst is not None:
                try:
                    src.stopTransmit(dst)
                except pj.Error:
                    pass
        if self.recorders is not None:
            self.recorders.side_leaving(call, stays)
        self._drop_keys(call, leg)
        call.held_by = None  # a phone holds the call before it transfers: the transfer's prompt follows
        self._drop_side(call, leg)
        setattr(call, call.transfer.field, number)  # that phone is this call's now (busy())
        leaving = weakref.ref(leg)  # the timer must not be the leg's last reference
        self.core.call_later(xfer.BYE_AFTER, lambda: self._end_leg(leaving))
        self.bus.publish("call_transferred", id=call.id, by=referrer, to=number)
        self._hold(call)
        self._ring_transfer(call, number)
        return 0

    @staticmethod
    def _drop_keys(call: BridgedCall, leg: Leg | None = None) -> None:
        """A held * or #, and ## digits (of this leg, or all): nothing of them may fire
        after the leg has gone."""
        if call.held_key is not None and leg in (None, call.held_key[0]):
            call.held_key[2].cancel()
            call.held_key = None
        if call.dialing is not None and leg in (None, call.dialing[0]):
            call.dialing[2].cancel()
            call.dialing = None

    @staticmethod
    def _end_leg(ref: "weakref.ref[Leg]") -> None:
        leg = ref()
        if leg is not None:
            leg.end()

    def _own_ext(self, call: BridgedCall, leg: Leg) -> str:
        return (leg.ext or call.caller) if leg is call.a else leg.ext

    def _transfer_refusal(self, call: BridgedCall | None, leg: Leg, number: str, referrer: str) -> int:
        """The sipfrag status that refuses this transfer, or 0. Only to an extension, for now."""
        if call is None or call.state is not CallState.ANSWERED or leg not in (call.a, call.winner):
            return 481
        if call.transfer is not None or call.announcing is not None or not call.bridged:
            return 491
        if referrer != self._own_ext(call, leg):
            return 403
        if self.directory.get(number) is None:
            return 404
        if number == referrer:
            return 482
        if self.busy(number):
            return 486
        return 0 if self.location.contacts(number) else 480

    def _other_audio(self, call: BridgedCall, leg: Leg) -> Any:
        line_port = getattr(call.origin, "port", None)
        other = call.a if leg is call.winner else call.winner
        return other.audio(held=True) if other is not None else line_port

    def _staying_party(self, call: BridgedCall, leg: Leg) -> tuple[str, str, str]:
        """(the call's field the ringing phone takes, the From user and the name it rings with)."""
        if leg is call.winner:
            who = call.caller
            name = call.caller_name if call.origin is not None else getattr(self.directory.get(who), "name", "")
            return "callee", who, name or who
        if call.origin is not None:  # an extension's call out on a line: the outside number stays
            return "caller", call.callee, call.callee
        stays = call.winner
        assert stays is not None  # bridged
        name = getattr(self.directory.get(stays.ext), "name", "") or stays.ext
        call.caller, call.caller_name = stays.ext, name  # the callee stays: the caller now
        return "callee", stays.ext, name

    @staticmethod
    def _drop_side(call: BridgedCall, leg: Leg) -> None:
        """The transferring leg leaves the bridge; the party who stays is the call's A side
        (the line's port when call.a is None), and the number's phone will be the B side."""
        call.bridged = False
        if leg is call.winner:
            call.winner = None
        elif call.origin is None:  # the caller of an extension call transfers: the callee stays
            stays = call.winner
            assert stays is not None  # bridged
            call.b_legs.remove(stays)
            stays.role = "a"
            call.a, call.winner = stays, None
        else:
            call.a = None  # an extension's call out on a line: the line stays

    def _ring_transfer(self, call: BridgedCall, number: str) -> None:
        t: xfer.Transfer = call.transfer
        call.attempt += 1
        call.b_statuses.clear()
        attempt = call.attempt
        contacts = self.location.contacts(number)
        for leg in self._make_b_legs(call, contacts, t.display, caller=t.from_user):
            leg.attempt = attempt
        if not any(b.attempt == attempt for b in call.b_legs):
            return self._transfer_failed(call)
        if call.timer:
            call.timer.cancel()
        call.timer = self.core.call_later(self.ring_timeout, lambda: self._transfer_timeout(call, attempt))

    def _transfer_timeout(self, call: BridgedCall, attempt: int) -> None:
        if call.transfer is None or call.state is CallState.ENDED or attempt != call.attempt:
            return
        call.timer = None
        call.attempt_over = attempt  # a leg's DISCONNECTED inside end() must not say it again
        self._end_b_legs(call)
        self._transfer_failed(call)

    def _transfer_failed(self, call: BridgedCall) -> None:
        """Nobody took the transferred call: ring back the phone that transferred, once."""
        t: xfer.Transfer = call.transfer
        t.entry["result"] = "busy" if set(call.b_statuses) & {486, 600, 603} else "no answer"
        if not t.recall:
            t.recall = True
            t.entry = {"step": "recall", "to": t.by, "at": round(self.clock() - call.start, 3)}
            call.path.append(t.entry)
            setattr(call, t.field, t.by)
            return self._ring_transfer(call, t.by)
        self._music_off(call)
        call.disposition = "answered"
        if call.a is not None:
            call.a.end()
        self._finish(call)

    def _transfer_answered(self, call: BridgedCall, leg: Leg) -> None:
        t: xfer.Transfer = call.transfer
        call.transfer = None
        call.winner, leg.answered = leg, True
        if call.timer:
            call.timer.cancel()
            call.timer = None
        self._end_b_legs(call, keep=leg)
        t.entry["result"] = "answered"
        setattr(call, t.field, leg.ext)
        self._music_off(call)
        self.bus.publish("call_answered", id=call.id, caller=call.caller, callee=call.callee, by=leg.ext)
        self.on_leg_media(leg)

    def _music_on(self, call: BridgedCall, sink_of: Callable[[], Any], still: Callable[[], bool]) -> None:
        """The hold prompt to sink_of() (looked up on every round: a re-INVITE may move a
        stream to a new conference slot), over and over while still() says so (a transfer
        ringing its number, a phone holding the call)."""
        from pbx.dialplan.flow import HOLD

        self._music_off(call)  # one listener per call: a transfer of a held call takes it over
        path = self.plan.prompt_path(HOLD) if self.plan is not None else None
        sink = sink_of() if call.state is not CallState.ENDED and still() else None
        if path is None or sink is None:
            return
        try:
            call.music = self.plan.players.play(str(path), sink, lambda: self._music_on(call, sink_of, still))
        except PbxError as exc:
            log.warning("call %s: no hold prompt: %s", call.id, exc)

    @staticmethod
    def _music_off(call: BridgedCall) -> None:
        if call.music is not None:
            call.music.stop()
            call.music = None

    def _hold(self, call: BridgedCall) -> None:
        """The party who stays hears the hold prompt while the transfer's number rings."""
        self._music_on(call, lambda: self.caller_audio(call), lambda: call.transfer is not None)

    def _media_changed(self, call: BridgedCall, leg: Leg) -> None:
        """A bridged leg's media changed (a re-INVITE): a phone holding the call (a=sendonly
        or inactive) has the other party hear the hold prompt instead of it; taking it back,
        or any other re-INVITE, connects the bridge and the recording again (pjsua may have
        given the stream a new conference slot)."""
        held = leg.held()
        at = round(self.clock() - call.start, 3)
        if held and call.held_by is None:
            call.held_by = leg
            call.path.append({"step": "hold", "by": self._own_ext(call, leg), "at": at})
            other, mine = self._other_audio(call, leg), leg.audio(held=True)
            if mine is not None and other is not None:
                try:
                    mine.stopTransmit(other)  # what the holding phone sends (its own music) stays there
                except pj.Error:
                    pass
            return self._music_on(call, lambda: self._other_audio(call, leg), lambda: call.held_by is leg)
        holder = call.held_by
        if held or (holder is not None and holder is not leg):
            if holder is not None and holder is not leg:  # the held party's stream may have moved
                self._music_on(call, lambda: self._other_audio(call, holder), lambda: call.held_by is holder)
            return  # the other phone still holds the call
        if call.held_by is leg:
            call.held_by = None
            self._music_off(call)
            call.path.append({"step": "resume", "by": self._own_ext(call, leg), "at": at})
        sides = self.sides(call)
        if sides is not None:
            sides[0].startTransmit(sides[1])
            sides[1].startTransmit(sides[0])
            if self.recorders is not None:
                self.recorders.resync(call)

    # ---- state machine --------------------------------------------------------------
    def _b_answered(self, call: BridgedCall, leg: Leg) -> None:
        if leg.ended:  # its 200 crossed our CANCEL (a ring step that is over): pjsua BYEs it
            return
        if call.winner is not None:
            leg.end()  # two phones answered at once: the later one loses
            return
        if call.transfer is not None:
            return self._transfer_answered(call, leg)
        call.winner = leg
        leg.answered = True
        if call.callee == "*" or call.flow is not None:  # a line call or a group: who took it
            call.callee = leg.ext
        call.state = CallState.ANSWERED
        if call.timer:
            call.timer.cancel()
        self._end_b_legs(call, keep=leg)
        picked_up = call.flow is not None and call.flow.picked_up
        if call.flow is not None:
            call.flow.answered(leg.ext)  # its prompt stops before the bridge
        if call.origin is not None and call.a is None and picked_up:
            return self._origin_answered(call, True)  # the modem has answered already
        if call.origin is not None:
            # Answering the line talks to a serial port: off the core thread. The call
            # counts as answered once the modem has answered too.
            call.origin.answer(lambda ok: self.core.submit(self._origin_answered, call, ok))
            return
        call.answer = self.clock()
        self.stats["answered_total"] += 1
        if call.a is None:
            return self._leg_gone(call, leg)  # the caller gave up at that very moment
        if not picked_up:
            call.a.respond(200)
        self.bus.publish("call_answered", id=call.id, caller=call.caller, callee=call.callee, by=call.callee)
        self.on_leg_media(leg)

    def _origin_answered(self, call: BridgedCall, ok: bool) -> None:
        if call.state is CallState.ENDED:
            return
        if not ok:
            call.disposition = "failed"
            self._end_b_legs(call)
            return self._finish(call)
        call.answer = self.clock()
        self.stats["answered_total"] += 1
        if call.origin.port is None:
            call.origin.open_port()
        self.bus.publish("call_answered", id=call.id, caller=call.caller, callee=call.callee, by=call.callee)
        if call.winner is not None:
            self.on_leg_media(call.winner)

    def origin_ended(self, call: BridgedCall) -> None:
        """The phone line hung up (or went down)."""
        if call.state is CallState.ENDED:
            return
        call.origin.ended = True
        call.disposition = call.disposition or ("answered" if call.answer else "cancelled")
        self._end_b_legs(call)
        if call.a is not None:  # an outbound call: tell the extension why
            busy = call.origin.end_reason == "busy"
            if not call.answer:
                failed = call.origin.end_reason.startswith(("failed", "no dial", "line down"))
                call.disposition = "busy" if busy else "failed" if failed else "no_answer"
            call.a.end(0 if call.answer else (486 if busy else 480))
        self._finish(call)

    def origin_connected(self, call: BridgedCall) -> None:
        """The number dialled on a line answered: answer the extension and bridge."""
        if call.state is CallState.ENDED or call.a is None:
            return
        call.state, call.answer = CallState.ANSWERED, self.clock()
        call.origin.open_port()
        call.a.respond(200)
        self.bus.publish("call_answered", id=call.id, caller=call.caller, callee=call.callee, by=call.callee)
        self.on_leg_media(call.a)

    def _leg_gone(self, call: BridgedCall, leg: Leg) -> None:
        """A leg has ended (and was released): what it means for the call."""
        if leg.transferred:  # it handed the call on
            return
        if leg.role == "a":
            call.disposition = call.disposition or ("answered" if call.answer else "cancelled")
            self._end_b_legs(call)
            return self._finish(call)
        if leg.answered:  # the phone that took the call hung up
            call.disposition = "answered"
            if call.a is not None:
                call.a.end()
            return self._finish(call)
        if call.transfer is not None:  # the transfer's number rang out, or refused
            if leg.attempt == call.attempt != call.attempt_over and \
                    not any(b.attempt == call.attempt for b in call.b_legs):
                call.attempt_over = call.attempt
                self._transfer_failed(call)
            return
        if call.flow is not None:  # the flow decides what a ring step's end means
            if call.answer is None and leg.attempt == call.attempt != call.attempt_over and \
                    not any(b.attempt == call.attempt for b in call.b_legs):
                call.attempt_over = call.attempt
                if call.timer:
                    call.timer.cancel()
                    call.timer = None
                call.flow.rang_out(set(call.b_statuses))
            return
        if call.answer is None and not call.b_legs:  # every phone refused or went away
            statuses = set(call.b_statuses)
            if statuses & {486, 600, 603}:
                self._reject(call, 486, "busy")
            else:
                self._reject(call, 480, "no_answer")

    @staticmethod
    def _end_b_legs(call: BridgedCall, keep: Leg | None = None) -> None:
        """End every B leg but `keep`, over a copy: a leg whose phone has not answered
        anything yet ends at once, and leaves call.b_legs inside end() (its DISCONNECTED
        callback), which would make a loop over the list itself skip the next leg."""
        for leg in list(call.b_legs):
            if leg is not keep:
                leg.end()

    def _ring_timeout(self, call: BridgedCall) -> None:
        if call.state in (CallState.ROUTING, CallState.RINGING):
            self._end_b_legs(call)
            self._reject(call, 480, "no_answer")

    def _reject(self, call: BridgedCall, status: int, disposition: str) -> None:
        call.disposition = disposition
        if call.a is not None:
            call.a.end(status)
        self._finish(call)

    def _finish(self, call: BridgedCall) -> None:
        if call.state is CallState.ENDED:
            return
        if self.recorders is not None:  # before the line's port goes: it is one of the sides
            call.recording_details = self.recorders.finish(call)
        self._drop_keys(call)
        self._music_off(call)
        call.held_by = None
        if call.announcing is not None:  # before its sink, the line's port or the leg, goes
            call.announcing.stop()
            call.announcing = None
        if call.origin is not None:
            call.origin.hangup()  # no-op when the line already ended the call
            port = call.origin.close_port()
            if port is not None:  # freed by this timer on the core, never on the audio thread
                held: list[Any] = [port]
                self.core.call_later(0.5, held.clear)
        call.state = CallState.ENDED
        call.end = self.clock()
        if call.flow is not None:
            call.flow.stop()
        if call.timer:
            call.timer.cancel()
            call.timer = None
        self.calls.pop(call.id, None)
        # Let the remaining legs' streams close first, so their RTP counters are in.
        self._unrecorded.append(call)
        self.core.call_later(0.5, lambda: self._record(call))

    @staticmethod
    def _caller_details(call: BridgedCall) -> dict[str, Any]:
        """Who called and who answered, for the caller's history."""
        details: dict[str, Any] = {}
        if call.answer and call.direction == "inbound" and call.callee != "*":
            details["answered_by"] = call.callee
        who = call.identity
        if who is not None:
            details["contact"] = who.info.public() if who.info is not None else None
            details["repeat"] = who.repeat
        return details

    def _record(self, call: BridgedCall) -> None:
        if call not in self._unrecorded:
            return
        self._unrecorded.remove(call)
        talked = (call.end or 0) - call.answer if call.answer else 0.0
        for key, leg in (("a", call.a), ("b", call.winner)):  # legs not yet disconnected
            if leg is not None and key not in call.rtp:
                call.rtp[key] = leg.rtp
        record = CallRecord(
            id=call.id, caller=call.caller, callee=call.callee,
            direction=call.direction,
            trunk=call.origin.line_name if call.origin is not None else None,
            start=call.start, answer=call.answer, end=call.end or call.start,
            duration=round(talked, 3), disposition=call.disposition or "failed",
            details={"legs": call.rtp, "contacts": call.contacts, "path": call.path, **self._caller_details(call),
                     **call.recording_details})
        try:
            self.journal.add(record)
        except Exception:
            log.exception("call %s: could not write the call record", call.id)
        self.bus.publish("call_ended", id=call.id, caller=call.caller, callee=call.callee,
                         disposition=record.disposition, duration=record.duration)
        # Legs still up are held by self._legs until their own DISCONNECTED callback;
        # unlink them from the call so nothing else keeps them.
        for leg in call.legs():
            leg.call = None
        call.a, call.winner = None, None
        call.b_legs.clear()
        call.flow = None
