"""A phone's REFER in a call: the edge answers it itself and hands the transfer to the
core (pjsua must not dial the number as a call of its own); a bad Refer-To gets 400, an
attended transfer (Replaces) 501, and a retransmission the same 202 without a second
transfer. A REFER outside a dialog is not a transfer: it is challenged like any request;
one from an address where no phone registered is refused (in-dialog requests carry no
digest, so the source is what says which extension asks)."""
from __future__ import annotations

from pbx.sip.message import parse
from tests.support.edge_harness import EdgeHarness

PHONE = ("192.0.2.1", 5062)  # where 102 registered from, and sends its REFER from


def refer(refer_to: str, *, to_tag: str = ";tag=core1", cseq: int = 2, extra: str = "") -> bytes:
    return ("REFER sip:pbx@127.0.0.1:5099 SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 192.0.2.1:5062;branch=z9hG4bKref" + str(cseq) + "\r\n"
            "From: <sip:102@127.0.0.1>;tag=phone1\r\n"
            f"To: <sip:pbx@127.0.0.1>{to_tag}\r\nCall-ID: dialog-1\r\nCSeq: {cseq} REFER\r\n"
            f"Refer-To: {refer_to}\r\n{extra}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def harness() -> tuple[EdgeHarness, list[tuple]]:
    h = EdgeHarness()
    register = ("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5062;branch=z9hG4bKreg\r\n"
                "From: <sip:102@127.0.0.1>;tag=r1\r\nTo: <sip:102@127.0.0.1>\r\nCall-ID: reg-1\r\n"
                "CSeq: 1 REGISTER\r\nContact: <sip:102@192.0.2.1:5062;transport=tcp>\r\n"
                "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    h.edge.registrar.register(parse(register.encode()), "102", "tcp", PHONE)
    asked: list[tuple] = []
    h.edge.on_refer = lambda *what: asked.append(what)
    return h, asked


def test_a_refer_in_a_call_is_answered_202_and_handed_to_the_core_once() -> None:
    h, asked = harness()
    first = h.send(refer("<sip:101@127.0.0.1:5060>"))
    assert first[0].startswith(b"SIP/2.0 202 Accepted") and b"Refer-Sub" not in first[0]
    assert h.send(refer("<sip:101@127.0.0.1:5060>")) == first  # a retransmission
    assert asked == [("dialog-1", "101", "102", 2, True)] and h.relayed == []


def test_refer_sub_false_is_honoured_and_the_number_is_unescaped() -> None:
    h, asked = harness()
    answer = h.send(refer("sip:%2B79161234567@127.0.0.1", extra="Refer-Sub: false\r\n"))[0]
    assert b"202" in answer.split(b"\r\n")[0] and b"Refer-Sub: false" in answer
    assert asked == [("dialog-1", "+79161234567", "102", 2, False)]


def test_a_bad_refer_to_or_an_attended_transfer_is_refused_and_nothing_is_handed_on() -> None:
    h, asked = harness()
    assert h.status(refer("<tel:+79161234567>", cseq=3)) == 400
    assert h.status(refer("<sip:127.0.0.1>", cseq=4)) == 400  # no number
    assert h.status(refer("<sip:101@127.0.0.1", cseq=5)) == 400  # unclosed
    assert h.status(refer("<sip:101@127.0.0.1?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>", cseq=6)) == 501
    assert asked == [] and h.relayed == []


def test_a_refer_outside_a_dialog_is_challenged_not_a_transfer() -> None:
    h, asked = harness()
    assert h.status(refer("<sip:101@127.0.0.1>", to_tag="")) == 407
    assert asked == []


def test_a_refer_from_where_no_phone_registered_is_refused() -> None:
    h, asked = harness()
    assert h.status(refer("<sip:101@127.0.0.1>"), host="192.0.2.66") == 403
    assert asked == [] and h.edge.stats["transfers_refused"] == 1
