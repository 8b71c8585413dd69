"""A minimal RTP endpoint for tests: sends a G.711 tone and keeps what it hears, and
sends and receives DTMF as RFC 4733 telephone-events.

SIPp does the signalling; this socket is the phone's media, so a test can prove that
audio crossed the appliance by finding the other side's tone in what arrived.

For benchmarks, RtpProbe is the media of many calls on one socket: it keeps each
packet's kernel arrival time per stream and notes the first packet with sound in it.
"""
from __future__ import annotations

import itertools
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
            if self.peer is None:
                next_send = now  # a phone starts its stream at the answer, not in a burst to catch up
            elif self.pt is not None and now >= next_send:
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


# ---- many streams at once, timed by the kernel (benchmarks) ----------------------------------

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS has the same value
SILENT_CODE = {0: 0xFF, 8: 0xD5}  # the G.711 byte of a zero sample (mu-law, A-law)


def stamped_socket(port: int = 0) -> socket.socket:
    """A UDP socket on loopback whose datagrams come with the kernel's arrival time."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    sock.bind(("127.0.0.1", port))
    return sock


def recv_stamped(sock: socket.socket, size: int = 4096) -> tuple[bytes, tuple[str, int], float]:
    """One datagram, its source and when the kernel received it (wall clock, like
    time.time()), so a busy reader does not add its own delay to what it measures."""
    data, anc, _flags, addr = sock.recvmsg(size, socket.CMSG_SPACE(16))
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", raw[:16])
            return data, addr, sec + nsec / 1e9
    return data, addr, time.time()


def loud(payload: bytes, pt: int, threshold: int = 64) -> bool:
    """Whether a G.711 payload holds sound: any sample beyond `threshold` (linear 16-bit;
    digital silence and dither decode to 0 or a few units)."""
    return bool(np.abs(_TABLES[pt][np.frombuffer(payload, np.uint8)].astype(np.int32)).max() > threshold)


class RtpStream:
    """What one sender (source port and SSRC) sent to the probe."""

    __slots__ = ("port", "ssrc", "pt", "times", "seqs", "first_loud", "_out_seq")

    def __init__(self, port: int, ssrc: int, pt: int) -> None:
        self.port, self.ssrc, self.pt = port, ssrc, pt
        self.times: list[float] = []  # kernel arrival time of each packet
        self.seqs: list[int] = []
        self.first_loud: float | None = None  # arrival of the first packet with sound in it
        self._out_seq = 0

    def gaps_ms(self, start: float, end: float) -> list[float]:
        """Inter-arrival gaps of the packets that arrived in [start, end]."""
        inside = [t for t in self.times if start <= t <= end]
        return [(b - a) * 1000 for a, b in itertools.pairwise(inside)]


class RtpProbe:
    """One socket that many calls send their RTP to (every SDP offer names its port):
    each stream is told apart by its source port and SSRC, each packet is kept with its
    kernel arrival time, and the first packet carrying sound is noted. With `answer`,
    every packet is answered with a silent one of the same codec from this socket, as a
    phone sends its own RTP all along (symmetric RTP: it goes back to where it came from).
    """

    def __init__(self, answer: bool = True) -> None:
        self.sock = stamped_socket()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.streams: dict[tuple[int, int], RtpStream] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtp-probe", daemon=True)

    def start(self) -> "RtpProbe":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def by_port(self, port: int) -> list[RtpStream]:
        return [s for s in self.streams.values() if s.port == port]

    def _run(self) -> None:
        streams, sock = self.streams, self.sock
        while not self._stop.is_set():
            try:
                data, addr, when = recv_stamped(sock)
            except socket.timeout:
                continue
            except OSError:
                self.errors += 1
                continue
            if len(data) <= 12 or data[0] >> 6 != 2:
                continue
            pt = data[1] & 0x7F
            if pt not in SILENT_CODE:
                continue  # telephone-events and comfort noise are not the prompt
            ssrc = struct.unpack_from("!I", data, 8)[0]
            stream = streams.get((addr[1], ssrc))
            if stream is None:
                stream = streams[(addr[1], ssrc)] = RtpStream(addr[1], ssrc, pt)
            stream.times.append(when)
            stream.seqs.append(struct.unpack_from("!H", data, 2)[0])
            if stream.first_loud is None and loud(data[12:], pt):
                stream.first_loud = when
            if self.answer:
                n = stream._out_seq = stream._out_seq + 1
                header = struct.pack("!BBHII", 0x80, pt, n & 0xFFFF, (n * FRAME) & 0xFFFFFFFF, ssrc ^ 0x5A5A5A5A)
                try:
                    sock.sendto(header + bytes([SILENT_CODE[pt]]) * (len(data) - 12), addr)
                except OSError:
                    self.errors += 1
