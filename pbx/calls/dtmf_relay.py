"""Keys across a bridged call: one key press heard on a leg is relayed once (core thread).

pjsua2 2.17 reports a key several times: onDtmfEvent at the start of an RFC 4733 event,
again at each duration update and at its end, and onDtmfDigit beside the start; a SIP
INFO (application/dtmf-relay) comes as one end event, again with onDtmfDigit beside it.
Legs feed only onDtmfEvent here. KeyCollector turns one leg's events into one KeyPress
per key, sent on at the end of the key so its duration is known; a key whose end packets
were all lost is sent with the duration last heard once END_WAIT passes in silence.

This module holds no pjsua2 object: the leg (pbx.calls.legs) converts the callback's
parameters and sends the key on the far leg.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Protocol

# pjmedia_stream_dtmf_event_flags (the SWIG module does not export them)
IS_UPDATE, IS_END = 1, 2
END_WAIT = 0.5  # s of silence after which an open key counts as ended (RFC 4733 updates every 50 ms or so)
DEFAULT_MS = 160  # pjsua's own default, for INFO that names no Duration
MAX_MS = 8000  # an RFC 4733 event carries at most 65535 samples: 8.19 s at 8 kHz
KEYS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True)
class DtmfEvent:
    """What onDtmfEvent says, without pjsua2 types."""

    digit: str
    rtp: bool  # RFC 4733 telephone-event; False: SIP INFO
    flags: int
    timestamp: int  # ms: the event's RTP timestamp (SIP INFO: arrival time)
    duration: int  # ms so far (SIP INFO: as the message said)


@dataclass(frozen=True)
class KeyPress:
    digit: str
    duration_ms: int


def sendable(ms: int) -> int:
    """A duration to send on: INFO without Duration reports 0 or 0xFFFFFFFF (unknown)."""
    if ms <= 0 or ms > 0xFFFF:
        return DEFAULT_MS
    return min(ms, MAX_MS)


class KeyCollector:
    """One leg's DTMF events in, one KeyPress per key out (pure: the caller gives the time)."""

    def __init__(self) -> None:
        self.pending: DtmfEvent | None = None  # an RFC 4733 key not yet ended
        self._heard = 0.0  # when the pending key's last packet came
        self._done: int | None = None  # timestamp of the last RFC 4733 key sent on

    def feed(self, event: DtmfEvent, now: float) -> list[KeyPress]:
        digit = event.digit.upper()
        if digit not in KEYS:
            return []
        if not event.rtp:
            # One INFO per key; the transaction layer absorbs retransmissions.
            return [*self._close(), KeyPress(digit, sendable(event.duration))]
        if event.timestamp == self._done:
            return []  # an update or end that came after its key was closed
        out: list[KeyPress] = []
        pending = self.pending
        if pending is not None and (pending.timestamp, pending.digit) != (event.timestamp, digit):
            out += self._close()  # a new key while one was open: that one's end was lost
        if event.flags & IS_END:
            self.pending, self._done = None, event.timestamp
            out.append(KeyPress(digit, sendable(event.duration)))
        else:
            self.pending, self._heard = DtmfEvent(digit, True, event.flags, event.timestamp,
                                                  event.duration), now
        return out

    def due(self, now: float) -> tuple[list[KeyPress], float | None]:
        """At a check: the open key if its end is overdue, and in how long to look again."""
        if self.pending is None:
            return [], None
        wait = self._heard + END_WAIT - now
        if wait > 0:
            return [], wait
        return self._close(), None

    def _close(self) -> list[KeyPress]:
        pending, self.pending = self.pending, None
        if pending is None:
            return []
        self._done = pending.timestamp
        return [KeyPress(pending.digit, sendable(pending.duration))]


class KeyedLeg(Protocol):
    keys: KeyCollector


class DtmfRelay:
    """Feeds each leg's collector and hands finished keys to deliver(leg, key)."""

    def __init__(self, later: Callable[[float, Callable[[], None]], Any],
                 deliver: Callable[[Any, KeyPress], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.later = later
        self.deliver = deliver
        self.clock = clock

    def event(self, leg: KeyedLeg, event: DtmfEvent) -> None:
        was_open = leg.keys.pending is not None
        for key in leg.keys.feed(event, self.clock()):
            self.deliver(leg, key)
        if leg.keys.pending is not None and not was_open:
            self._watch(weakref.ref(leg), END_WAIT)

    def _watch(self, ref: "weakref.ref[KeyedLeg]", delay: float) -> None:
        # A weak reference: a timer must not keep a Leg past its DISCONNECTED callback
        # (pjsua reuses call ids; see B2bua._legs).
        self.later(delay, lambda: self._check(ref))

    def _check(self, ref: "weakref.ref[KeyedLeg]") -> None:
        leg = ref()
        if leg is None:
            return
        keys, again = leg.keys.due(self.clock())
        for key in keys:
            self.deliver(leg, key)
        if again is not None:
            self._watch(ref, again)
