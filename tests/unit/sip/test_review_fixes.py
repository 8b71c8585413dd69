"""What a review of the edge found: a forged port that closed the UDP socket, tables a
spoofed flood could grow or wipe, a count that drifted."""
from __future__ import annotations

import pytest

from pbx.errors import SipParseError
from pbx.sip import guard as guard_module
from pbx.sip.guard import Guard
from pbx.sip.message import parse
from pbx.sip.registrar import Registrar, RegistrationError
from tests.support.edge_harness import EdgeHarness
from tests.unit.sip.test_grammar import request
from tests.unit.sip.test_registrar_guard import register


def test_a_via_port_no_socket_can_use_is_refused() -> None:
    forged = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
              b"Via: SIP/2.0/UDP 192.0.2.1;rport=99999\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
              b"Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")
    with pytest.raises(SipParseError, match="rport"):
        parse(forged)
    with pytest.raises(SipParseError, match="port"):
        parse(request(via="Via: SIP/2.0/UDP 192.0.2.1:\u00b2"))  # not an ASCII digit


def test_udp_goes_to_address_literals_only_and_a_failing_send_never_raises() -> None:
    edge = EdgeHarness().edge

    class Udp:
        sent: list = []

        def sendto(self, data: bytes, addr: tuple) -> None:
            raise OverflowError("port must be 0-65535")
    edge._udp = Udp()  # type: ignore[assignment]
    edge._sendto(b"x", ("192.0.2.1", 5060))  # the error is counted, the socket stays
    edge._sendto(b"x", ("phone.example.com", 5060))  # no DNS lookup on the edge's loop
    assert edge.stats["udp_errors"] == 1 and edge.stats["unsendable_dropped"] == 1


def test_made_up_header_names_share_one_counter() -> None:
    edge = EdgeHarness()
    for i in range(50):
        edge.send(request(extra=f"X-Junk-{i}: a\x00b\r\n", call_id=f"j{i}"))
    assert edge.edge.stats["bad other header"] == 50
    assert not [k for k in edge.edge.stats if k.startswith("bad X-Junk")]


def test_a_flood_of_spoofed_sources_neither_wipes_a_guesser_nor_grows_the_bans(monkeypatch) -> None:
    monkeypatch.setattr(guard_module, "MAX_SOURCES", 100)
    guard = Guard(max_failures=10)
    for n in range(10):  # the guesser guesses on while spoofed one-offs fill the table past its size
        guard.failed("198.51.100.7")
        for i in range(60):
            guard.failed(f"10.{n}.{i // 250}.{i % 250}")
    assert guard.banned("198.51.100.7"), "the guesser's count survived the flood"
    for i in range(300):
        guard.user_agent(f"10.2.{i // 250}.{i % 250}", "friendly-scanner")
    assert len(guard.bans()) <= 100


def test_a_refused_register_changes_no_binding_and_the_count_stays_true() -> None:
    reg = Registrar()
    reg.register(register("<sip:101@a>", call_id="a"), "101", "udp", ("a", 1))
    with pytest.raises(RegistrationError):  # the second contact's Expires is refused
        reg.register(register("<sip:101@b>, <sip:101@c>;expires=x", call_id="b"), "101", "udp", ("b", 1))
    assert [b.uri for b in reg.contacts("101")] == ["sip:101@a"] and reg.count() == 1
