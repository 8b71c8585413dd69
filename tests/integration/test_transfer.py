"""Blind transfer on the real daemon: a simulated GSM call (1 kHz) answered by Bob (102, a
SIPp phone, 440 Hz) who transfers it with REFER to Alice (101, 660 Hz). Bob gets 202, a
NOTIFY saying 200 and a BYE; Alice's phone rings and answers; the line hears her; the
call is one call record and one recording, from the first answer to the hang-up, with
Bob's voice before the transfer and Alice's after. A transfer to a number that is not an
extension is refused with a NOTIFY, and the call goes on."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from hardware.dsp.tones import tone_level
from tests.integration.conftest import ALICE, BOB
from tests.integration.phone import AnsweringPhone, CallingPhone
from tests.integration.test_recording import (
    LINE_HZ,
    PHONE_HZ,
    answered_line_call,
    decoded,
    level,
    line_idle,
    ready_recording,
)
from tests.support.daemon import Daemon, wait_until

ALICE_HZ = 660
TALK_MS = 2000  # Bob talks this long before he transfers


def notify_outcome(trace: str) -> str:
    """The sipfrag of the NOTIFY the phone got, once it says the subscription is over."""
    notify = trace[trace.index("NOTIFY sip:"):]
    notify = notify[:notify.index("\n\n", notify.index("\n\n") + 2)]
    assert "Subscription-State: terminated" in notify and "Event: refer" in notify, notify
    match = re.search(r"^SIP/2.0 (\d+ [^\r\n]*)", notify.split("\n\n", 1)[1], re.MULTILINE)
    return match.group(1).strip() if match else ""


def line_hears(pbx: Daemon, hz: int) -> float:
    return pbx.api(f"sim/gsm1?hz={hz}")["tone_level"]


@pytest.mark.parametrize("channels", ["1", "2"])
def test_a_line_call_transferred_blind_keeps_one_call_and_one_recording(pbx: Daemon, tmp_path: Path,
                                                                        channels: str) -> None:
    """With two channels the line is the first, Bob then Alice the second, and both last the
    whole call (silence in the second while Alice's phone rings)."""
    pbx.pbx("config", "set", "recording_default", "always")
    pbx.pbx("config", "set", "recording_channels", channels)
    time.sleep(6)  # the daemon re-reads its settings every 5 s
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    (tmp_path / "bob").mkdir()
    (tmp_path / "alice").mkdir()
    bob = AnsweringPhone(pbx, tmp_path / "bob", tone_hz=PHONE_HZ, scenario="uas_transfer.xml",
                         hangs_up_after_ms=TALK_MS, params={"TARGET": ALICE[0]})
    with bob:
        answered_line_call(pbx, bob)
        answered = time.time()
        with AnsweringPhone(pbx, tmp_path / "alice", tone_hz=ALICE_HZ, user=ALICE,
                            scenario="uas_answer_late.xml") as alice:  # she rings for 2 s
            assert bob.finish().successful == 1, bob.trace()[-3000:]
            assert notify_outcome(bob.trace()) == "200 OK", bob.trace()[-3000:]
            bob.audio.stop()  # a phone that hung up sends no more RTP
            assert wait_until(lambda: len(alice.audio.received) > 25, timeout=10), pbx.log()[-3000:]
            transferred = time.time()
            assert wait_until(lambda: line_hears(pbx, ALICE_HZ) > 0.2, timeout=5), line_hears(pbx, ALICE_HZ)
            active = pbx.api("calls/active")
            assert len(active) == 1 and active[0]["callee"] == ALICE[0], active
            time.sleep(2)
            pbx.pbx("sim", "hangup", "--trunk", "gsm1")
            assert alice.finish().successful == 1
    assert wait_until(lambda: pbx.api("calls/active") == [], timeout=5)
    record, rec = ready_recording(pbx)
    assert record["disposition"] == "answered" and record["callee"] == ALICE[0], record
    steps = [s for s in record["details"]["path"] if s["step"] == "transfer"]
    assert steps and steps[0]["by"] == "102" and steps[0]["to"] == ALICE[0] and steps[0]["result"] == "answered", \
        record["details"]["path"]
    assert len(json.loads(pbx.pbx("calls", "--json").stdout)) == 1  # one call, however many legs
    files = list((pbx.data_dir / "recordings").rglob("*.ogg"))
    assert [f.stem for f in files] == [record["id"]], files
    assert "stopped early" not in (rec.get("note") or ""), rec
    samples = decoded(files[0])
    seconds = len(samples) / 8000
    assert abs(seconds - record["duration"]) <= 0.1, (seconds, record["duration"])
    if channels == "2":
        line, phones = decoded(files[0], channel=1), decoded(files[0], channel=2)
        end = phones[-int(1.5 * 8000):-2000]
        assert level(line[-12000:-2000], LINE_HZ) > 0.5 and level(end, ALICE_HZ) > 0.5, (level(end, ALICE_HZ),)
        assert level(phones[4000:12000], PHONE_HZ) > 0.5
    assert record["duration"] > (transferred - answered) + 1.5
    before = samples[4000:int(TALK_MS / 1000 * 8000) - 2000]  # Bob and the line
    after = samples[-int(1.5 * 8000):-2000]  # Alice and the line
    assert level(before, PHONE_HZ) > 0.2 and level(before, LINE_HZ) > 0.2, (level(before, PHONE_HZ),)
    assert level(after, ALICE_HZ) > 0.2 and level(after, LINE_HZ) > 0.2, (level(after, ALICE_HZ),)
    assert level(after, PHONE_HZ) < 0.05, level(after, PHONE_HZ)


def test_a_transfer_nobody_takes_rings_back_the_phone_that_transferred(pbx: Daemon, tmp_path: Path) -> None:
    """Alice's phone rings and is never picked up: the line hears the hold prompt meanwhile;
    after the ring time Bob's phone rings again ("recall") and he has the caller back."""
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    for name in ("bob", "alice", "bob2"):
        (tmp_path / name).mkdir()
    bob = AnsweringPhone(pbx, tmp_path / "bob", tone_hz=PHONE_HZ, scenario="uas_transfer.xml",
                         hangs_up_after_ms=TALK_MS, params={"TARGET": ALICE[0]})
    with bob:
        answered_line_call(pbx, bob)
        with AnsweringPhone(pbx, tmp_path / "alice", user=ALICE, scenario="uas_ring.xml") as alice:
            assert bob.finish().successful == 1, bob.trace()[-3000:]
            bob.audio.stop()
            assert notify_outcome(bob.trace()) == "200 OK"
            time.sleep(2)  # Alice's phone rings (ring time 4 s)
            hold = pbx.api("sim/gsm1?level=2000")["rms"]  # "Please hold", over and over
            assert hold > 300 and line_hears(pbx, PHONE_HZ) < 0.05, f"the caller hears no hold prompt ({hold})"
            again = AnsweringPhone(pbx, tmp_path / "bob2", tone_hz=PHONE_HZ)
            again.port = bob.port  # Bob's phone, registered again
            with again:
                assert alice.finish().successful == 1  # CANCELled at the ring time
                assert wait_until(lambda: line_hears(pbx, PHONE_HZ) > 0.2, timeout=8), line_hears(pbx, PHONE_HZ)
                pbx.pbx("sim", "hangup", "--trunk", "gsm1")
                assert again.finish().successful == 1
    record = pbx.last_call()
    steps = {s["step"]: s for s in record["details"]["path"]}
    assert steps["transfer"]["result"] == "no answer" and steps["recall"]["result"] == "answered", steps
    assert record["callee"] == "102" and record["disposition"] == "answered", record


def test_a_transfer_to_no_extension_is_refused_and_the_call_goes_on(pbx: Daemon, tmp_path: Path) -> None:
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    bob = AnsweringPhone(pbx, tmp_path, tone_hz=PHONE_HZ, scenario="uas_transfer.xml",
                         hangs_up_after_ms=TALK_MS, params={"TARGET": "555"})
    with bob:
        answered_line_call(pbx, bob)
        assert wait_until(lambda: "NOTIFY sip:" in bob.trace(), timeout=8)
        assert notify_outcome(bob.trace()) == "404 Not Found"
        time.sleep(1)
        active = pbx.api("calls/active")
        assert len(active) == 1 and active[0]["callee"] == "102", active
        assert line_hears(pbx, PHONE_HZ) > 0.2  # still talking to Bob
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert bob.finish().successful == 1  # the BYE came with the line's hang-up
    assert not [s for s in pbx.last_call()["details"]["path"] if s["step"] == "transfer"]


def test_an_extension_transfers_its_call_out_on_a_line_to_a_colleague(pbx: Daemon, tmp_path: Path) -> None:
    """Alice calls a customer out on the line and puts them through to Bob: the line now
    talks to Bob, Alice is free, and the record is Bob's outbound call to that number."""
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    (tmp_path / "bob").mkdir()
    (tmp_path / "alice").mkdir()
    with AnsweringPhone(pbx, tmp_path / "bob", tone_hz=PHONE_HZ) as bob:
        alice = CallingPhone(pbx, tmp_path / "alice", dial="989161234567", tone_hz=ALICE_HZ,
                             hangs_up_after_ms=TALK_MS, transfers_to="102")
        with alice:
            assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "dialing", timeout=10)
            pbx.api("sim/gsm1/answer", {"tone_hz": LINE_HZ})
            assert wait_until(lambda: line_hears(pbx, ALICE_HZ) > 0.2, timeout=5)
            done = alice.finish()
            assert done.successful == 1, done.explain()
            alice.audio.stop()
        assert wait_until(lambda: line_hears(pbx, PHONE_HZ) > 0.2, timeout=8), line_hears(pbx, PHONE_HZ)
        active = pbx.api("calls/active")
        assert len(active) == 1 and active[0]["caller"] == "102", active
        assert not pbx.api("calls/active")[0]["callee"].startswith("10")
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert bob.finish().successful == 1
    record = pbx.last_call()
    assert (record["direction"], record["caller"], record["disposition"]) == ("outbound", "102", "answered"), record
    steps = [s for s in record["details"]["path"] if s["step"] == "transfer"]
    assert steps and (steps[0]["by"], steps[0]["to"], steps[0]["result"]) == ("101", "102", "answered"), steps


