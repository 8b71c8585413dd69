"""V.253 voice-mode DLE shielding, for analog voice modems (USR5637 class).

In voice mode audio and events share the serial port: a data byte 0x10 (DLE) is sent
doubled, and DLE followed by another byte is an event (DTMF digit, busy tone, ring, ...)
or the end of the stream (DLE ETX). Facts from ITU-T V.253 and the project reference."""
from __future__ import annotations

DLE, ETX = 0x10, 0x03
EVENTS = {
    "a": "answer tone", "b": "busy", "c": "fax calling", "d": "dial tone", "e": "data calling",
    "h": "handset on hook", "H": "handset off hook", "l": "line reversal", "q": "quiet",
    "R": "ring", "s": "silence", "u": "underrun",
}
DTMF = set("0123456789*#ABCD")


def shield(audio: bytes) -> bytes:
    """Audio for the modem: every DLE byte doubled."""
    return audio.replace(bytes([DLE]), bytes([DLE, DLE]))


def end_of_transmit() -> bytes:
    return bytes([DLE, ETX])


class DleDecoder:
    """Splits what a voice modem sends into audio and events; chunks may split a pair."""

    def __init__(self) -> None:
        self._pending_dle = False

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        audio = bytearray()
        events: list[str] = []
        for byte in data:
            if self._pending_dle:
                self._pending_dle = False
                if byte == DLE:
                    audio.append(DLE)
                elif byte == ETX:
                    events.append("end")
                else:
                    events.append(self._event(chr(byte)))
            elif byte == DLE:
                self._pending_dle = True
            else:
                audio.append(byte)
        return bytes(audio), events

    @staticmethod
    def _event(code: str) -> str:
        if code in DTMF:
            return f"dtmf {code}"
        return EVENTS.get(code, f"unknown {code!r}")
