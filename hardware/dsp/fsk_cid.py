"""FSK caller ID (what an analog line sends between the first and second ring).

Bell 202 (mark 1200 Hz / space 2200 Hz) and ITU-T V.23 (1300 / 2100 Hz), 1200 baud,
asynchronous 8N1 framing after a channel-seizure and a mark period; SDMF (0x04) and
MDMF (0x80) messages with a two's-complement checksum. A message whose checksum fails
is reported as such, never as a caller.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 8000
BAUD = 1200
STANDARDS = {"bell202": (1200.0, 2200.0), "v23": (1300.0, 2100.0)}  # (mark, space)
SDMF, MDMF = 0x04, 0x80
P_DATETIME, P_NUMBER, P_NUMBER_ABSENT, P_NAME, P_NAME_ABSENT = 0x01, 0x02, 0x04, 0x07, 0x08
ABSENCE = {"O": "unavailable", "P": "private"}


@dataclass(frozen=True)
class CallerIdInfo:
    number: str = ""
    name: str = ""
    datetime: str = ""  # MMDDHHMM as sent
    absent: str = ""  # why the number is missing: "private" or "unavailable"


class ChecksumError(ValueError):
    """A caller-ID message arrived but its checksum is wrong (noise on the line)."""


# ---- message layer -----------------------------------------------------------------
def build_message(info: CallerIdInfo, fmt: int = MDMF) -> bytes:
    if fmt == SDMF:
        payload = info.datetime.encode() + (info.number or _absent_code(info.absent)).encode()
    else:
        params = [(P_DATETIME, info.datetime)] if info.datetime else []
        params.append((P_NUMBER, info.number) if info.number else (P_NUMBER_ABSENT, _absent_code(info.absent)))
        if info.name:
            params.append((P_NAME, info.name))
        payload = b"".join(bytes([k, len(v.encode("latin-1"))]) + v.encode("latin-1") for k, v in params)
    body = bytes([fmt, len(payload)]) + payload
    return body + bytes([(-sum(body)) & 0xFF])


def _absent_code(absent: str) -> str:
    return "P" if absent == "private" else "O"


def parse_message(data: bytes) -> CallerIdInfo:
    if len(data) < 3 or len(data) < data[1] + 3:
        raise ValueError("caller-ID message cut short")
    body = data[: data[1] + 3]
    if sum(body) & 0xFF:
        raise ChecksumError("caller-ID checksum mismatch")
    kind, payload = body[0], body[2:-1]
    if kind == SDMF:
        text = payload.decode("latin-1")
        rest = text[8:]
        return CallerIdInfo(number=rest if rest not in ABSENCE else "", datetime=text[:8],
                            absent=ABSENCE.get(rest, ""))
    if kind != MDMF:
        raise ValueError(f"unknown caller-ID message type 0x{kind:02x}")
    fields: dict[int, str] = {}
    i = 0
    while i + 2 <= len(payload):
        key, size = payload[i], payload[i + 1]
        fields[key] = payload[i + 2:i + 2 + size].decode("latin-1")
        i += 2 + size
    return CallerIdInfo(number=fields.get(P_NUMBER, ""), name=fields.get(P_NAME, ""),
                        datetime=fields.get(P_DATETIME, ""),
                        absent=ABSENCE.get(fields.get(P_NUMBER_ABSENT, ""), ""))


# ---- physical layer ----------------------------------------------------------------
def modulate(message: bytes, standard: str = "bell202", level: float = 6000.0,
             seizure_bits: int = 300, mark_bits: int = 180) -> np.ndarray:
    """Phase-continuous FSK of seizure (0101...), mark, then 8N1 bytes LSB first."""
    mark, space = STANDARDS[standard]
    bits = [i % 2 for i in range(seizure_bits)] + [1] * mark_bits
    for byte in message:
        bits += [0] + [(byte >> k) & 1 for k in range(8)] + [1]
    bits += [1] * 10
    per_bit = RATE / BAUD
    n = int(len(bits) * per_bit)
    index = np.minimum((np.arange(n) / per_bit).astype(int), len(bits) - 1)
    freq = np.where(np.array(bits)[index] == 1, mark, space)
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return (level * np.sin(phase)).astype(np.int16)


def demodulate(samples: np.ndarray, standard: str = "bell202") -> np.ndarray:
    """Per sample, +1 where mark dominates and -1 where space does (0 in silence)."""
    mark, space = STANDARDS[standard]
    x = samples.astype(np.float64)
    t = np.arange(len(x)) / RATE
    window = np.ones(int(RATE / BAUD)) / int(RATE / BAUD)

    def energy(f: float) -> np.ndarray:
        i = np.convolve(x * np.cos(2 * np.pi * f * t), window, mode="same")
        q = np.convolve(x * np.sin(2 * np.pi * f * t), window, mode="same")
        return i * i + q * q

    em, es = energy(mark), energy(space)
    loud = (em + es) > 1e-3 * max(1.0, float(np.max(em + es)))
    return np.where(loud, np.sign(em - es), 0)


def uart_bytes(levels: np.ndarray) -> list[tuple[int, int]]:
    """8N1 bytes (value, start sample) out of the mark/space stream, each bit sampled
    mid-bit from the start edge."""
    per_bit = RATE / BAUD
    out: list[tuple[int, int]] = []
    n = 0
    while n < len(levels) - int(10 * per_bit):
        if levels[n] < 0 and n > 0 and levels[n - 1] > 0:  # mark -> space: a start bit
            centres = n + (np.arange(10) + 0.5) * per_bit
            bits = levels[centres.astype(int)]
            if bits[0] < 0 and bits[9] > 0:  # start bit still space, stop bit is mark
                out.append((sum(1 << k for k in range(8) if bits[1 + k] > 0), n))
                n = int(centres[9])
                continue
        n += 1
    return out


def _after_mark(levels: np.ndarray, at: int) -> bool:
    """A real message follows the mark period (180 bits of steady 1s); noise does not."""
    before = levels[max(0, at - int(40 * RATE / BAUD)):at]
    return len(before) > 0 and float(np.mean(before > 0)) > 0.9


def decode(samples: np.ndarray, standard: str = "bell202") -> CallerIdInfo | None:
    """The caller in a stretch of line audio, or None if there is no message in it.

    Raises ChecksumError if a message is there but damaged."""
    levels = demodulate(np.asarray(samples), standard)
    frames = uart_bytes(levels)
    data = bytes(b for b, _ in frames)
    damaged: ChecksumError | None = None
    for start in range(len(data)):
        if data[start] in (SDMF, MDMF) and start + 2 < len(data) and _after_mark(levels, frames[start][1]):
            try:
                return parse_message(data[start:])
            except ChecksumError as exc:
                damaged = damaged or exc
            except ValueError:
                continue
    if damaged is not None:
        raise damaged
    return None
