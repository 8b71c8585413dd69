"""Phone lines as trunks: an inbound call on a modem rings the extensions through the
B2BUA, and the modem's PCM is bridged to the answering phone by an AudioMediaPort.

Modem events arrive on the line's threads and are handed to the core with submit();
serial operations (answer, hang up) run on a worker thread, never on the core.
"""
from __future__ import annotations

import collections
import logging
import re
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

import pjsua2 as pj

from hardware.modem.audioport import FRAME_BYTES
from hardware.modem.events import (
    CallConnected,
    CallEnded,
    CallerId,
    Dtmf,
    ModemDown,
    ModemEvent,
    ModemUp,
    NetworkRegistration,
    Ring,
    SignalQuality,
    SmsReceived,
    UssdResponse,
)
from hardware.modem.line import ModemLine
from pbx.calls.b2bua import B2bua, BridgedCall
from pbx.contacts.callers import BLOCKED_PROMPT
from pbx.core import Core
from pbx.errors import LineUnavailable, NotFound, ValidationError
from pbx.media.directors import DeleteWhileAlive
from pbx.numbers import normalise
from pbx.store.journal import SmsRecord
from pbx.store.trunks import Trunk

log = logging.getLogger(__name__)
SILENCE = bytes(FRAME_BYTES)


def pcm_format() -> "pj.MediaFormatAudio":
    """The bridge ports' format: 8 kHz mono 16-bit, 20 ms frames (the modems' PCM)."""
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.init(pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16)
    return fmt


def _discard(frame: bytes) -> None:
    return None


