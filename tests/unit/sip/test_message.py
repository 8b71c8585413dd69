"""SIP parsing: round trips, compact forms, and every malformed shape ends in
SipParseError (never another exception)."""
from __future__ import annotations

import os
import random

import pytest

from pbx.errors import SipParseError
from pbx.sip.message import SipRequest, SipResponse, parse, split_list
from pbx.sip.uri import NameAddr, Uri, Via

INVITE = (b"INVITE sip:102@pbx.local SIP/2.0\r\n"
          b"Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776;rport\r\n"
          b"v: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\r\n"
          b"f: \"Alice, A\" <sip:101@pbx.local>;tag=abc\r\n"
          b"t: <sip:102@pbx.local>\r\n"
          b"i: call-1@10.0.0.5\r\n"
          b"CSeq: 7 INVITE\r\n"
          b"Route: <sip:a;lr>, <sip:b;lr>\r\n"
          b"Subject: folded\r\n line\r\n"
          b"l: 5\r\n\r\nhello")


def test_request_round_trip_and_compact_headers() -> None:
    msg = parse(INVITE)
    assert isinstance(msg, SipRequest) and msg.method == "INVITE"
    assert msg.get_all("via") == ["SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776;rport",
                                  "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1"]
    assert msg.get("From") == '"Alice, A" <sip:101@pbx.local>;tag=abc'
    assert msg.get("subject") == "folded line"
    assert msg.get_all("route") == ["<sip:a;lr>", "<sip:b;lr>"]
    assert msg.cseq == (7, "INVITE") and msg.body == b"hello"
    again = parse(bytes(msg))
    assert again.headers[:-1] == msg.headers[:-1] and again.body == msg.body
    assert again.headers[-1] == ("Content-Length", "5")  # always written in full


def test_response_and_header_editing() -> None:
    msg = parse(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b\r\n"
                b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")
    assert isinstance(msg, SipResponse) and (msg.status, msg.reason) == (180, "Ringing")
    assert msg.pop_first("via") == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert msg.get_all("via") == ["SIP/2.0/UDP b"]
    msg.prepend("Via", "SIP/2.0/UDP c")
    assert msg.get_all("via") == ["SIP/2.0/UDP c", "SIP/2.0/UDP b"]
    msg.set("to", "<sip:x@y>")
    assert msg.get("t") == "<sip:x@y>"


HEAD = ("Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
        "Call-ID: c\r\n")


@pytest.mark.parametrize("data, why", [
    (b"HELLO WORLD\r\n\r\n", "start line"),
    (b"INVITE sip:x SIP/2.0\r\nFrom: <sip:a@b>\r\nTo: <sip:b@c>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
     "Via: missing"),
    (f"INVITE sip:x SIP/2.0\r\n{HEAD}CSeq: x\r\n\r\n".encode(), "CSeq"),
    (b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nbroken line\r\n\r\n", "header line"),
    (f"INVITE sip:x SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nContent-Length: 50\r\n\r\nshort".encode(),
     "cut short"),
    (b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nFrom: a\r\nTo: b", "cut short"),
    (b"INVITE sip:x SIP/2.0\r\nX: " + b"a" * 100_000 + b"\r\n\r\n", "too large"),
    (b"INVITE sip:x SIP/2.0\r\nVia: \xff\xfe\r\n\r\n", "UTF-8"),
])
def test_malformed_messages_are_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(SipParseError, match=why):
        parse(data)


def test_random_garbage_never_escapes_as_another_exception() -> None:
    rng = random.Random(1)
    samples = [os.urandom(rng.randint(0, 3000)) for _ in range(300)]
    samples += [INVITE[: rng.randint(0, len(INVITE))] for _ in range(300)]
    samples += [bytes(b ^ rng.choice([0, 0, 0, 1, 32]) for b in INVITE) for _ in range(300)]
    for data in samples:
        try:
            parse(data)
        except SipParseError:
            pass


def test_uri_via_and_name_addr() -> None:
    via = Via.parse("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776;rport=4000;received=1.2.3.4")
    assert via.reply_address() == ("1.2.3.4", 4000) and via.branch == "z9hG4bK776"
    assert str(Via.parse(str(via))) == str(via)
    uri = Uri.parse("sip:101@[::1]:5070;transport=TCP")
    assert (uri.user, uri.host, uri.port, uri.transport) == ("101", "::1", 5070, "tcp")
    addr = NameAddr.parse('"Bob" <sip:102@pbx>;tag=99;expires=60')
    assert (addr.display, addr.uri, addr.tag, addr.params["expires"]) == ("Bob", "sip:102@pbx", "99", "60")
    assert split_list('"a,b" <sip:x>, <sip:y;p=1,2>') == ['"a,b" <sip:x>', "<sip:y;p=1,2>"]


def test_lookups_stay_true_through_every_edit() -> None:
    msg = parse(INVITE)
    assert msg.index is not None  # lookups are answered from the index parse() built
    msg.prepend("Via", "SIP/2.0/UDP edge;branch=z9hG4bKe")
    assert msg.get("v") == "SIP/2.0/UDP edge;branch=z9hG4bKe"
    assert msg.pop_first("via") == "SIP/2.0/UDP edge;branch=z9hG4bKe"
    assert msg.get("via") == "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776;rport"
    msg.set("Max-Forwards", "69")
    assert msg.get("max-forwards") == "69"
    msg.remove("subject")
    assert msg.get("subject") is None
    unindexed = SipRequest(headers=list(msg.headers), method="INVITE", uri="sip:x")
    for name in ("via", "from", "to", "call-id", "cseq", "route", "max-forwards", "subject"):
        assert msg.get(name) == unindexed.get(name), name
