"""A minimal RTP endpoint for tests: sends a G.711 tone and keeps what it hears, and
sends and receives DTMF as RFC 4733 telephone-events.

SIPp does the signalling; this socket is the phone's media, so a test can prove that
audio crossed the appliance by finding the other side's tone in what arrived.
"""
from __future__ import annotations

import socket
import struct
import threading
import time

import numpy as np

from hardware.dsp.tones import tone_level  # noqa: F401 (the tests' tone check lives with the DSP)

RATE = 8000
FRAME = 160  # 20 ms


def ulaw_decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def alaw_decode(data: bytes) -> np.ndarray:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


DECODERS = {0: ulaw_decode, 8: alaw_decode}  # RTP payload types of G.711
_TABLES = {pt: dec(bytes(range(256))) for pt, dec in DECODERS.items()}


def g711_encode(samples: np.ndarray, pt: int = 0) -> bytes:
    """Nearest code by table search: slow but plainly correct, fine for a test tone."""
    table = _TABLES[pt]
    order = np.argsort(table)
    idx = np.clip(np.searchsorted(table[order], samples), 0, 255)
    return bytes(order[idx].astype(np.uint8))


class RtpEndpoint:
    def __init__(self, freq: float, amplitude: int = 8000) -> None:
        self.freq = freq
        self.amplitude = amplitude
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.004)
        self.port = self.sock.getsockname()[1]
        self.peer: tuple[str, int] | None = None
        self.received: list[bytes] = []
        self.pt: int | None = None  # answer in the codec the appliance sends
        self.packets_in = 0
        self.packets_out = 0
        self.digits: list[str] = []  # RFC 4733 events received, one per key press
        self.keys: list[tuple[str, int]] = []  # the same, with each one's duration in ms
        self.event_pt: int | None = None  # the telephone-event payload type (from the peer)
        self._seen_events: set[int] = set()
        self._to_send: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "RtpEndpoint":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def audio(self) -> np.ndarray:
        if not self.received or self.pt is None:
            return np.zeros(0, np.int16)
        return DECODERS[self.pt](b"".join(self.received))

    def send_digit(self, digit: str, pt: int, duration_ms: int = 100) -> None:
        """Press a key: a telephone-event packet each 20 ms while it is held, then three
        end packets."""
        self.event_pt = pt
        self._to_send.append((digit, max(1, duration_ms // 20)))

    EVENTS = "0123456789*#ABCD"

    def _receive(self, data: bytes, addr: tuple[str, int]) -> None:
        pt = data[1] & 0x7F
        if pt in DECODERS:
            self.pt = pt
            self.received.append(data[12:])
            self.packets_in += 1
            self.peer = self.peer or addr  # symmetric RTP: answer where it came from
        elif len(data) >= 16 and data[12] < len(self.EVENTS) and data[13] & 0x80:  # an event's end
            ts = struct.unpack("!I", data[4:8])[0]
            if ts not in self._seen_events:  # the end packet comes three times
                self._seen_events.add(ts)
                self.digits.append(self.EVENTS[data[12]])
                self.keys.append((self.EVENTS[data[12]], struct.unpack("!H", data[14:16])[0] * 1000 // RATE))

    def _event_packets(self, digit: str, frames: int, seq: int, ts: int, ssrc: int) -> list[bytes]:
        code, packets = self.EVENTS.index(digit), []
        for i in range(frames + 3):
            end = i >= frames
            duration = min(i + 1, frames) * FRAME
            header = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | int(self.event_pt or 101),
                                 (seq + i) & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
            packets.append(header + struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration))
        return packets

    def _run(self) -> None:
        seq, ts, ssrc = 1, 0, 0x1234ABCD ^ self.port
        next_send = time.monotonic()
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
                if len(data) > 12:
                    self._receive(data, addr)
            except (socket.timeout, OSError):
                pass
            now = time.monotonic()
            if self.peer is not None and self._to_send and now >= next_send:
                digit, frames = self._to_send.pop(0)
                packets = self._event_packets(digit, frames, seq, ts, ssrc)
                for packet in packets:
                    try:
                        self.sock.sendto(packet, self.peer)
                    except OSError:
                        pass
                    time.sleep(0.02)
                seq, ts = seq + len(packets), ts + len(packets) * FRAME
                next_send = time.monotonic()
            if self.peer is not None and self.pt is not None and now >= next_send:
                n = np.arange(ts, ts + FRAME)
                tone = (self.amplitude * np.sin(2 * np.pi * self.freq * n / RATE)).astype(np.int16)
                header = struct.pack("!BBHII", 0x80, self.pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                try:
                    self.sock.sendto(header + g711_encode(tone, self.pt), self.peer)
                    self.packets_out += 1
                except OSError:
                    pass
                seq, ts = seq + 1, ts + FRAME
                next_send += 0.02
