"""Streaming DTMF detector and generator (8 kHz, 16-bit mono).

Blocks of 20 ms every 10 ms. For each of the 8 DTMF frequencies a small comb of
Goertzel-style correlations (one matrix product per batch of blocks) measures the
strongest component within +-3.6 % and, by interpolation, its actual frequency. A block
holds a digit when one row and one column tone carry most of the block's energy, lie
within +-2.5 % of nominal (accept +-1.5 %, reject +-3.5 %), and their twist is inside
the limits. Two consecutive blocks make a key press (so a tone must last ~30 ms: 40 ms
passes, 20 ms cannot); a press ends after four blocks without it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 8000
BLOCK = 160  # 20 ms
HOP = 80  # 10 ms
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*#0D")
STEPS = np.arange(-3, 4) * 0.012  # comb of relative offsets around each nominal frequency
MAX_OFFSET = 0.025
# Share of the block's energy in the two tones. A tone covering 75 % of a block scores
# 0.75, so above 0.8 no two consecutive blocks can both pass on a 20 ms tone.
MIN_FRACTION = 0.82
MAX_NORMAL_TWIST_DB = 10.5  # row louder than column (line loss at high frequencies); 8 dB + noise margin
MAX_REVERSE_TWIST_DB = 6.5
MIN_LEVEL = 50.0  # amplitude floor (~ -56 dBFS): silence and hiss are not digits


@dataclass(frozen=True)
class DtmfEvent:
    digit: str
    sample: int  # where the press was confirmed, counted from the first sample fed

    @property
    def seconds(self) -> float:
        return self.sample / RATE


def _basis() -> tuple[np.ndarray, np.ndarray]:
    freqs = np.array([f * (1 + s) for f in ROWS + COLS for s in STEPS])
    n = np.arange(BLOCK)[:, None]
    # No window: in 20 ms the rectangular window's narrow main lobe is what keeps
    # 697 Hz out of 770 Hz's comb; its side lobes stay far below the checks' margins.
    phase = 2 * np.pi * freqs[None, :] * n / RATE
    basis = np.concatenate([np.cos(phase), np.sin(phase)], axis=1)
    return basis, freqs


_BASIS, _FREQS = _basis()
_GAIN = BLOCK / 2  # correlation of a unit sine with itself over a block


def _analyse(blocks: np.ndarray) -> list[str | None]:
    """One digit (or None) per block; blocks has shape (k, BLOCK)."""
    x = blocks.astype(np.float64)
    proj = x @ _BASIS
    half = proj.shape[1] // 2
    amp = np.hypot(proj[:, :half], proj[:, half:]) / _GAIN  # (k, 8 * len(STEPS))
    amp = amp.reshape(len(blocks), 8, len(STEPS))
    peak_idx = amp.argmax(axis=2)
    peak = amp.max(axis=2)  # (k, 8) best amplitude near each nominal frequency
    power = (x * x).mean(axis=1)
    out: list[str | None] = []
    for i in range(len(blocks)):
        out.append(_decide(amp[i], peak[i], peak_idx[i], power[i]))
    return out


def _interpolate(comb: np.ndarray, idx: int) -> tuple[float, float]:
    """(relative frequency offset, amplitude) of the peak, by a parabola through the log
    amplitudes around it: the comb's 1.2 % steps alone would under-read the amplitude."""
    if idx in (0, len(comb) - 1):
        return float(STEPS[idx]) * 2, float(comb[idx])  # at the comb's edge: out of range
    a, b, c = np.log(comb[idx - 1:idx + 2] + 1e-9)
    curve = a - 2 * b + c
    shift = 0.5 * (a - c) / curve if curve < 0 else 0.0
    peak = b - 0.25 * (a - c) * shift
    return float(STEPS[idx] + shift * (STEPS[1] - STEPS[0])), float(np.exp(peak))


def _decide(amp: np.ndarray, peak: np.ndarray, idx: np.ndarray, power: float) -> str | None:
    r, c = int(peak[:4].argmax()), 4 + int(peak[4:].argmax())
    if min(peak[r], peak[c]) < MIN_LEVEL:
        return None
    offset_r, ar = _interpolate(amp[r], int(idx[r]))
    offset_c, ac = _interpolate(amp[c], int(idx[c]))
    if abs(offset_r) > MAX_OFFSET or abs(offset_c) > MAX_OFFSET:
        return None
    if (ar * ar + ac * ac) / 2 < MIN_FRACTION * power:
        return None
    twist = 20 * np.log10(ar / ac)
    if twist > MAX_NORMAL_TWIST_DB or -twist > MAX_REVERSE_TWIST_DB:
        return None
    others_r = np.delete(peak[:4], r).max()
    others_c = np.delete(peak[4:], c - 4).max()
    if others_r > ar * 0.5 or others_c > ac * 0.5:
        return None
    return KEYS[r][c - 4]


class DtmfDetector:
    """feed() any number of samples at a time; get the key presses confirmed so far."""

    def __init__(self) -> None:
        self._buffer = np.zeros(0, dtype=np.int16)
        self._consumed = 0  # samples dropped from the front of the buffer so far
        self._last: str | None = None  # the previous block's digit
        self._current: str | None = None  # the digit being pressed
        self._misses = 0

    def feed(self, samples: np.ndarray | bytes) -> list[DtmfEvent]:
        if isinstance(samples, (bytes, bytearray, memoryview)):
            samples = np.frombuffer(samples, dtype="<i2")
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, dtype=np.int16)])
        count = (len(self._buffer) - BLOCK) // HOP + 1
        if count <= 0:
            return []
        starts = np.arange(count) * HOP
        blocks = np.lib.stride_tricks.sliding_window_view(self._buffer, BLOCK)[starts]
        events = []
        for k, digit in enumerate(_analyse(blocks)):
            event = self._step(digit, self._consumed + int(starts[k]) + BLOCK)
            if event is not None:
                events.append(event)
        used = count * HOP
        self._buffer = self._buffer[used:]
        self._consumed += used
        return events

    def _step(self, digit: str | None, at: int) -> DtmfEvent | None:
        confirmed = digit is not None and digit == self._last
        self._last = digit
        if self._current is not None:
            if digit == self._current:
                self._misses = 0
                return None
            self._misses += 1
            if self._misses < 4:
                # A 10 ms dropout spoils three overlapping blocks; the 40 ms pause
                # between key presses spoils at least five.
                return None
            self._current = None
        if confirmed:
            self._current, self._misses = digit, 0
            return DtmfEvent(digit, at)  # type: ignore[arg-type]
        return None


def dtmf_tone(digit: str, duration: float, *, level: float = 8000.0, twist_db: float = 0.0,
              freq_offset: float = 0.0, rate: int = RATE, phase: float = 0.0) -> np.ndarray:
    """A key press as int16 samples. twist_db > 0 makes the row (low) tone louder;
    freq_offset is relative (0.015 = +1.5 %) and applies to both tones."""
    row = next(i for i, keys in enumerate(KEYS) if digit in keys)
    col = KEYS[row].index(digit)
    t = np.arange(int(duration * rate)) / rate
    low = ROWS[row] * (1 + freq_offset)
    high = COLS[col] * (1 + freq_offset)
    gain = 10 ** (-abs(twist_db) / 20)
    a_low, a_high = (1.0, gain) if twist_db >= 0 else (gain, 1.0)
    wave = a_low * np.sin(2 * np.pi * low * t + phase) + a_high * np.sin(2 * np.pi * high * t)
    return (level * wave).astype(np.int16)
