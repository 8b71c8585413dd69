"""V.253 voice-mode DLE shielding, for analog voice modems (USR5637 class).

In voice mode audio and events share the serial port: a data byte 0x10 (DLE) is sent
doubled, and DLE followed by another byte is an event (DTMF digit, busy tone, ring, ...)
or the end of the stream (DLE ETX). Facts from ITU-T V.253."""
from __future__ import annotations

DLE, ETX = 0x10, 0x03
EVENTS = {
    "a": "answer tone", "b": "busy", "c": "fax calling", "d": "dial tone", "e": "data calling",
    "h": "handset on hook", "H": "handset off hook", "l": "line reversal", "q": "quiet",
    "R": "ring", "s": "silence", "u": "underrun",
    # host -> modem (what a modem, or the simulator, decodes)
    "!": "end receive", "^": "end receive", "\x18": "clear transmit",
}
DTMF = set("0123456789*#ABCD")
# Host -> modem: end of transmit, end of receive (USR; Zoom uses DLE ^), clear TX buffer.
END_TX = bytes([DLE, ETX])
END_RX = bytes([DLE, ord("!")])
CLEAR_TX = bytes([DLE, 0x18])


def shield(audio: bytes) -> bytes:
    """Audio for the modem: every DLE byte doubled."""
    return audio.replace(bytes([DLE]), bytes([DLE, DLE]))


def end_of_transmit() -> bytes:
    return END_TX


def dle_code(code: str) -> bytes:
    """One DLE event on the wire, e.g. dle_code("5") for a DTMF digit, dle_code("b") for busy."""
    return bytes([DLE, ord(code)])


class DleDecoder:
    """Splits what a voice modem sends into audio and events; chunks may split a pair."""

    def __init__(self) -> None:
        self._pending_dle = False

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        """Everything in data, past any end of stream ("end" is then one of the events)."""
        audio = bytearray()
        events: list[str] = []
        rest: bytes | None = data
        while rest:
            a, e, rest = self.split(rest)
            audio += a
            events += e
        return bytes(audio), events

    def split(self, data: bytes) -> tuple[bytes, list[str], bytes | None]:
        """Like feed, but stops at DLE ETX: (audio, events, the bytes after the end or None).
        What follows the end is command-mode text (the modem's OK), not audio."""
        audio = bytearray()
        events: list[str] = []
        i = 0
        while i < len(data):
            if self._pending_dle:
                self._pending_dle = False
                byte = data[i]
                i += 1
                if byte == DLE:
                    audio.append(DLE)
                elif byte == ETX:
                    events.append("end")
                    return bytes(audio), events, data[i:]
                else:
                    events.append(self._event(chr(byte)))
                continue
            j = data.find(DLE, i)  # audio runs are copied whole, not byte by byte
            if j < 0:
                audio += data[i:]
                break
            audio += data[i:j]
            self._pending_dle = True
            i = j + 1
        return bytes(audio), events, None

    @staticmethod
    def _event(code: str) -> str:
        if code in DTMF:
            return f"dtmf {code}"
        return EVENTS.get(code, f"unknown {code!r}")
