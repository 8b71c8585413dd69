"""pjsua2 subclasses: every callback is forwarded to the B2BUA on the core thread."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator, Protocol

import pjsua2 as pj

from pbx.calls.dtmf_relay import DEFAULT_MS, DtmfEvent, KeyCollector
from pbx.media.directors import DeleteWhileAlive

log = logging.getLogger(__name__)


class LegOwner(Protocol):
    def on_incoming(self, leg: "Leg", raw: str, src: str) -> None: ...
    def on_leg_state(self, leg: "Leg", state: int, status: int) -> None: ...
    def on_leg_media(self, leg: "Leg") -> None: ...
    def on_leg_dtmf(self, leg: "Leg", event: DtmfEvent) -> None: ...


@contextlib.contextmanager
def guarded(what: str) -> Iterator[None]:
    """No exception may cross back into pjsua2's C++ callback: log it and go on."""
    try:
        yield
    except pj.Error as exc:
        log.error("%s: pjsua2 error %s (%s)", what, exc.reason, exc.title)
    except Exception:
        log.exception("%s failed", what)


class Leg(DeleteWhileAlive, pj.Call):
    """One SIP leg of a bridged call (A: the caller's, B: one per ringing contact)."""

    def __init__(self, owner: LegOwner, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID,
                 role: str = "b", target: str = "") -> None:
        super().__init__(account, call_id)
        self.owner = owner
        self.role = role
        self.target = target
        self.ext = ""  # the extension this B leg rings
        self.attempt = 0  # the ring step of its call that made this B leg
        self.call: Any = None  # the BridgedCall this leg belongs to
        self.ended = False
        self.answered = False
        self.transferred = False  # it handed its call on (REFER): its end is not the call's
        self.loop = False  # one of the core's two legs to itself (a ring group's outside member)
        self._sip_call_id = ""
        self.status = 0
        self.rtp: dict[str, int] = {}
        self.keys = KeyCollector()  # DTMF heard on this leg, one KeyPress per key

    def onCallState(self, prm: "pj.OnCallStateParam") -> None:
        with guarded("call state"):
            ci = self.getInfo()
            self.owner.on_leg_state(self, ci.state, ci.lastStatusCode)

    def onCallMediaState(self, prm: "pj.OnCallMediaStateParam") -> None:
        with guarded("call media"):
            self.owner.on_leg_media(self)

    # onDtmfDigit is left alone: pjsua2 raises it beside onDtmfEvent for the same key.
    def onDtmfEvent(self, prm: "pj.OnDtmfEventParam") -> None:
        with guarded("call dtmf"):
            event = DtmfEvent(prm.digit, prm.method == pj.PJSUA_DTMF_METHOD_RFC2833, prm.flags,
                              prm.timestamp, prm.duration)
            self.owner.on_leg_dtmf(self, event)

    def send_digit(self, digit: str, duration_ms: int = DEFAULT_MS) -> str:
        """RFC 4733 telephone-event when the phone negotiated it (pjmedia refuses otherwise),
        else SIP INFO with Signal and Duration. Returns the method that worked, or ""."""
        for method, name in ((pj.PJSUA_DTMF_METHOD_RFC2833, "rfc4733"), (pj.PJSUA_DTMF_METHOD_SIP_INFO, "info")):
            prm = pj.CallSendDtmfParam()
            prm.method, prm.digits, prm.duration = method, digit, duration_ms
            try:
                self.sendDtmf(prm)
                return name
            except pj.Error as exc:
                log.debug("DTMF %s by %s failed: %s", digit, name, exc.reason)
        return ""

    def sip_call_id(self) -> str:
        if not self._sip_call_id:
            try:
                self._sip_call_id = self.getInfo().callIdString
            except pj.Error:
                return ""
        return self._sip_call_id

    def onStreamDestroyed(self, prm: "pj.OnStreamDestroyedParam") -> None:
        # The stream is still there during this callback: last chance for RTP counters.
        try:
            st = self.getStreamStat(prm.streamIdx)
            self.rtp = {"rx_packets": int(st.rtcp.rxStat.pkt), "tx_packets": int(st.rtcp.txStat.pkt)}
        except pj.Error:
            pass

    def audio(self, held: bool = False) -> "pj.AudioMedia | None":
        """The leg's audio in the bridge while active (or on hold too, with held: its
        slot is still connected then)."""
        ok = (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD) \
            if held else (pj.PJSUA_CALL_MEDIA_ACTIVE,)
        ci = self.getInfo()  # keep the info alive while iterating (SWIG temporaries)
        for idx, media in enumerate(ci.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in ok:
                try:
                    return self.getAudioMedia(idx)
                except pj.Error:
                    return None
        return None

    def held(self) -> bool:
        """The call is on hold on this leg (the phone's a=sendonly or inactive, or ours)."""
        ci = self.getInfo()
        return any(m.type == pj.PJMEDIA_TYPE_AUDIO and m.status in (pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                                                                     pj.PJSUA_CALL_MEDIA_REMOTE_HOLD)
                   for m in ci.media)

    def end(self, status: int = 0) -> None:
        """Hang up (CANCEL, BYE or a final response, as the state needs); idempotent."""
        if self.ended:
            return
        self.ended = True
        op = pj.CallOpParam()
        if status:
            op.statusCode = status
        try:
            self.hangup(op)
        except pj.Error:
            pass  # already gone on the wire

    def respond(self, status: int) -> None:
        op = pj.CallOpParam()
        op.statusCode = status
        try:
            self.answer(op)
        except pj.Error:
            pass


class CoreAccount(DeleteWhileAlive, pj.Account):
    """The core's one local account: every INVITE relayed by the edge lands here."""

    def __init__(self, owner: LegOwner) -> None:
        super().__init__()
        self.owner = owner

    def onIncomingCall(self, prm: "pj.OnIncomingCallParam") -> None:
        with guarded("incoming call"):
            leg = Leg(self.owner, self, prm.callId, role="a")
            self.owner.on_incoming(leg, prm.rdata.wholeMsg, prm.rdata.srcAddress)
