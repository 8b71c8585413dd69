"""An ALSA device made of files, standing in for a USB sound card: what is captured comes
from a raw file (a tone), what is played lands in another. ALSA_CONFIG_PATH points the
tools (and a daemon started with env()) at it."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class FileSoundCard:
    def __init__(self, workdir: Path, tone_hz: float, seconds: float = 60.0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.mic = workdir / "mic.raw"  # what the far end says, heard by the card
        self.speaker = workdir / "speaker.raw"  # what the PBX plays to the far end
        t = np.arange(int(8000 * seconds)) / 8000
        self.mic.write_bytes((6000 * np.sin(2 * np.pi * tone_hz * t)).astype("<i2").tobytes())
        self.config = workdir / "asound.conf"
        self.config.write_text(f"""
pcm.rx {{ type file; slave.pcm null; file "/dev/null"; infile "{self.mic}"; format raw }}
pcm.tx {{ type file; slave.pcm null; file "{self.speaker}"; format raw }}
pcm.card {{ type asym; capture.pcm "rx"; playback.pcm "tx" }}
""")
        self.device = "alsa:card"

    def env(self) -> dict[str, str]:
        return {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{self.config}"}

    def apply(self) -> None:
        os.environ.update(self.env())

    def played(self) -> np.ndarray:
        data = self.speaker.read_bytes() if self.speaker.exists() else b""
        return np.frombuffer(data[: len(data) // 2 * 2], "<i2")
