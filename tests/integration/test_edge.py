"""The SIP edge of the real daemon: registration with real SIPp clients and digest auth,
OPTIONS, bans, and bad input over UDP and TCP that never stops it serving."""
from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.integration.conftest import ALICE, BOB
from tests.support import sipp
from tests.support.daemon import Daemon, free_port
from tests.support.rawsip import Phone

GOOD_HEADERS = ("Via: SIP/2.0/{t} 127.0.0.1:{p};branch=z9hG4bKbad1;rport\r\nFrom: <sip:x@y>;tag=1\r\n"
                "To: <sip:x@y>\r\nCall-ID: bad-{n}\r\nCSeq: 1 OPTIONS\r\n")


def test_sipp_registers_many_phones_with_digest_auth(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    users = [(str(200 + i), f"Phone-pass-{i:03d}") for i in range(20)]
    for number, password in users:
        daemon.pbx("ext", "add", number, "--name", f"Phone {number}", "--password", password)
    daemon.start()
    try:
        csv = sipp.users_csv(tmp_path / "users.csv", users)
        res = sipp.run(sipp.sipp_args("call_register.xml", daemon.sip, csv=csv,
                                      local_port=free_port(), calls=20, rate=50), tmp_path)
        assert res.successful == 20 and res.failed == 0, res.explain()
        assert {r["ext"] for r in daemon.registrations()} == {u for u, _ in users}
        bad = sipp.users_csv(tmp_path / "bad.csv", [("200", "Wrong-pass-999")])
        res = sipp.run(sipp.sipp_args("call_register.xml", daemon.sip, csv=bad,
                                      local_port=free_port(), timeout_s=5), tmp_path)
        assert res.successful == 0, "a wrong password must not register"
    finally:
        assert daemon.stop() == 0


def test_register_over_udp_and_tcp_and_the_401s(pbx: Daemon) -> None:
    for transport in ("UDP", "TCP"):
        phone = Phone(pbx.sip_port, transport)
        assert phone.register(*ALICE).startswith(b"SIP/2.0 200 OK"), transport
        phone.close()
    phone = Phone(pbx.sip_port)
    wrong = phone.register(ALICE[0], "Wrong-pass-123")
    unknown = phone.register("777", "Whatever-pass-1")
    assert wrong.startswith(b"SIP/2.0 401") and unknown.startswith(b"SIP/2.0 401")
    # Byte for byte the same but for what differs per request anyway: the nonce, the
    # To tag and the Call-ID/branch/tag the phone chose, and the Date.
    def normalise(reply: bytes) -> bytes:
        reply = re.sub(rb'nonce="[^"]+"', b"NONCE", reply)
        reply = re.sub(rb"tag=[^;\r\n]+|branch=[^;\r\n]+|Call-ID: \S+|Date: [^\r]+", b"X", reply)
        return re.sub(rb"sip:(101|777)@", b"sip:USER@", reply)
    assert normalise(wrong) == normalise(unknown)
    phone.close()


def test_options_answered_by_the_edge(pbx: Daemon) -> None:
    phone = Phone(pbx.sip_port)
    phone.send(("OPTIONS sip:127.0.0.1 SIP/2.0\r\n" + GOOD_HEADERS.format(t="UDP", p=phone.port, n=0)
                + "Content-Length: 0\r\n\r\n").encode())
    reply = phone.recv()
    assert reply.startswith(b"SIP/2.0 200 OK") and b"Allow: INVITE" in reply
    assert b"rport=%d" % phone.port in reply  # RFC 3581: the port it really came from


def bad_inputs(t: str, port: int) -> list[tuple[str, bytes, bytes | None]]:
    """(name, bytes, the answer's start over UDP or None when dropped)."""
    good = GOOD_HEADERS.format(t=t, p=port, n=1)

    def options(headers: str, uri: str = "sip:127.0.0.1") -> bytes:
        return f"OPTIONS {uri} SIP/2.0\r\n{headers}Content-Length: 0\r\n\r\n".encode()
    return [
        ("malformed start line", ("GARBAGE sip SIP/9\r\n" + good + "\r\n").encode(),
         b"SIP/2.0 400 Bad SIP-Version"),
        ("no start line", ("sip:x\r\n" + good + "\r\n").encode(), None),
        ("missing headers", b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n",
         b"SIP/2.0 400 Bad From"),
        ("bad CSeq", options(good.replace("CSeq: 1 OPTIONS", "CSeq: one")), b"SIP/2.0 400 Bad CSeq"),
        ("CSeq method differs", options(good.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")),
         b"SIP/2.0 400 Bad CSeq"),
        ("CSeq not below 2**31", options(good.replace("CSeq: 1", "CSeq: 2147483648")), b"SIP/2.0 400 Bad CSeq"),
        ("Max-Forwards not a number", options(good + "Max-Forwards: many\r\n"),
         b"SIP/2.0 400 Bad Max-Forwards"),
        ("no scheme", options(good, "127.0.0.1"), b"SIP/2.0 400 Bad Request-URI"),
        ("scheme not served", options(good, "mailto:someone@example.com"), b"SIP/2.0 416"),
        ("bad From", options(good.replace("<sip:x@y>;tag=1", "<sip:x@y;tag=1")), b"SIP/2.0 400 Bad From"),
        ("bad Call-ID", options(good.replace("Call-ID: bad-1", "Call-ID: bad 1")), b"SIP/2.0 400 Bad Call-ID"),
        ("NUL in a value", options(good + "Subject: a\x00b\r\n"), b"SIP/2.0 400 Bad Subject"),
        ("cut in half", ("INVITE sip:x SIP/2.0\r\n" + good + "Content-Length: 400\r\n\r\nv=0\r\n").encode(),
         b"SIP/2.0 400" if t == "UDP" else None),
        ("binary garbage", bytes(range(256)) * 20, None),
        ("60 kB header", ("OPTIONS sip:x SIP/2.0\r\n" + good + "X-Big: " + "a" * 60_000 + "\r\n\r\n").encode(),
         b"SIP/2.0 513" if t == "UDP" else None),
    ]


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_bad_input_is_answered_or_dropped_and_the_edge_keeps_serving(pbx: Daemon, transport: str) -> None:
    for name, data, expected in bad_inputs(transport, 0):
        phone = Phone(pbx.sip_port, transport)
        phone.send(data)
        answered_over_tcp = transport == "TCP" and expected is not None and name != "cut in half"
        if expected is not None and (transport == "UDP" or answered_over_tcp):
            assert phone.recv().startswith(expected), name
        elif transport == "UDP":
            with pytest.raises(socket.timeout):
                phone.recv(timeout=0.3)
        phone.close()
        good = Phone(pbx.sip_port, transport)
        assert good.register(*BOB).startswith(b"SIP/2.0 200 OK"), f"after {name} over {transport}"
        good.close()
    edge = pbx.api("status")["edge"]
    assert edge["grammar_errors"] >= 9 and edge["bad CSeq"] >= 3


def test_huge_header_over_tcp_gets_513_and_connection_closed(pbx: Daemon) -> None:
    phone = Phone(pbx.sip_port, "TCP")
    phone.send(("OPTIONS sip:127.0.0.1 SIP/2.0\r\n" + GOOD_HEADERS.format(t="TCP", p=phone.port, n=2)
                + "X-Big: " + "a" * 100_000 + "\r\n\r\n").encode())
    assert phone.recv().startswith(b"SIP/2.0 513")
    phone.close()
    good = Phone(pbx.sip_port, "TCP")
    assert good.register(*BOB).startswith(b"SIP/2.0 200 OK")


def test_brute_force_gets_the_source_banned(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("ext", "add", *ALICE[:1], "--name", "Alice", "--password", ALICE[1])
    daemon.start()
    try:
        phone = Phone(daemon.sip_port)
        for i in range(10):
            assert phone.register(ALICE[0], f"Guess-number-{i}", cseq=10 * i + 1).startswith(b"SIP/2.0 401")
        with pytest.raises(socket.timeout):  # banned: silently dropped, even the right password
            phone.register(*ALICE, cseq=500)
    finally:
        assert daemon.stop() == 0


def test_a_retransmitted_register_gets_the_same_answer_not_a_replay_failure(pbx: Daemon) -> None:
    phone = Phone(pbx.sip_port)
    first = phone.register(*ALICE)
    assert first.startswith(b"SIP/2.0 200 OK")
    phone.send(phone.last_sent)  # the same authenticated REGISTER again, as after a lost 200
    again = phone.recv()
    assert again == first
    status = pbx.api("status")["edge"]
    assert status["retransmissions"] == 1 and status.get("auth_failures", 0) == 0
