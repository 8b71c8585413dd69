"""The pty simulator runs inside a development daemon for days: what it keeps of each
call must not pile up (a soak run saw the daemon grow by megabytes a minute)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hardware.modem.simulator import CAPTURE_LIMIT, SimModem


def test_the_far_ends_unplayed_voice_ends_with_the_call(tmp_path: Path) -> None:
    for end in ("remote_hangup", "unplug", "pbx_hangs_up"):
        sim = SimModem("sim7600", directory=tmp_path / end)
        sim.inject_audio(np.zeros(8000 * 30, np.int16))  # `pbx sim call --tone`: 30 s of it
        sim.incoming_call("+79161234567")
        if end == "remote_hangup":
            sim.remote_hangup()
        elif end == "unplug":
            sim.fault("unplug")
        else:
            sim._reply("AT+CHUP", "AT+CHUP")
        assert sim.state == "idle" and len(sim._inject) == 0, end


def test_what_the_pbx_sent_is_kept_for_the_last_minute_only(tmp_path: Path) -> None:
    sim = SimModem("sim7600", directory=tmp_path)
    tone = (np.arange(CAPTURE_LIMIT // 2) % 100).astype("<i2")
    sim.capture(tone.tobytes())
    sim.capture(tone.tobytes())
    sim.capture(b"\x01\x00" * 10)
    captured = sim.captured_audio()
    assert len(captured) * 2 == CAPTURE_LIMIT
    assert list(captured[-10:]) == [1] * 10
