"""Busy and congestion cadences per country, dial tone, silence; speech-like noise and
the wrong country's cadence give nothing."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.dsp.tones import COUNTRIES, ToneDetector, cadence_signal


def kinds(country: str, signal: np.ndarray, chunk: int = 333) -> list[str]:
    det = ToneDetector(country)
    out = []
    for i in range(0, len(signal), chunk):
        out += [e.kind for e in det.feed(signal[i:i + chunk])]
    return out


@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_busy_and_congestion_after_three_cycles(country: str) -> None:
    plan = COUNTRIES[country]
    assert kinds(country, cadence_signal(plan.busy, 4)) == ["busy"]
    assert kinds(country, cadence_signal(plan.congestion, 4)) == ["congestion"]
    assert kinds(country, cadence_signal(plan.busy, 2)) == []  # not enough cycles yet


def test_cadence_with_line_noise() -> None:
    signal = cadence_signal(COUNTRIES["RU"].busy, 5).astype(float)
    signal += np.random.default_rng(1).normal(0, 400, len(signal))
    assert kinds("RU", signal.astype(np.int16)) == ["busy"]


def test_the_wrong_cadence_is_not_busy() -> None:
    # European busy (0.5/0.5) on a Russian line (0.35/0.35) is neither busy nor congestion.
    assert kinds("RU", cadence_signal(COUNTRIES["EU"].busy, 5)) == []


def test_dial_tone_and_silence() -> None:
    t = np.arange(8000 * 2) / 8000
    assert kinds("RU", (3000 * np.sin(2 * np.pi * 425 * t)).astype(np.int16)) == ["dial"]
    det = ToneDetector("RU", silence_after=1.0)
    assert [e.kind for e in det.feed(np.zeros(8000 * 2, np.int16))] == ["silence"]


def test_noise_is_no_tone() -> None:
    noise = np.random.default_rng(2).normal(0, 3000, 8000 * 5).astype(np.int16)
    assert kinds("RU", noise) == []


def test_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no tone plan for XX"):
        ToneDetector("XX")