def test_the_caller_of_an_extension_call_transfers_the_callee(pbx: Daemon, tmp_path: Path) -> None:
    """Alice calls Bob and puts him through to Carol (103): Bob and Carol talk, the call is
    now Bob's to Carol, and Alice is free for the next call."""
    carol_hz, carol = 1300, ("103", "brisk-Meadow-19")
    pbx.pbx("ext", "add", carol[0], "--name", "Carol", "--password", carol[1])
    for name in ("bob", "alice", "carol"):
        (tmp_path / name).mkdir()
    with AnsweringPhone(pbx, tmp_path / "bob", tone_hz=PHONE_HZ) as bob:
        alice = CallingPhone(pbx, tmp_path / "alice", dial="102", tone_hz=ALICE_HZ, hangs_up_after_ms=TALK_MS,
                             transfers_to=carol[0])
        with alice, AnsweringPhone(pbx, tmp_path / "carol", tone_hz=carol_hz, user=carol,
                                   hangs_up_after_ms=4000) as carol_phone:
            done = alice.finish()
            assert done.successful == 1, done.explain()
            alice.audio.stop()
            assert wait_until(lambda: len(carol_phone.audio.received) > 50, timeout=8)
            time.sleep(1)
            assert tone_level(bob.audio.audio()[-4000:], carol_hz) > 0.2, "Bob does not hear Carol"
            active = pbx.api("calls/active")
            assert [(c["caller"], c["callee"]) for c in active] == [(BOB[0], carol[0])], active
            assert carol_phone.finish().successful == 1  # Carol hangs up ...
        assert bob.finish().successful == 1  # ... and Bob gets the BYE
    record = pbx.last_call()
    assert (record["caller"], record["callee"], record["disposition"]) == (BOB[0], carol[0], "answered"), record
    steps = [s for s in record["details"]["path"] if s["step"] == "transfer"]
    assert steps and (steps[0]["by"], steps[0]["to"], steps[0]["result"]) == (ALICE[0], carol[0], "answered")


