"""Calls recorded on the real daemon: a simulated GSM call (1 kHz from the line) answered by
a SIPp phone (440 Hz from its RTP) is recorded whole under the "always" policy; after the
hang-up the worker compresses it, and the file sox decodes lasts the call's talk time
within 0.1 s and holds both tones. On demand, *1 from the phone records from the key on;
neither key reaches the line. A call whose policy is "never" is not recorded, says why, and
*1 on it is just two keys for the line"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

from hardware.dsp.tones import tone_level
from tests.integration.phone import AnsweringPhone
from tests.support.daemon import Daemon, wait_until

LINE_HZ, PHONE_HZ = 1000, 440


def line_idle(pbx: Daemon) -> bool:
    return pbx.api("status")["lines"]["gsm1"]["state"] == "idle"


def decoded(path: Path, channel: int = 0) -> np.ndarray:
    """The file as sox decodes it: 8 kHz mono 16-bit samples (both channels mixed, or one)."""
    pick = ["remix", str(channel)] if channel else []
    raw = subprocess.run(["sox", str(path), "-t", "raw", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", "-",
                          *pick], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2")


def level(samples: np.ndarray, hz: float) -> float:
    """A tone's share in 0.1 s windows (the median): a jitter buffer's dropped or repeated
    frame breaks a tone's phase, not its presence."""
    windows = [samples[i:i + 800] for i in range(0, len(samples) - 800, 800)]
    return float(np.median([tone_level(w, hz) for w in windows]))


def ready_recording(pbx: Daemon, count: int = 1, timeout: float = 30) -> tuple[dict, dict]:
    """The newest call record once its recording is compressed, and that recording."""
    def ready() -> bool:
        rec = pbx.last_call(count)["details"].get("recording") or {}
        return rec.get("status") in ("ready", "failed")
    assert wait_until(ready, timeout=timeout, every=0.5), pbx.last_call(count)
    record = pbx.last_call(count)
    return record, record["details"]["recording"]


def answered_line_call(pbx: Daemon, phone: AnsweringPhone) -> None:
    pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+79161234567", "--tone", str(LINE_HZ))
    assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15), pbx.log()[-2000:]
    assert wait_until(lambda: len(phone.audio.received) > 25, timeout=5)  # the bridge is up


def test_an_always_recorded_line_call_holds_both_sides_for_its_talk_time(pbx: Daemon, tmp_path: Path) -> None:
    pbx.pbx("config", "set", "recording_default", "always")
    time.sleep(6)  # the daemon re-reads its settings every 5 s
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    with AnsweringPhone(pbx, tmp_path, tone_hz=PHONE_HZ) as phone:
        answered_line_call(pbx, phone)
        time.sleep(4)
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert phone.finish().successful == 1
    record, rec = ready_recording(pbx)
    assert record["disposition"] == "answered" and rec["status"] == "ready", rec
    assert rec["format"] == "ogg" and rec["path"].endswith(f"{record['id']}.ogg"), rec
    policy = record["details"]["recording_policy"]
    assert (policy["mode"], policy["source"]) == ("always", "default"), policy
    path = pbx.data_dir / rec["path"]
    assert path.stat().st_mode & 0o777 == 0o600 and not path.with_suffix(".wav").exists()
    samples = decoded(path)
    seconds = len(samples) / 8000
    assert abs(seconds - record["duration"]) <= 0.1, (seconds, record["duration"])
    assert abs(rec["duration"] - seconds) <= 0.05, (rec, seconds)
    talk = samples[8000:-8000]  # both parties speak all along
    assert level(talk, LINE_HZ) > 0.2 and level(talk, PHONE_HZ) > 0.2, (level(talk, LINE_HZ), level(talk, PHONE_HZ))
    assert rec["size"] == path.stat().st_size and rec["size"] / (seconds / 60) < 0.15e6
    listed = pbx.pbx("recordings", "list", "--json").stdout
    assert record["id"] in listed


