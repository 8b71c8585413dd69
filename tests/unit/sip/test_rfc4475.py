"""RFC 4475's torture messages through parse() and through the edge: each valid one gets
past the grammar (challenged, relayed or answered as any request), each invalid one is
answered as the RFC says, never relayed and never answered 2xx."""
from __future__ import annotations

import pytest

from pbx.errors import SipParseError
from pbx.sip.message import SipRequest, parse
from pbx.sip.registrar import Registrar, RegistrationError
from tests.support.edge_harness import EdgeHarness
from tests.unit.sip.rfc4475 import INVALID, VALID, m

ACCEPTED = {0, 200, 401, 407}  # relayed, answered by the edge, or challenged


@pytest.mark.parametrize("name, data, expected", VALID, ids=[v[0] for v in VALID])
def test_valid_torture_messages_are_accepted(name: str, data: bytes, expected: object) -> None:
    parse(data)  # the grammar allows every one of them
    edge = EdgeHarness()
    status = edge.status(data)
    if expected == "accept":
        assert status in ACCEPTED, f"{name}: {status}"
    else:
        assert status == expected
    assert edge.edge.stats["grammar_errors"] == 0


@pytest.mark.parametrize("name, data, expected", INVALID, ids=[v[0] for v in INVALID])
def test_invalid_torture_messages_are_answered_as_the_rfc_says(name: str, data: bytes,
                                                               expected: int | None) -> None:
    with pytest.raises(SipParseError):
        parse(data)
    edge = EdgeHarness()
    answers = edge.send(data)
    assert not edge.relayed, "an invalid message must never be relayed"
    if expected is None:
        assert answers == []
        return
    assert len(answers) == 1
    status_line = answers[0].split(b"\r\n", 1)[0].decode()
    assert status_line.startswith(f"SIP/2.0 {expected} "), status_line
    assert edge.edge.stats["grammar_errors"] == 1


def test_the_reason_phrase_names_the_header_and_the_warning_says_why() -> None:
    _, data, _ = next(v for v in INVALID if v[0] == "mismatch01")
    answer = EdgeHarness().send(data)[0].decode()
    assert answer.startswith("SIP/2.0 400 Bad CSeq\r\n")
    assert 'Warning: 399 pbx "CSeq: method INVITE differs' in answer
    assert "Call-ID: mismatch01.dj0234sxdfl3\r\n" in answer  # addressed like any answer


def test_wsinv_reads_through_the_whitespace() -> None:
    _, data, _ = VALID[0]
    msg = parse(data)
    assert isinstance(msg, SipRequest)
    assert msg.to_tag == "1918181833n" and msg.from_tag == "98asjd8"
    assert msg.from_addr is not None and msg.from_addr.display == 'J Rosenberg \\"'
    assert msg.cseq == (9, "INVITE") and msg.max_forwards == 68
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"), ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239")]
    assert msg.contacts[0].params == {"newparam": "newvalue", "secondparam": "", "q": "0.33"}
    assert msg.get("NewFangledHeader") == "newfangled value continued newfangled value"


def test_dblreq_takes_the_first_message_of_the_datagram() -> None:
    _, data, _ = next(v for v in VALID if v[0] == "dblreq")
    msg = parse(data)
    assert isinstance(msg, SipRequest) and msg.method == "REGISTER" and msg.body == b""


def test_unknown_schemes_in_a_register_are_refused_by_the_registrar() -> None:
    # RFC 4475 3.3.4 (unksm2): the grammar allows absoluteURIs; a registrar cannot bind them.
    msg = parse(m("REGISTER sip:example.com SIP/2.0", "To: isbn:2983792873",
                  "From: <http://www.example.com>;tag=3234233", "Call-ID: unksm2.daksdj@hyphenated-host.example.com",
                  "CSeq: 234902 REGISTER", "Max-Forwards: 70",
                  "Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw", "Contact: <name:John_Smith>",
                  "l: 0"))
    assert isinstance(msg, SipRequest)
    with pytest.raises(RegistrationError) as err:
        Registrar().register(msg, "101", "udp", ("192.0.2.21", 5060))
    assert err.value.status == 416
