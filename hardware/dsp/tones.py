"""Call-progress tones on an analog line: busy and congestion (reorder) cadences, by
country, so an FXO line learns that the far end hung up; plus dial tone and silence.

Frames of 20 ms: a frame is "tone" when the country's frequencies carry most of its
energy above a floor. Runs of tone and gap are matched against the cadence (+-25 %,
at least 60 ms of slack); N matching on/off cycles in a row make one event.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 8000
FRAME = 160
MIN_LEVEL = 100.0  # amplitude floor (~ -50 dBFS)
MIN_FRACTION = 0.6


@dataclass(frozen=True)
class Cadence:
    freqs: tuple[float, ...]
    on: float
    off: float


@dataclass(frozen=True)
class CountryTones:
    busy: Cadence
    congestion: Cadence
    dial: tuple[float, ...]


COUNTRIES = {
    "RU": CountryTones(Cadence((425.0,), 0.35, 0.35), Cadence((425.0,), 0.175, 0.175), (425.0,)),
    "EU": CountryTones(Cadence((425.0,), 0.5, 0.5), Cadence((425.0,), 0.25, 0.25), (425.0,)),
    "US": CountryTones(Cadence((480.0, 620.0), 0.5, 0.5), Cadence((480.0, 620.0), 0.25, 0.25),
                       (350.0, 440.0)),
}


@dataclass(frozen=True)
class ToneEvent:
    kind: str  # "busy", "congestion", "dial", "silence"
    sample: int


def tone_level(samples: np.ndarray, freq: float) -> float:
    """How much of a signal's power is one tone (0..1): audio checks of the simulator and tests."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0 or not np.any(x):
        return 0.0
    ref = np.exp(-2j * np.pi * freq * np.arange(len(x)) / RATE)
    return float(abs(np.dot(x, ref)) ** 2 / len(x) / (np.dot(x, x) / 2))


def _power_at(x: np.ndarray, freqs: tuple[float, ...]) -> float:
    n = np.arange(len(x))
    total = 0.0
    for f in freqs:
        ref = np.exp(-2j * np.pi * f * n / RATE)
        total += 2 * abs(np.dot(x, ref)) ** 2 / len(x) ** 2  # mean power of that tone
    return total


class ToneDetector:
    def __init__(self, country: str = "RU", cycles: int = 3, silence_after: float = 10.0,
                 dial_after: float = 1.0) -> None:
        if country not in COUNTRIES:
            raise ValueError(f"no tone plan for {country}; known: {', '.join(COUNTRIES)}")
        self.plan = COUNTRIES[country]
        self.cycles = cycles
        self.silence_frames = int(silence_after * RATE / FRAME)
        self.dial_frames = int(dial_after * RATE / FRAME)
        self._buffer = np.zeros(0, np.int16)
        self._frames = 0
        self._state: bool | None = None  # tone present in the current run
        self._run = 0  # frames in the current run
        self._runs: list[tuple[bool, int]] = []  # finished runs, newest last
        self._quiet = 0
        self._reported: set[str] = set()

    def feed(self, samples: np.ndarray | bytes) -> list[ToneEvent]:
        if isinstance(samples, (bytes, bytearray, memoryview)):
            samples = np.frombuffer(samples, dtype="<i2")
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.int16)])
        events: list[ToneEvent] = []
        while len(self._buffer) >= FRAME:
            frame, self._buffer = self._buffer[:FRAME].astype(np.float64), self._buffer[FRAME:]
            self._frames += 1
            events += self._step(frame)
        return events

    def _classify(self, x: np.ndarray) -> tuple[bool, bool, bool]:
        """(cadence tone present, dial tone present, silent) for one frame."""
        power = float(np.mean(x * x))
        if power < MIN_LEVEL ** 2 / 2:
            return False, False, True
        busy = _power_at(x, self.plan.busy.freqs) > MIN_FRACTION * power
        dial = _power_at(x, self.plan.dial) > MIN_FRACTION * power
        return busy, dial, False

    def _step(self, x: np.ndarray) -> list[ToneEvent]:
        tone, dial, silent = self._classify(x)
        events = []
        self._quiet = self._quiet + 1 if silent else 0
        if self._quiet == self.silence_frames:
            events.append(ToneEvent("silence", self._frames * FRAME))
        if tone == self._state:
            self._run += 1
        else:
            if self._state is not None:
                self._runs = (self._runs + [(self._state, self._run)])[-2 * self.cycles - 2:]
                events += self._match()
            self._state, self._run = tone, 1
        if dial and tone == self._state and self._state and self._run == self.dial_frames:
            events.append(ToneEvent("dial", self._frames * FRAME))
        return events

    def _match(self) -> list[ToneEvent]:
        for kind, cadence in (("busy", self.plan.busy), ("congestion", self.plan.congestion)):
            if self._cycles_match(cadence):
                self._runs.clear()  # one event per N cycles
                return [ToneEvent(kind, self._frames * FRAME)]
        return []

    def _cycles_match(self, cadence: Cadence) -> bool:
        need = 2 * self.cycles
        recent = self._runs[-need:]
        if len(recent) < need:
            return False
        for present, frames in recent:
            expected = (cadence.on if present else cadence.off) * RATE / FRAME
            if abs(frames - expected) > max(0.25 * expected, 3):
                return False
        return True


def cadence_signal(cadence: Cadence, cycles: int, level: float = 4000.0) -> np.ndarray:
    """The tone as a line would carry it, for tests and the modem simulator."""
    on = np.arange(int(cadence.on * RATE)) / RATE
    burst = sum(np.sin(2 * np.pi * f * on) for f in cadence.freqs) * level / len(cadence.freqs)
    gap = np.zeros(int(cadence.off * RATE))
    return np.tile(np.concatenate([burst, gap]), cycles).astype(np.int16)
