from __future__ import annotations

import pytest

from pbx.sip.guard import Guard
from pbx.sip.message import SipRequest, parse
from pbx.sip.registrar import Registrar, RegistrationError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def register(contact: str, user: str = "101", cseq: int = 1, expires: str | None = "3600",
             call_id: str = "c1") -> SipRequest:
    extra = f"Expires: {expires}\r\n" if expires is not None else ""
    msg = parse((f"REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5\r\nFrom: <sip:{user}@pbx>;tag=1\r\n"
                 f"To: <sip:{user}@pbx>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
                 f"Contact: {contact}\r\n{extra}User-Agent: desk\r\n\r\n").encode())
    assert isinstance(msg, SipRequest)
    return msg


def test_several_contacts_expire_on_their_own() -> None:
    clock = Clock()
    reg = Registrar(clock=clock)
    reg.register(register("<sip:101@10.0.0.5:5062>;expires=120", call_id="a"), "101", "udp", ("10.0.0.5", 5062))
    reg.register(register("<sip:101@10.0.0.6:5060>", call_id="b"), "101", "tcp", ("10.0.0.6", 40000))
    assert {b.uri for b in reg.contacts("101")} == {"sip:101@10.0.0.5:5062", "sip:101@10.0.0.6:5060"}
    assert reg.find_by_uri("sip:101@10.0.0.6:5060").source == ("10.0.0.6", 40000)
    clock.now = 121
    assert [b.uri for b in reg.contacts("101")] == ["sip:101@10.0.0.6:5060"]


def test_star_removes_all_and_zero_removes_one() -> None:
    reg = Registrar(clock=Clock())
    reg.register(register("<sip:101@a>", call_id="a"), "101", "udp", ("a", 1))
    reg.register(register("<sip:101@b>", call_id="b"), "101", "udp", ("b", 1))
    reg.register(register("<sip:101@a>", call_id="a", cseq=2, expires="0"), "101", "udp", ("a", 1))
    assert [b.uri for b in reg.contacts("101")] == ["sip:101@b"]
    reg.register(register("*", call_id="b", cseq=2, expires="0"), "101", "udp", ("b", 1))
    assert reg.contacts("101") == []


def test_refusals() -> None:
    reg = Registrar(clock=Clock())
    with pytest.raises(RegistrationError) as err:
        reg.register(register("<sip:101@a>", expires="30"), "101", "udp", ("a", 1))
    assert err.value.status == 423 and ("Min-Expires", "60") in err.value.headers
    with pytest.raises(RegistrationError) as err:
        reg.register(register("<sip:102@a>", user="102"), "101", "udp", ("a", 1))
    assert err.value.status == 403
    reg.register(register("<sip:101@a>", cseq=5), "101", "udp", ("a", 1))
    with pytest.raises(RegistrationError) as err:
        reg.register(register("<sip:101@a>", cseq=4), "101", "udp", ("a", 1))
    assert err.value.status == 500
    assert reg.contacts("101")[0].expires_at == 3600  # max expires


def test_guard_bans_after_repeated_failures_and_lifts_the_ban() -> None:
    clock = Clock()
    guard = Guard(max_failures=3, window=60, ban_for=600, clock=clock)
    assert not guard.failed("10.0.0.9") and not guard.failed("10.0.0.9")
    assert guard.failed("10.0.0.9") and guard.banned("10.0.0.9")
    assert not guard.banned("10.0.0.8")
    clock.now = 601
    assert not guard.banned("10.0.0.9")


def test_guard_rate_limit_per_source() -> None:
    clock = Clock()
    guard = Guard(rate=10, burst=5, clock=clock)
    assert [guard.allow("a") for _ in range(7)] == [True] * 5 + [False] * 2
    assert guard.allow("b")
    clock.now = 1.0
    assert guard.allow("a")
