"""One call's audio on a V.253 voice modem (AT+VSM=128,8000, full duplex AT+VTR).

The modem carries unsigned 8-bit linear samples (0x80 = zero) DLE-shielded in the AT
stream; the PBX side sees 320-byte frames of 8 kHz signed 16-bit little-endian, as on
the GSM PCM modems. A pacer thread feeds the modem one frame every 20 ms (silence when
the PBX has nothing), because a voice modem in VTR underruns without a steady supply,
and it is where in-band DTMF goes into the outgoing audio. Received audio runs through the call-progress
detector: on an analog line the busy tone is the only sign that the far end hung up.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable

import numpy as np

from hardware.dsp.dtmf import dtmf_tone
from hardware.dsp.tones import ToneDetector
from hardware.modem.audioport import FRAME_BYTES  # PBX side: 160 samples of s16le
from hardware.modem.dle import shield
from hardware.modem.events import Dtmf, ModemEvent

log = logging.getLogger(__name__)
FRAME_SAMPLES = 160
DTMF_ON, DTMF_OFF = 0.08, 0.08
# DLE events that mean the far end is gone; "ring" mid-call is ignored.
ENDING_EVENTS = {"busy": "busy tone", "dial tone": "dial tone"}


def to_u8(samples: bytes | np.ndarray) -> bytes:
    """s16le (bytes or int16 array) -> unsigned 8-bit linear, rounded, 0x80 = zero."""
    x = np.frombuffer(samples, "<i2") if isinstance(samples, (bytes, bytearray)) else np.asarray(samples)
    return (np.clip(np.round(x.astype(np.float64) / 256), -128, 127) + 128).astype(np.uint8).tobytes()


def from_u8(data: bytes) -> np.ndarray:
    """Unsigned 8-bit linear -> int16 samples."""
    return ((np.frombuffer(data, np.uint8).astype(np.int16) - 128) * 256).astype(np.int16)


def dtmf_burst(digits: str) -> np.ndarray:
    """Key presses as the line sends them: ~80 ms tone + 80 ms gap each."""
    gap = np.zeros(int(DTMF_OFF * 8000), np.int16)
    parts = [np.concatenate([dtmf_tone(d, DTMF_ON, level=6000.0), gap]) for d in digits]
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


class VoiceStream:
    """Both directions of one call. on_stream() is fed by the AT reader thread; write_audio()
    and send_dtmf() by any thread; on_end(reason) fires once when the far end is gone."""

    def __init__(self, line: str, write: Callable[[bytes], None], on_audio: Callable[[bytes], None],
                 on_event: Callable[[ModemEvent], None], on_end: Callable[[str], None],
                 country: str = "RU") -> None:
        self.line = line
        self._write, self._on_audio, self._on_event, self._on_end = write, on_audio, on_event, on_end
        self._tones = ToneDetector(country)
        self._rx = bytearray()
        self._tx: collections.deque[bytes] = collections.deque(maxlen=5)  # 100 ms at most queued
        self._dtmf = np.zeros(0, np.int16)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ended = False
        self._pacer = threading.Thread(target=self._pace, name=f"voice-{line}", daemon=True)

    def start(self) -> "VoiceStream":
        self._pacer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._pacer.is_alive() and self._pacer is not threading.current_thread():
            self._pacer.join(1)

    # ---- modem -> PBX (reader thread) ------------------------------------------------------
    def on_stream(self, audio: bytes, events: list[str]) -> None:
        self._rx += audio
        while len(self._rx) >= FRAME_SAMPLES:
            frame = from_u8(bytes(self._rx[:FRAME_SAMPLES]))
            del self._rx[:FRAME_SAMPLES]
            self._deliver(frame)
        for event in events:
            if event.startswith("dtmf "):
                self._on_event(Dtmf(self.line, event[5:]))
            elif event in ENDING_EVENTS:
                self.end(ENDING_EVENTS[event])
            elif event != "ring":
                log.debug("line %s: voice event %s", self.line, event)

    def _deliver(self, frame: np.ndarray) -> None:
        try:
            self._on_audio(frame.astype("<i2").tobytes())
        except Exception:
            log.exception("line %s: audio handler failed", self.line)
        for tone in self._tones.feed(frame):
            if tone.kind in ("busy", "congestion"):
                self.end(f"{tone.kind} tone")

    def end(self, reason: str) -> None:
        """The far end is gone (tone, DLE code, or the modem left the stream): report once."""
        if not self._ended:
            self._ended = True
            self._on_end(reason)

    # ---- PBX -> modem ------------------------------------------------------------------------
    def write_audio(self, frame: bytes) -> None:
        if len(frame) == FRAME_BYTES:
            self._tx.append(frame)

    def send_dtmf(self, digits: str) -> None:
        with self._lock:
            self._dtmf = np.concatenate([self._dtmf, dtmf_burst(digits)])

    def dtmf_pending(self) -> bool:
        return len(self._dtmf) > 0

    def _next_frame(self) -> bytes:
        frame = np.frombuffer(self._tx.popleft(), "<i2") if self._tx else np.zeros(FRAME_SAMPLES, np.int16)
        with self._lock:
            tone, self._dtmf = self._dtmf[:FRAME_SAMPLES], self._dtmf[FRAME_SAMPLES:]
        if len(tone):
            # The key press takes the voice's place for its tone and gap: summed with loud
            # speech it would fail the far end's detector (energy share, twist).
            frame = np.zeros(FRAME_SAMPLES, np.int16)
            frame[:len(tone)] = tone
        return shield(to_u8(frame))

    def _pace(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            try:
                self._write(self._next_frame())
            except Exception as exc:  # port gone: the line's supervisor tears the call down
                log.debug("line %s: voice write failed: %s", self.line, exc)
                return
            due += FRAME_SAMPLES / 8000
            now = time.monotonic()
            if due < now - 0.1:
                due = now  # fell far behind (a stall): do not burst to catch up
            self._stop.wait(max(0.0, due - now))
