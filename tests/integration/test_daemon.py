"""The daemon's life: first start, CLI changes seen at once, systemd notify, and a clean
stop with a call up (calls hung up, exit code 0, no pjsua2 assertion)."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.integration.conftest import ALICE, BOB
from tests.support import sipp
from tests.support.daemon import Daemon, free_port
from tests.support.rawsip import Phone
from tests.support.rtp import RtpEndpoint


def test_first_start_prints_a_one_time_password_and_never_again(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data").start()
    assert daemon.first_password and len(daemon.first_password) >= 16
    assert daemon.stop() == 0
    again = Daemon(tmp_path / "data").start()
    assert again.first_password is None
    assert again.stop() == 0


def test_extension_added_while_running_registers_at_once(pbx: Daemon) -> None:
    pbx.pbx("ext", "add", "103", "--name", "Carol", "--password", "Carol-secret-7")
    phone = Phone(pbx.sip_port)
    assert phone.register("103", "Carol-secret-7").startswith(b"SIP/2.0 200 OK")
    pbx.pbx("ext", "del", "103")
    assert phone.register("103", "Carol-secret-7", cseq=10).startswith(b"SIP/2.0 401")


def test_weak_password_is_refused_with_a_reason(pbx: Daemon) -> None:
    res = pbx.pbx("ext", "add", "104", "--name", "Dan", "--password", "1234", check=False)
    assert res.returncode == 2 and "at least 10 characters" in res.stderr
    res = pbx.pbx("ext", "add", "104", "--name", "Dan", "--password", "", check=False)
    assert res.returncode == 2 and "empty" in res.stderr


def test_systemd_ready_and_watchdog(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    daemon = Daemon(tmp_path / "data", env={"NOTIFY_SOCKET": path}).start()
    try:
        got = {sock.recv(100).decode() for _ in range(2)}
        assert got == {"READY=1", "WATCHDOG=1"}
    finally:
        assert daemon.stop() == 0
        sock.close()


def test_sigterm_during_a_call_hangs_up_and_exits_cleanly(pbx: Daemon, tmp_path: Path) -> None:
    callee_port = free_port()
    csv = sipp.users_csv(tmp_path / "reg.csv", [BOB])
    assert sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=csv,
                                   local_port=callee_port), tmp_path).successful == 1
    a, b = RtpEndpoint(700).start(), RtpEndpoint(1300).start()
    uas = sipp.start(sipp.sipp_args("uas_call.xml", pbx.sip, csv=csv, local_port=callee_port,
                                    params={"RTPPORT": str(b.port)}), tmp_path)
    time.sleep(0.3)
    uac = sipp.start(sipp.sipp_args(
        "uac_call.xml", pbx.sip, csv=sipp.users_csv(tmp_path / "c.csv", [(*ALICE, BOB[0])]),
        local_port=free_port(), params={"RTPPORT": str(a.port)}), tmp_path)
    try:
        deadline = time.monotonic() + 10
        while b.packets_in < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert b.packets_in >= 20, "the call did not come up"
        assert pbx.stop(signal.SIGTERM) == 0
        assert "Assertion" not in pbx.log()
        # Both phones got a BYE from the appliance and finished their scenario.
        assert sipp.finish(uac, 30).successful == 1
        assert sipp.finish(uas, 30).successful == 1
    finally:
        a.stop()
        b.stop()
        for proc in (uac, uas):
            if proc.poll() is None:
                proc.kill()
    record = Daemon(pbx.data_dir).last_call()
    assert record["disposition"] == "answered"
    assert os.path.exists(pbx.data_dir / "calls.sqlite")


def test_sigterm_with_calls_ringing_and_abandoned_exits_cleanly(pbx: Daemon, tmp_path: Path) -> None:
    """Phones that vanish mid-call (SIPp killed) and a call still ringing at shutdown:
    the daemon still hangs everything up and exits 0 without a pjsua2 assertion."""
    ring_port, talk_port = free_port(), free_port()
    carol = ("103", "Carol-secret-7")
    pbx.pbx("ext", "add", carol[0], "--name", "Carol", "--password", carol[1])
    for user, port in ((BOB, ring_port), (carol, talk_port)):
        csv = sipp.users_csv(tmp_path / f"r{user[0]}.csv", [user])
        assert sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=csv, local_port=port),
                        tmp_path).successful == 1
    ringing = sipp.start(sipp.sipp_args("uas_ring.xml", pbx.sip, csv=tmp_path / "r102.csv",
                                        local_port=ring_port), tmp_path)
    b = RtpEndpoint(1300).start()
    talking = sipp.start(sipp.sipp_args("uas_call.xml", pbx.sip, csv=tmp_path / "r103.csv",
                                        local_port=talk_port, params={"RTPPORT": str(b.port)}), tmp_path)
    time.sleep(0.3)
    callers = [sipp.start(sipp.sipp_args(
        "uac_call.xml", pbx.sip, csv=sipp.users_csv(tmp_path / f"c{n}.csv", [(*ALICE, n)]),
        local_port=free_port(), params={"RTPPORT": str(free_port())}), tmp_path)
        for n in (BOB[0], carol[0])]
    try:
        deadline = time.monotonic() + 10
        while b.packets_in < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        callers[1].kill()  # the talking caller's phone dies without a BYE
        talking.kill()
        time.sleep(0.5)
        assert pbx.stop(signal.SIGTERM) == 0
        assert "Assertion" not in pbx.log()
    finally:
        b.stop()
        for proc in (*callers, ringing, talking):
            if proc.poll() is None:
                proc.kill()
