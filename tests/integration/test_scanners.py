"""Scanners are banned, not only password guessers: SIPVicious from a second loopback
address, a source that is challenged 100 times without logging in, and the owner's allow
list, against the real daemon; `pbx bans` and /api/v1/bans list and lift the bans."""
from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

from tests.integration.conftest import ALICE, BOB
from tests.integration.test_calls import call
from tests.support.daemon import Daemon
from tests.support.rawsip import Phone
from tests.support.sipvicious import svwar


def register_without_auth(daemon: Daemon, source: str, user: str = "101") -> bytes | None:
    """One REGISTER that never answers its challenge; the reply, or None when dropped."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(0.5)
        port = sock.getsockname()[1]
        sock.sendto((f"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {source}:{port};branch=z9hG4bK"
                     f"{uuid.uuid4().hex[:10]};rport\r\nFrom: <sip:{user}@127.0.0.1>;tag=s\r\n"
                     f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {uuid.uuid4().hex}\r\nCSeq: 1 REGISTER\r\n"
                     "User-Agent: Grandstream GXP1625\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                     ).encode(), ("127.0.0.1", daemon.sip_port))
        try:
            return sock.recv(65536)
        except socket.timeout:
            return None


def bans(daemon: Daemon) -> dict[str, str]:
    listed = json.loads(daemon.pbx("bans", "list", "--json").stdout)
    return {b["address"]: b["reason"] for b in listed}


def test_svwar_finds_nothing_is_banned_and_the_lan_phone_still_calls(pbx: Daemon, tmp_path: Path) -> None:
    output = svwar("127.0.0.2", pbx.sip_port)
    assert "found nothing" in output, output
    assert "101" not in output and "102" not in output, output  # no extension found
    assert "scanner User-Agent 'friendly-scanner'" in bans(pbx)["127.0.0.2"]
    assert register_without_auth(pbx, "127.0.0.2") is None  # banned: nothing answers
    phone = Phone(pbx.sip_port)  # the LAN phone on 127.0.0.1 is not touched
    assert phone.register(*ALICE).startswith(b"SIP/2.0 200 OK")
    phone.close()
    call(pbx, tmp_path, byefrom="caller")
    assert pbx.log().count("127.0.0.2 banned") == 1, "each ban is logged once"


def test_challenges_never_answered_ban_the_source_and_the_owner_lifts_it(pbx: Daemon) -> None:
    answers = [register_without_auth(pbx, "127.0.0.3") for _ in range(101)]
    assert all(a is not None and a.startswith(b"SIP/2.0 401") for a in answers[:100])
    assert answers[100] is None
    assert bans(pbx)["127.0.0.3"] == "100 challenges in 60 s without a login"
    assert pbx.api("status")["edge"]["scanner_bans"] == 1
    out = pbx.pbx("bans", "list").stdout
    assert "127.0.0.3" in out and "REASON" in out
    assert pbx.pbx("bans", "clear", "127.0.0.3").stdout.strip() == "1 ban(s) lifted"
    assert bans(pbx) == {}
    assert register_without_auth(pbx, "127.0.0.3").startswith(b"SIP/2.0 401")
    assert pbx.pbx("bans", "clear", "127.0.0.9", check=False).returncode == 2  # not banned


def test_the_allow_list_is_never_banned_as_a_scanner_only_for_failed_passwords(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("ext", "add", BOB[0], "--name", "Bob", "--password", BOB[1])
    daemon.pbx("config", "set", "sip_allow_networks", "127.0.0.4/32")
    assert daemon.pbx("config", "set", "sip_allow_networks", "10.0.0.0/33", check=False).returncode == 2
    daemon.start()
    try:
        for _ in range(150):
            assert register_without_auth(daemon, "127.0.0.4", user="102") is not None
        svwar("127.0.0.4", daemon.sip_port, "100-105", seconds=3)
        assert "127.0.0.4" not in bans(daemon)
        phone = Phone(daemon.sip_port, source="127.0.0.4")
        for i in range(10):
            reply = phone.register(BOB[0], f"Guess-number-{i}", cseq=10 * i + 1)
            assert reply.startswith(b"SIP/2.0 401")
        assert "failed passwords" in bans(daemon)["127.0.0.4"]
        # The REST bridge lifts every ban at once.
        import urllib.request
        token = daemon.pbx("token", "create", "bans-test", "--scope", "admin").stdout.split()[0]
        req = urllib.request.Request(f"{daemon.url}/api/v1/bans", method="DELETE",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read()) == {"lifted": 1}
        assert bans(daemon) == {}
    finally:
        assert daemon.stop() == 0


def test_the_user_agent_rule_can_be_turned_off(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("config", "set", "sip_ban_scanners", "off")
    daemon.start()
    try:
        svwar("127.0.0.5", daemon.sip_port, "100-102", seconds=3)
        assert "127.0.0.5" not in bans(daemon)
    finally:
        assert daemon.stop() == 0
