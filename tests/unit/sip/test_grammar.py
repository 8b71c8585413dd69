"""Each grammar rule of the edge (RFC 3261 section 25) and the status it gets; and what
the grammar allows keeps working."""
from __future__ import annotations

import pytest

from pbx.sip.message import SipRequest, parse
from tests.support.edge_harness import EdgeHarness

VIA = "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKg1;rport"


def request(method: str = "OPTIONS", uri: str = "sip:127.0.0.1", *, cseq: str | None = None,
            extra: str = "", via: str = VIA, from_: str = "<sip:101@127.0.0.1>;tag=f1",
            to: str = "<sip:102@127.0.0.1>", call_id: str = "g-1@192.0.2.1",
            length: str = "0") -> bytes:
    cseq = cseq or f"1 {method}"
    return (f"{method} {uri} SIP/2.0\r\n{via}\r\nFrom: {from_}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq}\r\nMax-Forwards: 70\r\n{extra}Content-Length: {length}\r\n\r\n").encode()


REFUSED = [
    ("CSeq method differs", request(cseq="1 INVITE"), "400 Bad CSeq"),
    ("CSeq at 2**31", request(cseq="2147483648 OPTIONS"), "400 Bad CSeq"),
    ("CSeq without a number", request(cseq="OPTIONS"), "400 Bad CSeq"),
    ("Max-Forwards not a number", request(extra="Max-Forwards: seventy\r\n"), "400 Bad Max-Forwards"),
    ("Request-URI without a scheme", request(uri="127.0.0.1"), "400 Bad Request-URI"),
    ("Request-URI in a scheme not served", request(uri="tel:+74951234567"), "416 Unsupported URI Scheme"),
    ("sips without TLS", request(uri="sips:102@127.0.0.1"), "416 Unsupported URI Scheme"),
    ("Via without sent-by", request(via="Via: SIP/2.0/UDP"), "400 Bad Via"),
    ("Via with a bad port", request(via="Via: SIP/2.0/UDP 192.0.2.1:50a62"), "400 Bad Via"),
    ("From without a closing >", request(from_="<sip:101@127.0.0.1;tag=f1"), "400 Bad From"),
    ("To that is no URI", request(to="102"), "400 Bad To"),
    ("Call-ID with a space", request(call_id="two words"), "400 Bad Call-ID"),
    ("Content-Length not a number", request(length="zero"), "400 Bad Content-Length"),
    ("NUL in a header value", request(extra="Subject: a\x00b\r\n"), "400 Bad Subject"),
    ("C0 code in From", request(from_="<sip:101@127.0.0.1>;tag=f\x01"), "400 Bad From"),
    ("DEL in a header value", request(extra="User-Agent: x\x7fy\r\n"), "400 Bad User-Agent"),
    ("lone LF in a header value", request(extra="Subject: a\nb\r\n"), "400 Bad Subject"),
    ("two Call-IDs", request(extra="Call-ID: other@x\r\n"), "400 Bad Call-ID"),
    ("SIP/3.0", request().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), "505 Version Not Supported"),
]


@pytest.mark.parametrize("name, data, status", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_request_against_the_grammar_is_refused_counted_and_never_relayed(
        name: str, data: bytes, status: str) -> None:
    edge = EdgeHarness()
    answers = edge.send(data)
    assert len(answers) == 1 and answers[0].startswith(f"SIP/2.0 {status}\r\n".encode()), answers
    assert not edge.relayed
    assert edge.edge.stats["grammar_errors"] == 1
    header = status.split(" ", 2)[2] if status.startswith("400 Bad ") else None
    if header:
        assert edge.edge.stats[f"bad {header}"] == 1


def test_max_forwards_zero_on_a_relayed_request_is_483() -> None:
    edge = EdgeHarness()
    bye = request("BYE", "sip:102@127.0.0.1", to="<sip:102@127.0.0.1>;tag=t9").replace(
        b"Max-Forwards: 70", b"Max-Forwards: 0")
    assert edge.send(bye)[0].startswith(b"SIP/2.0 483 Too Many Hops")
    assert not edge.relayed
    again = bye.replace(b"Max-Forwards: 0", b"Max-Forwards: 1").replace(b"CSeq: 1", b"CSeq: 2")
    assert edge.status(again) == 0  # relayed


ALLOWED = [
    ("folded headers", request(extra="Subject: one\r\n  two\r\n\tthree\r\n")),
    ("compact forms", b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nv: " + VIA[5:].encode() + b"\r\n"
     b"f: <sip:101@127.0.0.1>;tag=1\r\nt: sip:102@127.0.0.1\r\ni: c@1\r\nCSeq: 2 OPTIONS\r\nl: 0\r\n\r\n"),
    ("escaped display name", request(from_='"Ivan \\"Vanya\\" \\\\ Petrov" <sip:101@127.0.0.1>;tag=1')),
    ("token display name and no space", request(from_="Ivan Petrov<sip:101@127.0.0.1>;tag=1")),
    ("UTF-8 display name", request(from_='"\u0418\u0432\u0430\u043d" <sip:101@127.0.0.1>;tag=1')),
    ("HTAB in a value", request(extra="Subject: a\tb\r\n")),
    ("unknown headers and parameters", request(
        extra="X-Odd-Header: ;;,,\r\n", via=VIA + ";odd-param;other=1",
        to="<sip:102@127.0.0.1;custom=x>;unknown")),
    ("IPv6 references", request(uri="sip:102@[2001:db8::1]:5060",
                                via="Via: SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bK6")),
    ("CSeq just below 2**31", request(cseq="2147483647 OPTIONS")),
    ("escaped user", request(uri="sip:%31%30%32@127.0.0.1")),
]


@pytest.mark.parametrize("name, data", ALLOWED, ids=[a[0] for a in ALLOWED])
def test_what_the_grammar_allows_is_served(name: str, data: bytes) -> None:
    msg = parse(data)
    assert isinstance(msg, SipRequest)
    edge = EdgeHarness()
    answers = edge.send(data)
    assert answers and answers[0].startswith(b"SIP/2.0 200 OK"), answers
    assert edge.edge.stats["grammar_errors"] == 0


def test_the_display_name_is_unescaped() -> None:
    msg = parse(ALLOWED[2][1])
    assert msg.from_addr is not None and msg.from_addr.display == 'Ivan "Vanya" \\ Petrov'
