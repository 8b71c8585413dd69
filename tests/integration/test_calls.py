"""Two SIPp phones call each other through the real daemon: digest auth, ringing,
answer, audio both ways through the conference bridge, BYE from either side, the
call record written, and the refusals (404, 480, 486)."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ALICE, BOB
from tests.support import sipp
from tests.support.daemon import Daemon, free_port
from tests.support.rtp import RtpEndpoint, tone_level


def register(pbx: Daemon, tmp: Path, user: tuple[str, str], port: int) -> None:
    csv = sipp.users_csv(tmp / f"reg{user[0]}.csv", [user])
    res = sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=csv, local_port=port), tmp)
    assert res.returncode == 0 and res.successful == 1, res.explain()


def call(pbx: Daemon, tmp: Path, *, byefrom: str, hold_ms: int = 2500):
    callee_port, caller_port = free_port(), free_port()
    register(pbx, tmp, BOB, callee_port)
    a, b = RtpEndpoint(700).start(), RtpEndpoint(1300).start()
    try:
        uas = sipp.start(sipp.sipp_args(
            "uas_call.xml", pbx.sip, csv=sipp.users_csv(tmp / "uas.csv", [BOB]),
            local_port=callee_port, params={"RTPPORT": str(b.port)}, flags={f"{byefrom}_hangs_up"},
            extra=["-d", str(hold_ms)]), tmp)
        time.sleep(0.3)
        uac = sipp.run(sipp.sipp_args(
            "uac_call.xml", pbx.sip, csv=sipp.users_csv(tmp / "uac.csv", [(*ALICE, BOB[0])]),
            local_port=caller_port,
            params={"RTPPORT": str(a.port)}, flags={f"{byefrom}_hangs_up"},
            extra=["-d", str(hold_ms)]), tmp)
        uas_res = sipp.finish(uas, timeout=60)
    finally:
        a.stop()
        b.stop()
    assert uac.successful == 1 and uac.failed == 0, uac.explain() + pbx.log()[-2000:]
    assert uas_res.successful == 1 and uas_res.failed == 0, uas_res.explain()
    return a, b


@pytest.mark.parametrize("byefrom", ["caller", "callee"])
def test_call_with_audio_both_ways(pbx: Daemon, tmp_path: Path, byefrom: str) -> None:
    a, b = call(pbx, tmp_path, byefrom=byefrom)
    # Each phone hears the other's tone: audio crossed the bridge in both directions.
    assert a.packets_in > 50 and b.packets_in > 50, (a.packets_in, b.packets_in)
    assert tone_level(a.audio(), 1300) > 0.3, "caller did not hear the callee's tone"
    assert tone_level(b.audio(), 700) > 0.3, "callee did not hear the caller's tone"
    assert tone_level(a.audio(), 700) < 0.05, "caller hears itself"
    record = pbx.last_call()
    assert (record["caller"], record["callee"], record["disposition"]) == ("101", "102", "answered")
    assert 1.5 < record["duration"] < 6, record
    legs = record["details"]["legs"]
    assert legs["a"]["rx_packets"] > 50 and legs["b"]["rx_packets"] > 50, legs


def refused(pbx: Daemon, tmp: Path, number: str) -> str:
    port = free_port()
    csv = sipp.users_csv(tmp / "uac.csv", [ALICE])
    res = sipp.run(sipp.sipp_args("uac_reject.xml", pbx.sip, csv=csv, local_port=port,
                                  service=number, extra=["-trace_msg"]), tmp, timeout=60)
    trace = "".join(p.read_text() for p in tmp.glob("uac_reject*_messages.log"))
    for p in tmp.glob("uac_reject*_messages.log"):
        p.unlink()
    assert res.returncode == 0, res.explain()
    finals = re.findall(r"^SIP/2\.0 ([4-6]\d\d) ", trace, re.MULTILINE)
    return finals[-1] if finals else "none"


def test_unknown_unregistered_and_busy(pbx: Daemon, tmp_path: Path) -> None:
    assert refused(pbx, tmp_path, "555") == "404"
    assert pbx.last_call()["disposition"] == "unknown_number"
    assert refused(pbx, tmp_path, BOB[0]) == "480"  # Bob exists but has no phone registered
    assert pbx.last_call(2)["disposition"] == "unavailable"


def test_no_answer_after_ring_timeout(pbx: Daemon, tmp_path: Path) -> None:
    # Bob's phone rings but nobody picks up: CANCEL to the phone, 480 to the caller
    # after the ring timeout (4 s in this fixture).
    port = free_port()
    register(pbx, tmp_path, BOB, port)
    phone = sipp.start(sipp.sipp_args("uas_ring.xml", pbx.sip, csv=sipp.users_csv(
        tmp_path / "uas.csv", [BOB]), local_port=port), tmp_path)
    time.sleep(0.3)
    started = time.monotonic()
    assert refused(pbx, tmp_path, BOB[0]) == "480"
    assert 3.5 < time.monotonic() - started < 15
    ringing = sipp.finish(phone, timeout=30)
    assert ringing.successful == 1, ringing.explain()
    assert pbx.last_call()["disposition"] == "no_answer"


def test_busy_when_the_callee_is_in_a_call(pbx: Daemon, tmp_path: Path) -> None:
    carol = ("103", "Carol-secret-7")
    pbx.pbx("ext", "add", carol[0], "--name", "Carol", "--password", carol[1])
    callee_port = free_port()
    register(pbx, tmp_path, BOB, callee_port)
    a, b = RtpEndpoint(700).start(), RtpEndpoint(1300).start()
    uas = sipp.start(sipp.sipp_args(
        "uas_call.xml", pbx.sip, csv=sipp.users_csv(tmp_path / "uas.csv", [BOB]),
        local_port=callee_port, params={"RTPPORT": str(b.port)}), tmp_path)
    time.sleep(0.3)
    uac = sipp.start(sipp.sipp_args(
        "uac_call.xml", pbx.sip, csv=sipp.users_csv(tmp_path / "uac.csv", [(*ALICE, BOB[0])]),
        local_port=free_port(), params={"RTPPORT": str(a.port)}, flags={"caller_hangs_up"},
        extra=["-d", "4000"]), tmp_path)
    try:
        deadline = time.monotonic() + 10
        while b.packets_in < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        port = free_port()
        csv = sipp.users_csv(tmp_path / "carol.csv", [carol])
        res = sipp.run(sipp.sipp_args("uac_reject.xml", pbx.sip, csv=csv, local_port=port,
                                      service=BOB[0], extra=["-trace_msg"]), tmp_path)
        trace = "".join(p.read_text() for p in tmp_path.glob("uac_reject*_messages.log"))
        assert res.returncode == 0 and re.findall(r"^SIP/2\.0 (486) ", trace, re.MULTILINE), res.explain()
        assert sipp.finish(uac, 30).successful == 1
        assert sipp.finish(uas, 30).successful == 1
    finally:
        a.stop()
        b.stop()
    pbx.last_call(2)
    dispositions = sorted(r["disposition"] for r in json.loads(pbx.pbx("calls", "--json").stdout))
    assert dispositions == ["answered", "busy"]


def test_all_phones_of_the_callee_ring_and_the_first_to_answer_wins(pbx: Daemon, tmp_path: Path) -> None:
    desk, mobile = free_port(), free_port()
    register(pbx, tmp_path, BOB, desk)
    register(pbx, tmp_path, BOB, mobile)
    assert len([r for r in pbx.registrations() if r["ext"] == BOB[0]]) == 2
    b = RtpEndpoint(1300).start()
    a = RtpEndpoint(700).start()
    uas_csv = sipp.users_csv(tmp_path / "uas.csv", [BOB])
    ringing = sipp.start(sipp.sipp_args("uas_ring.xml", pbx.sip, csv=uas_csv, local_port=desk), tmp_path)
    answering = sipp.start(sipp.sipp_args("uas_call.xml", pbx.sip, csv=uas_csv, local_port=mobile,
                                          params={"RTPPORT": str(b.port)}), tmp_path)
    time.sleep(0.3)
    try:
        uac = sipp.run(sipp.sipp_args(
            "uac_call.xml", pbx.sip, csv=sipp.users_csv(tmp_path / "uac.csv", [(*ALICE, BOB[0])]),
            local_port=free_port(), params={"RTPPORT": str(a.port)}, flags={"caller_hangs_up"},
            extra=["-d", "1500"]), tmp_path)
        assert uac.successful == 1, uac.explain() + pbx.log()[-4000:]
        # The desk phone rang and then got a CANCEL when the mobile answered.
        assert sipp.finish(ringing, 30).successful == 1
        assert sipp.finish(answering, 30).successful == 1
    finally:
        a.stop()
        b.stop()
    record = pbx.last_call()
    assert record["disposition"] == "answered" and len(record["details"]["contacts"]) == 2


def test_status_shows_pjsua_calls_and_ports_back_at_idle(pbx: Daemon, tmp_path: Path) -> None:
    """GET /status carries what pjsua holds, so a soak run can watch it for leaks."""
    idle = pbx.api("status")["media"]
    assert idle["pjsua_calls"] == 0 and idle["conference_ports"] >= 1, idle
    call(pbx, tmp_path, byefrom="caller")
    pbx.last_call()
    assert pbx.api("status")["media"] == idle