def test_hash_hash_and_a_number_transfers_the_call(pbx: Daemon, tmp_path: Path) -> None:
    """A phone without a Transfer key: ## during the call, the number, and # to finish. To a
    number that is no extension, the keys were for the far end after all: they go on."""
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    (tmp_path / "bob").mkdir()
    (tmp_path / "alice").mkdir()
    with AnsweringPhone(pbx, tmp_path / "bob", tone_hz=PHONE_HZ) as bob:
        answered_line_call(pbx, bob)
        for digit in "##555#":
            bob.audio.send_digit(digit, bob.event_pt())
        assert wait_until(lambda: pbx.api("sim/gsm1")["sent_dtmf"] == list("##555"), timeout=10), \
            pbx.api("sim/gsm1")["sent_dtmf"]
        assert pbx.api("calls/active")[0]["callee"] == "102"
        with AnsweringPhone(pbx, tmp_path / "alice", tone_hz=ALICE_HZ, user=ALICE) as alice:
            for digit in "##101#":
                bob.audio.send_digit(digit, bob.event_pt())
            assert bob.finish().successful == 1  # the PBX's BYE once the call is handed on
            bob.audio.stop()
            assert wait_until(lambda: line_hears(pbx, ALICE_HZ) > 0.2, timeout=8), line_hears(pbx, ALICE_HZ)
            assert pbx.api("sim/gsm1")["sent_dtmf"] == list("##555")  # nothing of ##101#
            pbx.pbx("sim", "hangup", "--trunk", "gsm1")
            assert alice.finish().successful == 1
    steps = [s for s in pbx.last_call()["details"]["path"] if s["step"] == "transfer"]
    assert steps and (steps[0]["by"], steps[0]["to"], steps[0]["result"]) == ("102", ALICE[0], "answered"), steps
