"""A GSM modem's PCM port (SIM7600 / EC25 / Huawei): 20 ms frames of 8 kHz 16-bit mono
in and out, on a serial device of its own."""
from __future__ import annotations

import threading
from typing import Callable

import serial

FRAME_BYTES = 320


class AudioPort:
    """The modem's PCM port: 20 ms frames of 8 kHz 16-bit mono in and out."""

    def __init__(self, url: str, on_frame: Callable[[bytes], None]) -> None:
        # write_timeout: write() runs on pjmedia's clock thread, which must never wait on a
        # modem that stopped draining (the frame is dropped instead)
        self.serial = serial.serial_for_url(url, baudrate=115200, timeout=0.05, write_timeout=0.02)
        self.on_frame = on_frame
        self._running = True
        threading.Thread(target=self._read, name="modem-audio", daemon=True).start()

    def write(self, frame: bytes) -> None:
        try:
            self.serial.write(frame)
        except Exception:
            pass  # the AT side notices a lost device and tears the line down

    def _read(self) -> None:
        buffer = b""
        while self._running:
            try:
                buffer += self.serial.read(FRAME_BYTES)
            except Exception:
                return
            while len(buffer) >= FRAME_BYTES:
                frame, buffer = buffer[:FRAME_BYTES], buffer[FRAME_BYTES:]
                self.on_frame(frame)

    def close(self) -> None:
        self._running = False
        try:
            self.serial.close()
        except Exception:
            pass
