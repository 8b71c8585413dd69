"""The FXO line in the running daemon: a simulated USR5637 voice modem on an analog line,
configured with `pbx trunk add ... --type fxo --port sim`. A call from a local number
rings the SIPp phone with the number in E.164 (the line's area code added), audio crosses
both ways through the 8-bit DLE stream, keys cross both ways, and the far end hanging up
(heard only as the busy tone) ends the call. An outbound call dials through it."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.conftest import BOB
from tests.integration.phone import AnsweringPhone, CallingPhone
from tests.support.daemon import Daemon, wait_until
from tests.support.rtp import tone_level


@pytest.fixture
def fxo(pbx: Daemon) -> Daemon:
    pbx.pbx("trunk", "add", "fxo1", "--type", "fxo", "--port", "sim", "--area-code", "495")
    pbx.pbx("trunk", "del", "gsm1")
    assert wait_until(lambda: pbx.api("status")["lines"].get("fxo1", {}).get("state") == "idle"
                      and "gsm1" not in pbx.api("status")["lines"], timeout=15), pbx.api("status")
    return pbx


def test_inbound_fxo_call_audio_dtmf_and_busy_tone_hangup(fxo: Daemon, tmp_path: Path) -> None:
    with AnsweringPhone(fxo, tmp_path, tone_hz=1300) as phone:
        fxo.pbx("sim", "call", "--trunk", "fxo1", "--from", "1234567", "--tone", "1000")
        assert wait_until(lambda: phone.audio.packets_in >= 100, timeout=20)
        time.sleep(1.0)
        assert tone_level(phone.audio.audio()[-8000:], 1000) > 0.3, "the phone did not hear the line"
        assert fxo.api("sim/fxo1?hz=1300")["tone_level"] > 0.3, "the line did not hear the phone"
        assert 'From: "+74951234567" <sip:+74951234567@' in phone.invite()  # local number + area code

        fxo.pbx("sim", "dtmf", "--trunk", "fxo1", "42")  # DLE digit codes from the modem
        assert wait_until(lambda: phone.audio.digits == ["4", "2"], timeout=10), phone.audio.digits
        phone.audio.send_digit("7", phone.event_pt())  # in-band tone onto the analog line
        assert wait_until(lambda: "7" in fxo.api("sim/fxo1")["sent_dtmf"], timeout=10), fxo.api("sim/fxo1")

        fxo.pbx("sim", "hangup", "--trunk", "fxo1")  # the far end hangs up: busy tone
        result = phone.finish(timeout=20)
        assert result.successful == 1, result.explain()
    assert wait_until(lambda: fxo.api("sim/fxo1")["state"] == "idle" and not fxo.api("sim/fxo1")["off_hook"])
    record = fxo.last_call()
    assert (record["direction"], record["trunk"], record["caller"], record["callee"],
            record["disposition"]) == ("inbound", "fxo1", "+74951234567", BOB[0], "answered")


def test_outbound_call_through_the_fxo_line(fxo: Daemon, tmp_path: Path) -> None:
    with CallingPhone(fxo, tmp_path, dial="91234567", tone_hz=700) as caller:
        assert wait_until(lambda: fxo.api("sim/fxo1")["dialed"] == ["1234567"], timeout=10), fxo.api("sim/fxo1")
        fxo.api("sim/fxo1/answer", {"tone_hz": 1000})
        assert wait_until(lambda: caller.audio.packets_in >= 100)
        time.sleep(1.0)
        assert tone_level(caller.audio.audio()[-4000:], 1000) > 0.3, "the caller did not hear the line"
        assert fxo.api("sim/fxo1?hz=700")["tone_level"] > 0.3, "the line did not hear the caller"
        result = caller.finish()
        assert result.successful == 1, result.explain()
    assert wait_until(lambda: not fxo.api("sim/fxo1")["off_hook"], timeout=5), "the line stayed off-hook"
    assert fxo.api("status")["lines"]["fxo1"]["in_call"] is False  # free for the next call at once
    record = fxo.last_call()
    assert (record["direction"], record["trunk"], record["callee"], record["disposition"]) == (
        "outbound", "fxo1", "+74951234567", "answered")