def test_star_one_records_from_the_key_on(pbx: Daemon, tmp_path: Path) -> None:
    assert wait_until(lambda: line_idle(pbx), timeout=20)  # on demand: the default policy
    with AnsweringPhone(pbx, tmp_path, tone_hz=PHONE_HZ) as phone:
        answered_line_call(pbx, phone)
        time.sleep(1.0)
        assert pbx.api("calls/active")[0]["state"] == "answered"
        pt = phone.event_pt()
        phone.audio.send_digit("*", pt)
        phone.audio.send_digit("1", pt)
        pressed = time.time()
        time.sleep(3)
        sent = pbx.api("sim/gsm1")["sent_dtmf"]
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert phone.finish().successful == 1
    assert sent == [], f"a key of *1 went out to the line: {sent}"
    record, rec = ready_recording(pbx)
    policy = record["details"]["recording_policy"]
    assert rec["status"] == "ready" and policy["mode"] == "on_demand", (rec, policy)
    start = policy["spans"][0][0]
    # from the key on (its packets take ~0.2 s), not from the answer
    assert abs(record["answer"] + start - pressed) < 0.5, (record["answer"] + start, pressed)
    seconds = len(decoded(pbx.data_dir / rec["path"])) / 8000
    assert abs(seconds - (record["duration"] - start)) <= 0.1, (seconds, record["duration"], start)
    assert 2.5 < seconds < 3.5


def test_a_call_nobody_records_says_why(pbx: Daemon, tmp_path: Path) -> None:
    pbx.pbx("config", "set", "recording_default", "never")
    time.sleep(6)
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    with AnsweringPhone(pbx, tmp_path, tone_hz=PHONE_HZ) as phone:
        answered_line_call(pbx, phone)
        phone.audio.send_digit("*", phone.event_pt())
        phone.audio.send_digit("1", phone.event_pt())
        # never recorded: *1 is no feature code on this call, the keys go on to the line
        assert wait_until(lambda: "".join(pbx.api("sim/gsm1")["sent_dtmf"]) == "*1", timeout=5), \
            pbx.api("sim/gsm1")
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert phone.finish().successful == 1
    record = pbx.last_call()
    assert "recording" not in record["details"]
    policy = record["details"]["recording_policy"]
    assert (policy["mode"], policy["source"]) == ("never", "default") and "spans" not in policy, policy
    assert not list((pbx.data_dir / "recordings").rglob(f"{record['id']}.*"))


def test_the_recording_notice_plays_to_the_caller_before_the_bridge(pbx: Daemon, tmp_path: Path) -> None:
    pbx.pbx("config", "set", "recording_default", "always")
    pbx.pbx("config", "set", "recording_announcement", "en")
    time.sleep(6)
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    with AnsweringPhone(pbx, tmp_path, tone_hz=PHONE_HZ) as phone:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+79161234567", "--tone", str(LINE_HZ))
        assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15), pbx.log()[-2000:]
        time.sleep(0.8)
        heard = pbx.api(f"sim/gsm1?hz={PHONE_HZ}&level=600")
        assert heard["rms"] > 300 and heard["tone_level"] < 0.05, heard  # the notice, not yet Bob
        assert wait_until(lambda: pbx.api(f"sim/gsm1?hz={PHONE_HZ}")["tone_level"] > 0.2, timeout=5)
        time.sleep(2)
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert phone.finish().successful == 1
    record, rec = ready_recording(pbx)
    assert [s for s in record["details"]["path"] if s["step"] == "recording_notice"], record["details"]["path"]
    start = record["details"]["recording_policy"]["spans"][0][0]
    assert start > 1.0, start  # recorded from the bridge, after the notice
    seconds = len(decoded(pbx.data_dir / rec["path"])) / 8000
    assert abs(seconds - (record["duration"] - start)) <= 0.1, (seconds, record["duration"], start)
