"""A USB sound card as a line's audio, for modules whose voice is analog (SIM800: MIC and
SPK pins wired to a sound card). alsa-utils' arecord and aplay move 8 kHz 16-bit mono raw
audio, in the same 320-byte frames as the PCM modems' ports. Configured as the trunk's
audio port `alsa:DEVICE`, e.g. `alsa:plughw:CARD=Device,DEV=0`."""
from __future__ import annotations

import logging
import os
import subprocess
import threading
from typing import Callable

from hardware.modem.audioport import FRAME_BYTES

log = logging.getLogger(__name__)
PREFIX = "alsa:"


def is_alsa(url: str | None) -> bool:
    return bool(url) and str(url).startswith(PREFIX)


class AlsaAudioPort:
    def __init__(self, url: str, on_frame: Callable[[bytes], None]) -> None:
        device = url[len(PREFIX):]
        # 100 ms of buffer: enough for a Pi's scheduling, short enough not to add echo delay
        fmt = ["-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "8000", "-c", "1", "--buffer-time=100000"]
        self.on_frame = on_frame
        self.capture = subprocess.Popen(["arecord", *fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.playback = subprocess.Popen(["aplay", *fmt], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self._running = True
        assert self.playback.stdin is not None
        self._out = self.playback.stdin.fileno()
        os.set_blocking(self._out, False)  # write() runs on pjmedia's clock thread: never wait
        threading.Thread(target=self._read, name=f"alsa-{device}", daemon=True).start()

    def write(self, frame: bytes) -> None:
        try:
            os.write(self._out, frame)
        except OSError:
            pass  # full (aplay stalled) or gone (card pulled out): this frame is dropped

    def _read(self) -> None:
        stdout = self.capture.stdout
        while self._running and stdout is not None:
            frame = stdout.read(FRAME_BYTES)
            if len(frame) < FRAME_BYTES:
                if self._running:
                    err = self.capture.stderr.read().decode(errors="replace").strip() if self.capture.stderr else ""
                    log.warning("sound card capture stopped: %s", err or "end of stream")
                return
            self.on_frame(frame)

    def close(self) -> None:
        self._running = False
        for proc in (self.capture, self.playback):
            proc.terminate()
        for proc in (self.capture, self.playback):
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
