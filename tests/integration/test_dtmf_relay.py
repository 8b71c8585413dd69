"""Keys cross an extension-to-extension call through the real daemon: Alice (SIPp, who
offers telephone-event) calls Bob and presses every key, by RFC 4733 from her own RTP
endpoint or by SIP INFO; Bob gets each key once, in order, held as long as Alice held it:
as RFC 4733 events when his phone negotiated telephone-event, else as SIP INFO with
Signal and Duration."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.conftest import BOB
from tests.integration.phone import AnsweringPhone, CallingPhone
from tests.support import sipp
from tests.support.daemon import Daemon, wait_until

KEYS = "0123456789*#"
ALICE_PT = 101  # the telephone-event payload type in uac_dtmf.xml's offer
HELD_MS = {"rfc4733": 120, "info": 250}  # neither is a default of pjsua (160) or pjmedia (200)


def alice(pbx: Daemon, tmp: Path, sent_by: str) -> CallingPhone:
    params = {"INFOKEYS": sipp.info_keys(KEYS, HELD_MS["info"])} if sent_by == "info" else {}
    return CallingPhone(pbx, tmp, dial=BOB[0], scenario="uac_dtmf.xml", params=params,
                        hangs_up_after_ms=8000)


def press_keys(caller: CallingPhone, sent_by: str) -> None:
    """Once both sides hear each other (SIP INFO keys go by themselves, after the ACK)."""
    assert wait_until(lambda: caller.audio.packets_in > 10, timeout=15), "no audio reached Alice"
    if sent_by == "rfc4733":
        for key in KEYS:
            caller.audio.send_digit(key, ALICE_PT, duration_ms=HELD_MS["rfc4733"])


def settled(count: int, got) -> None:  # type: ignore[no-untyped-def]
    """Wait for count keys, then a little longer: a key relayed twice would show by then."""
    wait_until(lambda: len(got()) >= count, timeout=15)
    time.sleep(1.0)


@pytest.mark.parametrize("sent_by", ["rfc4733", "info"])
def test_keys_reach_a_phone_with_telephone_event_once_each(pbx: Daemon, tmp_path: Path, sent_by: str) -> None:
    with AnsweringPhone(pbx, tmp_path) as bob, alice(pbx, tmp_path, sent_by) as caller:
        press_keys(caller, sent_by)
        settled(len(KEYS), lambda: bob.audio.keys)
        assert "".join(bob.audio.digits) == KEYS, (bob.audio.keys, pbx.log()[-3000:])
        held = HELD_MS[sent_by]
        assert all(abs(ms - held) <= 20 for _, ms in bob.audio.keys), bob.audio.keys
        if sent_by == "rfc4733":  # and the other way, from the callee to the caller
            for key in "#5":
                bob.audio.send_digit(key, bob.event_pt(), duration_ms=300)
            settled(2, lambda: caller.audio.keys)
            assert caller.audio.keys and [k for k, _ in caller.audio.keys] == ["#", "5"], caller.audio.keys
            assert all(abs(ms - 300) <= 20 for _, ms in caller.audio.keys), caller.audio.keys
        assert caller.finish().successful == 1
        assert bob.finish().successful == 1
    assert pbx.last_call()["disposition"] == "answered"


@pytest.mark.parametrize("sent_by", ["rfc4733", "info"])
def test_keys_reach_a_phone_without_telephone_event_by_sip_info(pbx: Daemon, tmp_path: Path,
                                                                 sent_by: str) -> None:
    with AnsweringPhone(pbx, tmp_path, scenario="uas_info.xml") as bob:
        with alice(pbx, tmp_path, sent_by) as caller:
            press_keys(caller, sent_by)
            settled(len(KEYS), lambda: sipp.received_info_keys(bob.trace()))
            assert caller.finish().successful == 1
        assert bob.finish().successful == 1
        keys = sipp.received_info_keys(bob.trace())
    assert "".join(k for k, _ in keys) == KEYS, (keys, pbx.log()[-3000:])
    held = HELD_MS[sent_by]
    assert all(abs(ms - held) <= 20 for _, ms in keys), keys
    assert bob.audio.digits == []  # no telephone-event was sent where none was agreed
