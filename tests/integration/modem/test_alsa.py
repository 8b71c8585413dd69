"""A sound card as a line's audio (SIM800's analog voice): arecord/aplay on an ALSA
device made of files carry 320-byte frames both ways."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hardware.modem.alsa import AlsaAudioPort
from tests.support.alsa import FileSoundCard
from tests.support.rtp import tone_level


def test_sound_card_frames_both_ways(tmp_path: Path, monkeypatch) -> None:
    card = FileSoundCard(tmp_path, tone_hz=1000)
    for key, value in card.env().items():
        monkeypatch.setenv(key, value)
    frames: list[bytes] = []
    port = AlsaAudioPort(card.device, frames.append)
    try:
        t = np.arange(160 * 50) / 8000
        speech = (6000 * np.sin(2 * np.pi * 700 * t)).astype("<i2").tobytes()
        for i in range(50):
            port.write(speech[i * 320:(i + 1) * 320])
        deadline = time.monotonic() + 5
        while (len(frames) < 25 or len(card.played()) < 4000) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        port.close()
    assert len(frames) >= 25 and {len(f) for f in frames} == {320}
    heard = np.frombuffer(b"".join(frames), "<i2")
    assert tone_level(heard, 1000) > 0.5
    played = card.played()
    assert len(played) >= 4000 and tone_level(played[:4000], 700) > 0.5  # the tail may be cut at close


def test_a_missing_sound_card_is_silence_not_a_crash(tmp_path: Path) -> None:
    frames: list[bytes] = []
    port = AlsaAudioPort("alsa:no-such-card", frames.append)
    port.write(bytes(320))
    time.sleep(0.5)
    port.write(bytes(320))  # aplay has exited: the write is dropped
    port.close()
    assert frames == []
