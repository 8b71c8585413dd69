"""A phone puts a line call on hold (re-INVITE a=sendonly) and takes it back (a=sendrecv):
meanwhile the caller hears the hold prompt instead of silence; afterwards the two hear
each other again, whatever the phone's re-INVITEs did to its stream, and the recording
goes on in one file."""
from __future__ import annotations

import time
from pathlib import Path

from hardware.dsp.tones import tone_level
from tests.integration.phone import AnsweringPhone
from tests.integration.test_recording import LINE_HZ, PHONE_HZ, answered_line_call, line_idle, ready_recording
from tests.support.daemon import Daemon, wait_until

TALK_MS, HOLD_MS = 2000, 3000


def test_a_held_caller_hears_the_hold_prompt_and_the_call_comes_back(pbx: Daemon, tmp_path: Path) -> None:
    pbx.pbx("config", "set", "recording_default", "always")
    time.sleep(6)
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    bob = AnsweringPhone(pbx, tmp_path, tone_hz=PHONE_HZ, scenario="uas_hold.xml", hangs_up_after_ms=TALK_MS,
                         params={"HOLDMS": str(HOLD_MS)})
    with bob:
        answered_line_call(pbx, bob)
        assert wait_until(lambda: pbx.api(f"sim/gsm1?hz={PHONE_HZ}")["tone_level"] > 0.2, timeout=5)
        time.sleep(TALK_MS / 1000 + 1.5)  # on hold for a while now
        held = pbx.api(f"sim/gsm1?hz={PHONE_HZ}&level=1500")
        assert held["rms"] > 300 and held["tone_level"] < 0.05, held  # "Please hold", not Bob
        time.sleep(HOLD_MS / 1000)  # taken back
        assert wait_until(lambda: pbx.api(f"sim/gsm1?hz={PHONE_HZ}")["tone_level"] > 0.2, timeout=5), \
            pbx.api(f"sim/gsm1?hz={PHONE_HZ}")
        assert tone_level(bob.audio.audio()[-4000:], LINE_HZ) > 0.2, "Bob does not hear the line again"
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert bob.finish().successful == 1
    record, rec = ready_recording(pbx)
    assert rec["status"] == "ready" and "stopped early" not in (rec.get("note") or ""), rec
    steps = [s["step"] for s in record["details"]["path"]]
    assert steps.count("hold") == 1 and steps.count("resume") == 1, record["details"]["path"]
