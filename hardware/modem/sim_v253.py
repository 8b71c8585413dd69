"""The V.253 (USR5637) side of the pty modem simulator: voice-mode commands, RING with
the caller-ID block, and full-duplex AT+VTR audio in the AT port itself (unsigned 8-bit
linear, DLE-shielded, 8000 bytes/s), with DLE events for DTMF and busy.

Tests see the same as for the GSM modems: inject_audio()/captured_audio() in int16 at
8 kHz, and sent_dtmf filled by running the DTMF detector on what the PBX sent.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from hardware.dsp.dtmf import DtmfDetector
from hardware.dsp.tones import COUNTRIES, Cadence, cadence_signal
from hardware.modem.dle import END_TX, DleDecoder, dle_code, shield
from hardware.modem.voice import FRAME_SAMPLES, from_u8, to_u8

if TYPE_CHECKING:
    from hardware.modem.simulator import SimModem

FRAME_TIME = FRAME_SAMPLES / 8000
SILENCE = bytes([0x80]) * FRAME_SAMPLES
BUSY = cadence_signal(COUNTRIES["RU"].busy, 1)  # 425 Hz, 0.35 s on / 0.35 s off, looped
RINGBACK = cadence_signal(Cadence((425.0,), 0.8, 3.2), 1)  # RU ringing tone while the far end rings


class SimVoice:
    """State of the voice modem in the simulator; every call holds sim._lock."""

    def __init__(self, sim: SimModem, busy_dle: bool = False) -> None:
        self.sim = sim
        self.busy_dle = busy_dle  # report the far end's hang-up as DLE b too (modems that detect it)
        self.dial_result = "VCON"  # what ATD answers: VCON, BUSY, NO CARRIER, NO DIALTONE
        self.off_hook = False
        self.streaming = False  # in AT+VTR
        self.rx_on = False  # sending audio to the host (until its DLE !)
        self.busy_at: int | None = None  # playing the busy tone, from this sample
        self._ringback_at = 0
        self._codes = bytearray()  # DLE events waiting for the next frame boundary
        self._decoder = DleDecoder()
        self._detector = DtmfDetector()
        self._next_frame = 0.0

    # ---- commands (command mode) --------------------------------------------------------
    def reply(self, up: str, raw: str) -> list[str]:
        sim = self.sim
        if up in ("AT", "ATV1") or up in sim.dialect.commands:
            if up == "ATZ":
                sim.echo = True  # the stored profile has echo on
            return ["OK"]
        if up == "ATE0":
            sim.echo = False
            return ["OK"]
        if up == "AT+VLS=1":
            self.off_hook = True
            if sim.state == "ringing":
                sim.state = "active"
            return ["OK"]
        if up in ("AT+VLS=0", "ATH", "ATH0"):
            self.hang_up()
            return ["OK"]
        if up == "AT+VTR":
            if not self.off_hook:
                return ["ERROR"]
            self.start_stream()
            return ["CONNECT"]
        if up.startswith("ATD") and up.endswith(";"):
            sim.dialed.append(raw[3:-1])
            self.off_hook = True
            sim.state = "dialing" if self.dial_result == "VCON" else "idle"
            return [self.dial_result]
        return ["ERROR"]  # AT+CSQ and the other GSM commands mean nothing here

    def ring_lines(self, first: bool) -> list[str]:
        if not first:
            return ["RING"]
        number, withheld = self.sim.caller
        now = time.localtime()
        return ["RING", time.strftime("DATE = %m%d", now), time.strftime("TIME = %H%M", now),
                f"NMBR = {'P' if withheld else number}",
                f"NAME = {'P' if withheld else self.sim.caller_name or 'O'}"]

    def hang_up(self) -> None:
        was_off_hook = self.off_hook
        self.off_hook = self.streaming = self.rx_on = False
        self.busy_at = None
        if self.sim.state != "ringing" or was_off_hook:
            self.sim._call_over()  # on-hook without answering: the exchange rings on

    # ---- what the far end does ------------------------------------------------------------
    def far_end_hangup(self) -> None:
        """The far end put its phone down: the exchange plays busy into the still open line."""
        if self.streaming:
            self.busy_at = 0
            if self.busy_dle:
                self._codes += dle_code("b")

    def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            self._codes += dle_code(digit)

    # ---- the stream -------------------------------------------------------------------------
    def start_stream(self) -> None:
        self.streaming = self.rx_on = True
        self._ringback_at = 0
        self._decoder = DleDecoder()
        self._detector = DtmfDetector()
        self._next_frame = time.monotonic()

    def receive(self, data: bytes) -> bytes:
        """Bytes from the host: audio while streaming; returns what is command-mode text."""
        if not self.streaming or not data:
            return data
        audio, events, rest = self._decoder.split(data)
        samples = from_u8(audio)
        self.sim.capture(samples.astype("<i2").tobytes())
        self.sim.sent_dtmf += [press.digit for press in self._detector.feed(samples)]
        if "end receive" in events:
            self.rx_on = False
        if rest is None:
            return b""
        # the host ended its transmission: close the stream and answer in command mode
        self.streaming = self.rx_on = False
        self.sim._write(END_TX + b"\r\nOK\r\n")
        return rest

    def tick(self) -> None:
        """Send the frames that are due (8000 bytes/s) and any pending DLE events."""
        if not self.streaming or self.sim.frozen:
            self._next_frame = time.monotonic()
            return
        now = time.monotonic()
        out = bytearray()
        while self._next_frame <= now:
            self._next_frame += FRAME_TIME
            if self.rx_on:
                out += shield(self._frame())
            out += self._codes
            self._codes.clear()
        self._next_frame = max(self._next_frame, now - 0.1)
        if out:
            self.sim._write(bytes(out))

    def _frame(self) -> bytes:
        inject = self.sim._inject
        if self.busy_at is not None:
            start, self.busy_at = self.busy_at, self.busy_at + FRAME_SAMPLES
            return to_u8(np.roll(BUSY, -(start % len(BUSY)))[:FRAME_SAMPLES])
        if self.sim.state == "dialing":  # VCON came, but the far end only rings: its voice waits
            start, self._ringback_at = self._ringback_at, self._ringback_at + FRAME_SAMPLES
            return to_u8(np.roll(RINGBACK, -(start % len(RINGBACK)))[:FRAME_SAMPLES])
        if inject:
            chunk = bytes(inject[:2 * FRAME_SAMPLES]).ljust(2 * FRAME_SAMPLES, b"\0")
            del inject[:2 * FRAME_SAMPLES]
            return to_u8(chunk)
        return SILENCE
