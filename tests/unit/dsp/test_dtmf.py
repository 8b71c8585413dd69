"""DTMF detector at the edges of its spec: every key, +-1.5 % detected and +-3.5 %
rejected, 40 ms detected and 20 ms rejected, twist 8 dB normal / 4 dB reverse, noise at
15 dB S/N, one event per press, fed in odd-sized pieces."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.dsp.dtmf import DtmfDetector, dtmf_tone

KEYS = "0123456789*#ABCD"
GAP = np.zeros(800, np.int16)


def detect(signal: np.ndarray, chunk: int = 160) -> str:
    det = DtmfDetector()
    out = []
    for i in range(0, len(signal), chunk):
        out += [e.digit for e in det.feed(signal[i:i + chunk])]
    return "".join(out)


def press(digit: str, seconds: float, **kw) -> np.ndarray:
    return np.concatenate([GAP, dtmf_tone(digit, seconds, **kw), GAP])


def noisy(signal: np.ndarray, tone_power: float, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, np.sqrt(tone_power / 10 ** (snr_db / 10)), len(signal))
    return np.clip(signal + noise, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("offset", [0.0, 0.015, -0.015])
def test_every_key_inside_the_frequency_tolerance(offset: float) -> None:
    for key in KEYS:
        assert detect(press(key, 0.040, freq_offset=offset)) == key, (key, offset)


@pytest.mark.parametrize("offset", [0.035, -0.035, 0.05])
def test_no_key_outside_the_frequency_tolerance(offset: float) -> None:
    for key in KEYS:
        assert detect(press(key, 0.060, freq_offset=offset)) == "", (key, offset)


def test_duration_limits() -> None:
    for key in KEYS:
        assert detect(press(key, 0.040)) == key
        assert detect(press(key, 0.020)) == ""


@pytest.mark.parametrize("twist, detected", [(8, True), (-4, True), (12, False), (-8, False)])
def test_twist_limits(twist: float, detected: bool) -> None:
    for key in KEYS:
        assert (detect(press(key, 0.050, twist_db=twist)) == key) is detected, (key, twist)


def test_noise_at_15_db_with_offset_and_twist() -> None:
    for i, key in enumerate(KEYS):
        tone = press(key, 0.040, freq_offset=0.015, twist_db=8, level=6000)
        assert detect(noisy(tone.astype(float), 6000 ** 2 * 0.58, 15, seed=i)) == key


def test_a_sequence_is_one_event_per_press_whatever_the_chunking() -> None:
    digits = "19#0*5"
    signal = np.concatenate([press(d, 0.07) for d in digits])
    assert detect(signal, chunk=37) == digits
    assert detect(signal, chunk=4000) == digits
    # a 10 ms dropout inside a long press does not make two presses
    long = press("7", 0.2)
    long[800 + 600:800 + 680] = 0
    assert detect(long) == "7"


def test_bytes_input_and_event_times() -> None:
    det = DtmfDetector()
    events = det.feed(press("3", 0.1).astype("<i2").tobytes())
    assert [e.digit for e in events] == ["3"]
    assert 0.1 < events[0].seconds < 0.16  # confirmed ~30 ms into the press at 0.1 s


def test_the_same_key_twice_with_a_40_ms_pause_is_two_presses() -> None:
    pause = np.zeros(320, np.int16)
    signal = np.concatenate([GAP, dtmf_tone("5", 0.05), pause, dtmf_tone("5", 0.05), GAP])
    assert detect(signal) == "55"
