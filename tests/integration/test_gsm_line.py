"""A call on the simulated GSM line (SIM7600 dialect on a pty, in the real daemon) rings
the registered SIPp phone with the caller's number; the phone answers, the line answers,
audio crosses modem PCM <-> AudioMediaPort <-> SIP both ways; the line hangs up and the
call record names the trunk and the number. A SIM7600 whose firmware refuses AT^DSCI=1
comes up degraded, and its calls still ring and end (noticed by polling +CLCC)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from tests.integration.conftest import BOB
from tests.integration.phone import AnsweringPhone, CallingPhone
from tests.support.daemon import Daemon, wait_until
from tests.support.rtp import tone_level


def test_inbound_gsm_call_rings_the_phone_and_bridges_audio(pbx: Daemon, tmp_path: Path) -> None:
    with AnsweringPhone(pbx, tmp_path, tone_hz=1300) as phone:
        # as a person would: pbx sim call, reaching the running daemon
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "89161234567", "--tone", "1000")
        wait_until(lambda: phone.audio.packets_in >= 100, timeout=15)
        time.sleep(1.0)
        assert tone_level(phone.audio.audio()[-8000:], 1000) > 0.3, "the phone did not hear the line"
        state = pbx.api("sim/gsm1?hz=1300")
        assert state["state"] == "active" and state["tone_level"] > 0.3, state
        # keys: the caller's tones are found in the PCM (SIM7600 does not report them) and
        # reach the phone as RFC 4733; the phone's go to the modem as AT+VTS
        pbx.pbx("sim", "dtmf", "--trunk", "gsm1", "39")
        assert wait_until(lambda: phone.audio.digits == ["3", "9"], timeout=10), phone.audio.digits
        phone.audio.send_digit("#", phone.event_pt())
        assert wait_until(lambda: pbx.api("sim/gsm1")["sent_dtmf"] == ["#"], timeout=10)
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        result = phone.finish()
        assert result.successful == 1, result.explain()
        assert "From: \"+79161234567\" <sip:+79161234567@" in phone.invite()  # E.164 of 8 916 ...
    record = pbx.last_call()
    assert (record["direction"], record["trunk"], record["caller"], record["callee"],
            record["disposition"]) == ("inbound", "gsm1", "+79161234567", BOB[0], "answered")


def test_the_phone_hanging_up_hangs_up_the_line(pbx: Daemon, tmp_path: Path) -> None:
    with AnsweringPhone(pbx, tmp_path, hangs_up_after_ms=2000) as phone:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+74951234567")
        assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15)
        result = phone.finish()
        assert result.successful == 1, result.explain()
    assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "idle", timeout=5), "the line stayed off-hook"
    record = pbx.last_call()
    assert (record["trunk"], record["caller"], record["disposition"]) == ("gsm1", "+74951234567", "answered")
    assert 1.5 < record["duration"] < 4


def test_outbound_call_through_the_gsm_line(pbx: Daemon, tmp_path: Path) -> None:
    from tests.integration.conftest import ALICE

    # the line initialises after the daemon is up
    wait_until(lambda: pbx.api("status")["lines"]["gsm1"]["state"] == "idle")
    with CallingPhone(pbx, tmp_path, dial="989161234567", tone_hz=700) as caller:
        wait_until(lambda: pbx.api("sim/gsm1")["state"] == "dialing")
        assert pbx.api("sim/gsm1")["dialed"] == ["89161234567"], pbx.log()[-3000:]  # the 9 is the way out
        pbx.api("sim/gsm1/answer", {"tone_hz": 1000})
        wait_until(lambda: caller.audio.packets_in >= 100)
        time.sleep(0.5)
        assert tone_level(caller.audio.audio()[-4000:], 1000) > 0.3, "the caller did not hear the line"
        assert pbx.api("sim/gsm1?hz=700")["tone_level"] > 0.3, "the line did not hear the caller"
        result = caller.finish()
        assert result.successful == 1, result.explain()
    time.sleep(0.5)
    assert pbx.api("sim/gsm1")["state"] == "idle"  # the caller's BYE hung up the line
    assert pbx.api("status")["lines"]["gsm1"]["in_call"] is False  # free for the next call at once
    record = pbx.last_call()
    assert (record["direction"], record["trunk"], record["caller"], record["callee"],
            record["disposition"]) == ("outbound", "gsm1", ALICE[0], "+79161234567", "answered")


def trunk(pbx: Daemon, name: str = "gsm1") -> dict:
    return next((t for t in pbx.api("trunks") if t["name"] == name), {})


def test_a_modem_refusing_dsci_comes_up_degraded_and_a_call_still_rings_and_ends(pbx: Daemon, tmp_path: Path) -> None:
    assert wait_until(lambda: trunk(pbx).get("state") == "idle", timeout=15)
    assert trunk(pbx)["degraded"] == []
    # other firmware: the simulated SIM7600 answers ERROR to AT^DSCI=1 from its next boot on
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "refuse", "--command", "AT^DSCI=1")
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "reset")
    assert wait_until(lambda: trunk(pbx).get("degraded") == ["call-state URC"] and trunk(pbx)["state"] == "idle",
                      timeout=15), trunk(pbx)
    listing = pbx.pbx("trunk", "list").stdout
    assert "WITHOUT" in listing and "call-state URC" in listing, listing
    assert json.loads(pbx.pbx("trunk", "list", "--json").stdout)[0]["degraded"] == ["call-state URC"]
    with AnsweringPhone(pbx, tmp_path) as phone:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "89161234567")
        assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15)
        time.sleep(1.5)  # the line polls the call list meanwhile: the call goes on
        assert pbx.api("status")["lines"]["gsm1"]["in_call"] is True
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")  # this firmware says nothing about it
        result = phone.finish()  # the BYE came: the poll noticed
        assert result.successful == 1, result.explain()
    record = pbx.last_call()
    assert (record["trunk"], record["caller"], record["disposition"]) == ("gsm1", "+79161234567", "answered")
    assert pbx.log().count("AT^DSCI=1 refused") == 1, "said once"


def test_a_modem_refusing_caller_id_stays_down_and_says_why(pbx: Daemon) -> None:
    assert wait_until(lambda: trunk(pbx).get("state") == "idle", timeout=15)
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "refuse", "--command", "AT+CLIP=1")
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "reset")
    reason = "AT+CLIP=1: refused (ERROR); the line needs it for caller ID"
    assert wait_until(lambda: trunk(pbx).get("problem") == reason, timeout=15), trunk(pbx)
    assert trunk(pbx)["state"] == "down" and trunk(pbx)["degraded"] == []
    assert reason in pbx.pbx("trunk", "list").stdout
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "accept")  # the next retry brings it up
    assert wait_until(lambda: trunk(pbx).get("state") == "idle", timeout=20), trunk(pbx)
    assert "problem" not in trunk(pbx)
