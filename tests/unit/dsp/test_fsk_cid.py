"""FSK caller ID: both modulations, both message formats, withheld numbers, noise, and
a damaged message refused by its checksum."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.dsp.fsk_cid import MDMF, SDMF, CallerIdInfo, ChecksumError, build_message, decode, modulate, parse_message

CALLER = CallerIdInfo(number="74951234567", name="OOO ROMASHKA", datetime="11241530")


def line(message: bytes, standard: str, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    signal = np.concatenate([np.zeros(900), modulate(message, standard), np.zeros(400)]).astype(float)
    signal += np.random.default_rng(seed).normal(0, noise, len(signal)) if noise else 0
    return np.clip(signal, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("standard", ["bell202", "v23"])
def test_mdmf_round_trip_with_noise(standard: str) -> None:
    assert decode(line(build_message(CALLER, MDMF), standard), standard) == CALLER
    assert decode(line(build_message(CALLER, MDMF), standard, noise=800, seed=3), standard) == CALLER


@pytest.mark.parametrize("standard", ["bell202", "v23"])
def test_sdmf_round_trip(standard: str) -> None:
    info = CallerIdInfo(number="4951234567", datetime="01020304")
    assert decode(line(build_message(info, SDMF), standard), standard) == info


@pytest.mark.parametrize("absent", ["private", "unavailable"])
def test_withheld_numbers(absent: str) -> None:
    info = CallerIdInfo(datetime="11241530", absent=absent)
    for fmt in (SDMF, MDMF):
        assert decode(line(build_message(info, fmt), "bell202")) == info


def test_corrupted_checksum_is_refused() -> None:
    message = bytearray(build_message(CALLER, MDMF))
    message[5] ^= 0x01  # one flipped bit in the number
    with pytest.raises(ChecksumError):
        parse_message(bytes(message))
    with pytest.raises(ChecksumError):
        decode(line(bytes(message), "bell202"))


def test_no_message_in_silence_or_speech_like_noise() -> None:
    assert decode(np.zeros(8000, np.int16)) is None
    noise = np.random.default_rng(5).normal(0, 3000, 16000).astype(np.int16)
    assert decode(noise) is None
