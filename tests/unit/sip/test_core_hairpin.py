"""The core's INVITE to itself (a ring group's outside member) can be neither claimed by
a phone nor imitated from a message body."""
from __future__ import annotations

from pbx.calls.b2bua import OUTSIDE_HEADER, header_value
from pbx.sip.message import parse
from tests.support.edge_harness import EdgeHarness

CORE = ("127.0.0.1", 5099)


def message(start: str, headers: str, body: str = "") -> bytes:
    return (f"{start}\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcore1\r\n"
            "From: <sip:pbx@127.0.0.1:5099>;tag=a1\r\nTo: <sip:101@127.0.0.1>\r\nCall-ID: hp1\r\n"
            f"{headers}Max-Forwards: 70\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def test_a_request_the_core_addresses_to_itself_goes_back_to_it_even_if_a_phone_registered_that_uri() -> None:
    edge = EdgeHarness().edge
    register = parse(message("REGISTER sip:127.0.0.1 SIP/2.0", "CSeq: 1 REGISTER\r\n"
                             "Contact: <sip:+79161234567@127.0.0.1:5099>\r\n").replace(b"hp1", b"r1"))
    # A local process claims the URI (the registrar refuses that from the LAN, and refuses
    # the core's address once the edge has told it: the next test; here it is not told).
    edge.registrar.register(register, "101", "udp", ("127.0.0.1", 5062))
    invite = parse(message("INVITE sip:+79161234567@127.0.0.1:5099 SIP/2.0", "CSeq: 1 INVITE\r\n"))
    assert edge._phone_target(invite) == ("UDP", CORE, None)
    assert edge.registrar.find_by_uri(invite.uri).source == ("127.0.0.1", 5062)  # the claim stands

def test_header_lines_in_a_body_are_not_headers() -> None:
    raw = message("INVITE sip:600@127.0.0.1 SIP/2.0", "CSeq: 1 INVITE\r\nContent-Type: text/plain\r\n",
                  f"{OUTSIDE_HEADER}: 0123456789abcdef\r\n").decode()
    assert header_value(raw, OUTSIDE_HEADER) is None
    assert header_value(raw, "call-id") == "hp1"


def test_no_phone_may_register_the_appliance_itself_or_a_loopback_contact_from_the_network() -> None:
    import pytest

    from pbx.sip.registrar import Registrar, RegistrationError

    registrar = Registrar()
    registrar.own_addresses = {("127.0.0.1", 5060), CORE}

    def register(contact: str, source: tuple[str, int]) -> None:
        req = parse(message("REGISTER sip:127.0.0.1 SIP/2.0", f"CSeq: 1 REGISTER\r\nContact: <{contact}>\r\n"))
        registrar.register(req, "101", "udp", source)

    for contact, source in (("sip:+79161234567@127.0.0.1:5099", ("127.0.0.1", 5062)),  # the core
                            ("sip:101@127.0.0.1:5062", ("192.0.2.66", 5062)),  # loopback, from the LAN
                            ("sip:101@localhost:5062", ("192.0.2.66", 5062))):
        with pytest.raises(RegistrationError) as refused:
            register(contact, source)
        assert refused.value.status == 403
    assert registrar.contacts("101") == []  # nothing half-saved
    register("sip:101@127.0.0.1:5062", ("127.0.0.1", 5062))  # a phone on this box itself: fine
    register("sip:101@192.0.2.66:5062", ("192.0.2.66", 5062))
    assert len(registrar.contacts("101")) == 2
