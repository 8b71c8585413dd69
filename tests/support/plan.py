"""Dial plan test data shared by the REST, page and CLI tests: a small valid WAV and the
objects of a typical office plan (per docs/dialplan.md)."""
from __future__ import annotations

import io
import math
import struct
import wave


def tone_wav(seconds: float = 0.5, hz: float = 440.0, rate: int = 8000) -> bytes:
    """A WAV file of a sine tone: audio any converter reads."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                      for i in range(int(rate * seconds)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def ring_group(id: str = "sales", **fields: object) -> dict:
    return {"id": id, "name": "Sales", "number": "600", "strategy": "hunt", "members": ["101", "102"],
            "ring_time": 15, "total_time": 45, "name_prefix": "Sales: ", "no_answer": "hangup", **fields}


def ivr(id: str = "main", **fields: object) -> dict:
    return {"id": id, "name": "Main menu", "prompt": "system-hold-en", "keys": {"1": "ringgroup:sales"},
            "timeout_destination": "ringgroup:sales", "invalid_destination": "hangup", **fields}