class ModemAudioPort(DeleteWhileAlive, pj.AudioMediaPort):
    """Conference-bridge port for a modem's 8 kHz 16-bit PCM (called on pjmedia's clock)."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        super().__init__()
        self.write = write
        self.incoming: collections.deque[bytes] = collections.deque(maxlen=10)  # 200 ms at most

    def open(self, name: str) -> None:
        self.createPort(name, pcm_format())

    def onFrameRequested(self, frame: "pj.MediaFrame") -> None:
        data = self.incoming.popleft() if self.incoming else SILENCE
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = FRAME_BYTES

    def onFrameReceived(self, frame: "pj.MediaFrame") -> None:
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size == FRAME_BYTES:
            self.write(bytes(frame.buf))


class TrunkOrigin:
    """The line side of a bridged call (what the A leg is for a SIP caller)."""

    def __init__(self, line: ModemLine) -> None:
        self.line = line
        self.line_name = line.name
        self.port: ModemAudioPort | None = None
        self.ended = False
        self.end_reason = ""
        self.fallback: tuple[str, list[str]] = ("", [])  # an outbound call: the number, lines left
        self.gave_up = False  # this line's failure was handled (failed over or ended)

    def answer(self, done: Callable[[bool], Any]) -> None:
        def work() -> None:
            try:
                self.line.answer()
                done(True)
            except Exception as exc:
                log.warning("line %s: answer failed: %s", self.line_name, exc)
                done(False)
        threading.Thread(target=work, name=f"answer-{self.line_name}", daemon=True).start()

    def open_port(self) -> None:
        self.port = ModemAudioPort(self.line.write_audio)
        self.port.open(f"line-{self.line_name}")

    def close_port(self) -> ModemAudioPort | None:
        """Core thread: the port leaves the call. The caller keeps the returned port a
        moment before letting it go on the core: the modem's audio thread may hold it in
        push_audio right now, and its last reference must not be dropped there."""
        port, self.port = self.port, None
        if port is not None:
            port.write = _discard
        return port

    def push_audio(self, frame: bytes) -> None:
        port = self.port
        if port is not None:
            port.incoming.append(frame)

    def send_dtmf(self, digits: str) -> None:
        def work() -> None:
            try:
                self.line.send_dtmf(digits)
            except Exception as exc:
                log.warning("line %s: DTMF %s not sent: %s", self.line_name, digits, exc)
        threading.Thread(target=work, name=f"dtmf-{self.line_name}", daemon=True).start()

    def hangup(self) -> None:
        if not self.ended:
            self.ended = True
            threading.Thread(target=self.line.hangup, name=f"hangup-{self.line_name}", daemon=True).start()


class TrunkCalls:
    """Routes modem events (on the core thread) to calls; one call per line at a time."""

    def __init__(self, core: Core, b2bua: B2bua, sms_journal: Any = None) -> None:
        self.core = core
        self.b2bua = b2bua
        self.sms_journal = sms_journal
        self.lines: dict[str, ModemLine] = {}
        self.trunks: dict[str, Trunk] = {}
        self.calls: dict[str, BridgedCall] = {}
        self._ussd_waiters: dict[str, Future] = {}
        self._ussd_lock = threading.Lock()

    # ---- lines come and go with the configuration (core thread) -------------------------
    def add_line(self, line: ModemLine, trunk: Trunk) -> None:
        self.lines[line.name] = line
        self.trunks[line.name] = trunk

    def remove_line(self, name: str) -> ModemLine | None:
        """The trunk was deleted: end its call; the caller stops the returned line."""
        call = self.calls.pop(name, None)
        if call is not None and call.origin is not None:
            call.origin.end_reason = "trunk removed"
            self.b2bua.origin_ended(call)
        self.trunks.pop(name, None)
        self.b2bua.bus.publish("line_removed", line=name)
        return self.lines.pop(name, None)

    def _publish_line_event(self, event: ModemEvent) -> None:
        """Line health for the LEDs, the web page and the CRM's live events."""
        bus = self.b2bua.bus
        if isinstance(event, ModemUp):
            bus.publish("line_state", line=event.line, state="up", model=event.model, degraded=list(event.degraded))
        elif isinstance(event, ModemDown):
            bus.publish("line_state", line=event.line, state="down", reason=event.reason)
        elif isinstance(event, SignalQuality):
            bus.publish("line_signal", line=event.line, rssi=event.rssi, dbm=event.dbm)
        elif isinstance(event, NetworkRegistration):
            bus.publish("line_network", line=event.line, registered=event.registered, operator=event.operator)

    def _ussd_answered(self, event: UssdResponse) -> None:
        waiter = self._ussd_waiters.pop(event.line, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    def ussd(self, trunk: str, code: str, timeout: float = 20.0) -> UssdResponse:
        """Ask the network (balance: *100#) and wait for its answer (web/CLI thread)."""
        if not re.fullmatch(r"[0-9*#]{2,40}", code):
            raise ValidationError("code: digits, * and #, e.g. *100#")
        line, config = self.lines.get(trunk), self.trunks.get(trunk)
        if line is None or config is None or config.type != "gsm":
            raise NotFound(f"no GSM trunk named {trunk}")
        with self._ussd_lock:  # one USSD session at a time: the network keeps one per SIM
            waiter: Future = Future()
            self._ussd_waiters[trunk] = waiter
            try:
                line.ussd(code)
                answer: UssdResponse = waiter.result(timeout)
            except FutureTimeout:
                raise LineUnavailable(f"line {trunk}: no answer to {code} within {timeout:.0f} s") from None
            except Exception as exc:
                raise LineUnavailable(f"line {trunk}: {exc}") from None
            finally:
                self._ussd_waiters.pop(trunk, None)
            if answer.status == 1:  # the network waits for a reply we will not give: close it
                try:
                    line.ussd_cancel()
                except Exception as exc:
                    log.warning("line %s: closing the USSD session: %s", trunk, exc)
            return answer

    def snapshot(self) -> dict[str, dict]:
        """Each line's live state for the API, the dashboard and `pbx trunk list`."""
        out = {}
        for name, line in self.lines.items():
            out[name] = {"state": line.state, "operator": line.operator,
                         "signal_dbm": line.signal.dbm if line.signal else None,
                         "in_call": self._live(name) is not None, "degraded": list(line.degraded)}
            if line.problem:  # down: why (e.g. the modem refused a command the line needs)
                out[name]["problem"] = line.problem
        return out

    def _live(self, line_name: str) -> BridgedCall | None:
        """The line's call, unless it has ended (from the SIP side: the line says nothing)."""
        call = self.calls.get(line_name)
        if call is not None and call.state.value == "ended":
            del self.calls[line_name]
            return None
        return call

    def normalised(self, raw: str) -> str:
        """A number as the lines write it (E.164 by the first line's country and area)."""
        return self._number(next(iter(self.lines), ""), raw)

    def _number(self, line_name: str, raw: str) -> str:
        trunk = self.trunks.get(line_name)
        return normalise(raw, trunk.country if trunk else "RU", trunk.area_code if trunk else "")

    def on_event(self, event: ModemEvent) -> None:
        """From any thread: hop onto the core."""
        self.core.submit(self._handle, event)

    def on_audio(self, line_name: str, frame: bytes) -> None:
        call = self.calls.get(line_name)
        if call is not None and call.origin is not None:
            call.origin.push_audio(frame)

    def _handle(self, event: ModemEvent) -> None:
        line_name = event.line
        current = self._live(line_name)
        if isinstance(event, CallerId) and current is None:
            self._incoming(line_name, self._number(line_name, event.number) if not event.anonymous
                           else "anonymous", event.name)
        elif isinstance(event, Ring) and current is None:
            pass  # the caller ID follows the first RING; a line without CLIP is for later
        elif isinstance(event, CallEnded) and current is not None:
            current.origin.end_reason = event.reason
            if not self._fail_over(current, event.reason):
                self.b2bua.origin_ended(current)
        elif isinstance(event, CallConnected) and current is not None and current.a is not None:
            self.b2bua.origin_connected(current)
        elif isinstance(event, Dtmf) and current is not None:
            self.b2bua.origin_dtmf(current, event.digit)
        elif isinstance(event, SmsReceived):
            self._store_sms(event)
        elif isinstance(event, UssdResponse):
            self._ussd_answered(event)
        else:
            self._publish_line_event(event)
        self._live(line_name)  # forget the call if this event ended it

    def outbound(self, call: BridgedCall, number: str, trunks: list[str] | None = None) -> bool:
        """An extension dials out (core thread): the first of `trunks` (default: every
        line) that is up and free; if the network refuses the call there (an ERROR,
        NO CARRIER or NO DIALTONE, not the far end's BUSY) the next one. False if none is free."""
        names = [n for n in (trunks if trunks is not None else list(self.lines)) if n in self.lines]
        call.direction = "outbound"
        if call.a is not None:
            call.a.respond(180)
        return self._dial_next(call, number, names)

    def free_lines(self) -> list[str]:
        return [name for name in self.lines if self._free(name)]

    def _free(self, name: str) -> bool:
        line = self.lines.get(name)
        return line is not None and line.state == "idle" and self._live(name) is None

    def _dial_next(self, call: BridgedCall, number: str, names: list[str]) -> bool:
        while names and not self._free(names[0]):
            call.path.append({"step": "line_skipped", "line": names[0], "at": 0.0})
            names = names[1:]
        if not names:
            return False
        line = self.lines[names[0]]
        origin = call.origin = TrunkOrigin(line)
        origin.fallback = (number, names[1:])
        call.callee = self._number(line.name, number)
        call.path.append({"step": "line", "line": line.name, "at": round(self.b2bua.clock() - call.start, 3)})
        self.calls[line.name] = call

        def dial() -> None:
            try:
                line.dial(number)
                if origin.ended:  # the extension hung up before ATD came back
                    line.hangup()
            except Exception as exc:
                log.warning("line %s: dialling %s failed: %s", line.name, number, exc)
                result = getattr(exc, "result", "")
                origin.end_reason = "busy" if result == "BUSY" else "failed"
                self.core.submit(self._dial_failed, call, origin, number, names[1:])
        threading.Thread(target=dial, name=f"dial-{line.name}", daemon=True).start()
        return True

    def _fail_over(self, call: BridgedCall, reason: str) -> bool:
        """An outbound call the network ended before anyone answered, for a reason
        another line may not have (no dial tone, the line went down): try the next."""
        origin = call.origin
        if call.a is None or call.answer is not None or not origin.fallback[1] \
                or not (reason.startswith(("no dial", "line down", "failed"))):
            return False
        number, rest = origin.fallback
        origin.ended = True
        self._dial_failed(call, origin, number, rest)
        return True

    def _dial_failed(self, call: BridgedCall, origin: TrunkOrigin, number: str, rest: list[str]) -> None:
        """Core thread: a line could not place the call; fail over unless it was the far
        end saying busy or the extension has hung up. A line that goes down during ATD
        says so twice (its CallEnded and the dial thread's error): only the first counts."""
        if origin.gave_up or call.origin is not origin:
            return
        origin.gave_up = True
        if self.calls.get(origin.line_name) is call:
            del self.calls[origin.line_name]
        if origin.end_reason != "busy" and call.state.value != "ended" and call.a is not None \
                and self._dial_next(call, number, rest):
            return
        call.origin = origin
        self.b2bua.origin_ended(call)

    # ---- messages ------------------------------------------------------------------------
    def _store_sms(self, event: SmsReceived) -> None:
        sender = self._number(event.line, event.sender)
        record = SmsRecord(event.line, "in", sender, event.text, event.parts, time.time(), "received")
        try:
            self.sms_journal.add_sms(record)
        except Exception:
            log.exception("line %s: SMS from %s could not be stored", event.line, sender)
        self.b2bua.bus.publish("sms_received", trunk=event.line, sender=sender, text=event.text)

    def send_sms(self, to: str, text: str, trunk: str = "") -> SmsRecord:
        """Send on the named line, or the first GSM line that is up (web/CLI thread: it
        waits for the modem). The message is journalled, sent or failed."""
        if not text or len(text) > 1530:
            raise ValidationError("text: 1 to 1530 characters (ten parts at most)")
        digits = to.strip()
        if not digits.lstrip("+").isdigit():
            raise ValidationError("to: a phone number, e.g. +79161234567")
        # copies: the core thread adds and removes lines while this thread looks
        trunks, lines = dict(self.trunks), dict(self.lines)
        gsm = [n for n, t in trunks.items() if t.type == "gsm" and n in lines and (not trunk or n == trunk)]
        if trunk and not gsm:
            raise NotFound(f"no GSM trunk named {trunk}")
        name = next((n for n in gsm if lines[n].state != "down"), gsm[0] if gsm else "")
        if not name:
            raise NotFound("no GSM line is configured for SMS")
        record = SmsRecord(name, "out", self._number(name, digits), text, 0, time.time(), "sent")
        try:
            record.parts = lines[name].send_sms(digits, text)
        except Exception as exc:
            record.status = f"failed: {exc}"
        self.sms_journal.add_sms(record)
        if record.status != "sent":
            raise LineUnavailable(f"line {name}: the message was not sent ({record.status[8:]})")
        return record

    def _blocked(self, call: BridgedCall, action: str) -> None:
        """A blocked contact calls: hung up unanswered, or told so first (the owner's choice)."""
        log.info("call %s from blocked caller %s: %s", call.id, call.caller, action)
        call.path.append({"step": "blocked", "action": action, "at": 0.0})
        if action == "announce" and self.b2bua.plan is not None:
            return self.b2bua.plan.blocked(call, BLOCKED_PROMPT)
        self.b2bua.plan_hangup(call, "blocked")  # the line is hung up unanswered (ATH)

    def _incoming(self, line_name: str, number: str, name: str) -> None:
        line = self.lines.get(line_name)
        if line is None:
            return
        call = BridgedCall(caller=number, callee="*", a=None, start=self.b2bua.clock(),
                           direction="inbound")
        call.origin = TrunkOrigin(line)
        self.calls[line_name] = call
        self.b2bua.calls[call.id] = call
        self.b2bua.stats["calls_total"] += 1
        callers = self.b2bua.callers
        who = call.identity = callers.identify(number, name) if callers is not None else None
        self.b2bua.bus.publish("call_started", id=call.id, caller=number, callee="*", trunk=line_name,
                               direction="inbound", **(who.public() if who is not None else {}))
        if who is not None and who.blocked:
            return self._blocked(call, callers.policy.blocked)
        if self.b2bua.plan is not None:
            call.caller_name = who.display if who is not None else name
            self.b2bua.plan.inbound(call, line_name)
            return
        contacts = [b for ext in self.b2bua.directory.list() if not self.b2bua.busy(ext.number)
                    for b in self.b2bua.location.contacts(ext.number)]
        if not contacts:
            call.disposition = "unavailable"
            self.b2bua.origin_ended(call)
            return
        self.b2bua.ring(call, contacts, name or number)
