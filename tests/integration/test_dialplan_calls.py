"""The dial plan in the real daemon, with SIPp phones and the simulated GSM line: a caller
hears the IVR's spoken prompt (measured on the line side), presses 2 (in-band on the
SIM7600's PCM), and the sales group rings in hunt order with its ring time; a busy member
is passed over at once; outside hours the closed announcement plays and the line is hung
up, the override flips it; an outbound call fails over from a line that is down; an
extension without the permission gets 403 for a number abroad; a group's outside member
rings through the second line; a group whose members are all busy answers 486. The plan is written with
the store, as `pbx` and the web pages do (cross-process: the daemon sees it at once)."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

from pbx.dialplan.prompts import PromptLibrary
from pbx.dialplan.store import DialPlanStore
from tests.integration.conftest import ALICE, BOB
from tests.integration.phone import AnsweringPhone, CallingPhone
from tests.integration.test_calls import refused
from tests.support import sipp
from tests.support.daemon import Daemon, free_port, wait_until
from tests.support.rtp import RtpEndpoint

CAROL = ("103", "bright-Meadow-19")


def plan(pbx: Daemon) -> DialPlanStore:
    return DialPlanStore(pbx.data_dir)


def line_up(pbx: Daemon, name: str = "gsm1") -> None:
    assert wait_until(lambda: pbx.api("status")["lines"].get(name, {}).get("state") == "idle", timeout=30)


def phone(pbx: Daemon, tmp: Path, user: tuple[str, str], scenario: str) -> subprocess.Popen:
    """A registered SIPp phone that rings unanswered (uas_ring) or is busy (uas_busy)."""
    port = free_port()
    csv = sipp.users_csv(tmp / f"{user[0]}-{scenario}.csv", [user])
    res = sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=csv, local_port=port), tmp)
    assert res.successful == 1, res.explain()
    return sipp.start(sipp.sipp_args(scenario, pbx.sip, csv=csv, local_port=port), tmp)


def heard(pbx: Daemon, threshold: float = 300.0) -> bool:
    return pbx.api("sim/gsm1?level=400")["rms"] > threshold


def steps(record: dict) -> list[dict]:
    return record["details"]["path"]


def test_gsm_caller_hears_the_menu_presses_2_and_sales_ring_in_hunt_order(pbx: Daemon, tmp_path: Path) -> None:
    store = plan(pbx)
    PromptLibrary(pbx.data_dir).from_text("menu", "For sales, press two. For support, press three.", "en")
    store.save("prompt", {"id": "menu", "language": "en", "text": "For sales, press two. For support, press three."})
    store.save("ringgroup", {"id": "sales", "number": "600", "strategy": "hunt", "members": ["101", "102"],
                             "ring_time": 5, "total_time": 30, "name_prefix": "Sales: "})
    store.save("ivr", {"id": "main", "prompt": "menu", "keys": {"2": "ringgroup:sales"}, "first_digit_timeout": 10})
    store.save("inbound", {**store.get("inbound", "default"), "destination": "ivr:main"})
    line_up(pbx)
    alice = phone(pbx, tmp_path, ALICE, "uas_ring.xml")
    with AnsweringPhone(pbx, tmp_path) as bob:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "89161234567")
        assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15), pbx.log()[-3000:]
        assert wait_until(lambda: heard(pbx), timeout=10), "the caller heard no prompt"
        assert bob.proc.poll() is None  # nobody rings while the menu plays
        pbx.pbx("sim", "dtmf", "--trunk", "gsm1", "2")
        time.sleep(3)  # Alice's phone rings; the caller hears "please hold", not silence
        assert heard(pbx) and bob.audio.packets_in == 0
        assert wait_until(lambda: bob.audio.packets_in >= 50, timeout=20), pbx.log()[-3000:]
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert wait_until(lambda: bob.proc.poll() is not None, timeout=10), pbx.log()[-5000:]
        result = bob.finish()
        assert result.successful == 1, result.explain()
        assert '"Sales: +79161234567"' in bob.invite()
    assert sipp.finish(alice, timeout=30).successful == 1  # Alice's phone rang and was cancelled
    record = pbx.last_call()
    assert (record["callee"], record["disposition"]) == (BOB[0], "answered")
    path = steps(record)
    assert [s["step"] for s in path] == ["route", "ivr", "ringgroup", "ring", "ring", "answered"], path
    assert path[1]["keys"] == "2"
    assert [s["members"] for s in path if s["step"] == "ring"] == [["101"], ["102"]]
    assert 4.5 < path[3]["seconds"] < 6.5, path  # Alice rang for the group's ring time
    assert path[5]["ext"] == "102"


def test_hunt_passes_a_busy_member_at_once(pbx: Daemon, tmp_path: Path) -> None:
    pbx.pbx("ext", "add", CAROL[0], "--name", "Carol", "--password", CAROL[1])
    store = plan(pbx)
    store.save("ringgroup", {"id": "support", "strategy": "hunt", "members": ["101", "102", "103"],
                             "ring_time": 5, "total_time": 40})
    store.save("inbound", {**store.get("inbound", "default"), "destination": "ringgroup:support"})
    line_up(pbx)
    alice = phone(pbx, tmp_path, ALICE, "uas_ring.xml")
    bob = phone(pbx, tmp_path, BOB, "uas_busy.xml")
    carol_csv = sipp.users_csv(tmp_path / "carol.csv", [CAROL])
    port = free_port()
    assert sipp.run(sipp.sipp_args("call_register.xml", pbx.sip, csv=carol_csv, local_port=port),
                    tmp_path).successful == 1
    audio = RtpEndpoint(1300).start()
    carol = sipp.start(sipp.sipp_args("uas_call.xml", pbx.sip, csv=carol_csv, local_port=port,
                                      params={"RTPPORT": str(audio.port)}), tmp_path)
    try:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+74951234567")
        assert wait_until(lambda: audio.packets_in >= 50, timeout=25), pbx.log()[-3000:]
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert sipp.finish(carol, timeout=30).successful == 1
    finally:
        audio.stop()
    assert sipp.finish(alice, timeout=30).successful == 1
    assert sipp.finish(bob, timeout=30).successful == 1  # Bob's phone was asked and said busy
    path = steps(pbx.last_call())
    rings = [s for s in path if s["step"] == "ring"]
    assert [s["members"] for s in rings] == [["101"], ["102"], ["103"]], path
    assert 4.5 < rings[0]["seconds"] < 6.5 and rings[1]["seconds"] < 1.5, rings
    assert path[-1] == {**path[-1], "step": "answered", "ext": "103"}


def test_outside_hours_the_closed_announcement_plays_and_the_override_flips_it(pbx: Daemon, tmp_path: Path) -> None:
    store = plan(pbx)
    today = dt.date.today().isoformat()
    store.save("announcement", {"id": "closed", "prompt": "system-closed-en", "then": "hangup"})
    store.save("timecondition", {"id": "hours", "schedule": [{"days": "mon-sun"}], "holidays": [today],
                                 "matched": "ringgroup:everyone", "unmatched": "announcement:closed",
                                 "feature_code": "*27"})
    store.save("inbound", {**store.get("inbound", "default"), "destination": "timecondition:hours"})
    line_up(pbx)
    assert wait_until(lambda: (pbx.data_dir / "prompts" / "system-closed-en.wav").exists(), timeout=20)
    pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+74951234567")
    assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15)
    assert wait_until(lambda: heard(pbx), timeout=10), "the closed announcement was not heard"
    assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "idle", timeout=20), "the line was not hung up"
    record = pbx.last_call()
    assert [s["step"] for s in steps(record)] == ["route", "timecondition", "announcement", "hangup"]
    assert steps(record)[1]["matched"] is False and record["disposition"] != "answered"

    store.save("timecondition", {**store.get("timecondition", "hours"), "override": "matched"})
    with AnsweringPhone(pbx, tmp_path) as bob:
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+74951234567")
        assert wait_until(lambda: bob.audio.packets_in >= 50, timeout=20), pbx.log()[-3000:]
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert bob.finish().successful == 1
    record = pbx.last_call(2)
    assert steps(record)[1] == {**steps(record)[1], "matched": True, "override": "matched"}
    assert record["disposition"] == "answered"


def test_outbound_fails_over_from_a_line_that_is_down(pbx: Daemon, tmp_path: Path) -> None:
    pbx.pbx("trunk", "add", "gsm2", "--type", "gsm", "--dialect", "sim7600", "--port", "sim")
    line_up(pbx, "gsm1")
    line_up(pbx, "gsm2")
    pbx.pbx("sim", "fault", "--trunk", "gsm1", "unplug")
    assert wait_until(lambda: pbx.api("status")["lines"]["gsm1"]["state"] == "down", timeout=15)
    with CallingPhone(pbx, tmp_path, dial="989161234567", hangs_up_after_ms=1500) as alice:
        assert wait_until(lambda: pbx.api("sim/gsm2")["dialed"] == ["89161234567"], timeout=15), pbx.log()[-3000:]
        pbx.api("sim/gsm2/answer", {"tone_hz": 1000})
        assert alice.finish().successful == 1
    record = pbx.last_call()
    assert (record["trunk"], record["disposition"]) == ("gsm2", "answered")
    assert [s["line"] for s in steps(record) if s["step"] in ("line_skipped", "line")] == ["gsm1", "gsm2"]


def test_a_number_abroad_needs_the_permission(pbx: Daemon, tmp_path: Path) -> None:
    line_up(pbx)
    assert refused(pbx, tmp_path, "90611") == "403"  # a short number of unknown cost: no
    assert refused(pbx, tmp_path, "9810442071234567") == "403"
    record = pbx.last_call(2)
    assert record["disposition"] == "forbidden"
    assert [s for s in steps(record) if s["step"] == "refused"][0]["class"] == "international"
    assert pbx.api("sim/gsm1")["dialed"] == []  # nothing went out
    plan(pbx).save("permission", {"id": ALICE[0], "allow": ["internal", "local", "national", "mobile",
                                                           "international"]})
    with CallingPhone(pbx, tmp_path, dial="9810442071234567", hangs_up_after_ms=1000) as alice:
        assert wait_until(lambda: pbx.api("sim/gsm1")["dialed"] == ["810442071234567"], timeout=15), \
            pbx.log()[-3000:]
        pbx.api("sim/gsm1/answer", {})
        assert alice.finish().successful == 1
    assert pbx.last_call(3)["disposition"] == "answered"


def test_sim800_keys_come_as_modem_digits_and_the_prompt_through_the_sound_card(tmp_path: Path) -> None:
    """SIM800 reports keys itself (+DTMF) and speaks through a USB sound card: the menu is
    heard on the card and key 2 from the modem takes the caller to Bob."""
    import numpy as np

    from tests.support.alsa import FileSoundCard

    card = FileSoundCard(tmp_path / "card", tone_hz=0)
    daemon = Daemon(tmp_path / "data", ring_timeout=4, env=card.env())
    daemon.pbx("ext", "add", BOB[0], "--name", "Bob", "--password", BOB[1])
    daemon.pbx("trunk", "add", "sig1", "--dialect", "sim800", "--port", "sim", "--audio-port", card.device)
    store = plan(daemon)
    store.save("ivr", {"id": "main", "prompt": "system-hold-en", "keys": {"2": "extension:102"},
                       "first_digit_timeout": 10})
    store.save("inbound", {**store.get("inbound", "default"), "destination": "ivr:main"})
    daemon.start()
    try:
        daemon.pbx("trunk", "del", "gsm1")
        assert wait_until(lambda: daemon.api("status")["lines"].get("sig1", {}).get("state") == "idle", timeout=15)
        assert wait_until(lambda: (daemon.data_dir / "prompts" / "system-hold-en.wav").exists(), timeout=20)
        with AnsweringPhone(daemon, tmp_path) as bob:
            daemon.pbx("sim", "call", "--trunk", "sig1", "--from", "+79161234567")

            def card_hears() -> bool:
                played = card.played()[-4000:].astype(np.float64)
                return played.size > 0 and float(np.sqrt(np.mean(played ** 2))) > 300

            assert wait_until(card_hears, timeout=15), "the menu did not reach the sound card"
            daemon.pbx("sim", "dtmf", "--trunk", "sig1", "2")
            assert wait_until(lambda: bob.audio.packets_in >= 50, timeout=15), daemon.log()[-3000:]
            daemon.pbx("sim", "hangup", "--trunk", "sig1")
            assert bob.finish().successful == 1
        record = daemon.last_call()
        assert (record["trunk"], record["callee"], record["disposition"]) == ("sig1", BOB[0], "answered")
        assert [s.get("keys") for s in steps(record) if s["step"] == "ivr"] == ["2"]
    finally:
        assert daemon.stop() == 0, daemon.log()[-2000:]


def test_a_ring_group_rings_an_outside_member_through_the_other_line(pbx: Daemon, tmp_path: Path) -> None:
    """Hunt: Bob's phone rings its 5 s unanswered, then the mobile rings through gsm2 (gsm1
    carries the caller); the mobile answers and each side hears the other's audio."""
    pbx.pbx("trunk", "add", "gsm2", "--type", "gsm", "--dialect", "sim7600", "--port", "sim")
    store = plan(pbx)
    store.save("ringgroup", {"id": "duty", "strategy": "hunt", "members": [BOB[0], "+79161234567"],
                             "ring_time": 5, "total_time": 40})
    store.save("inbound", {**store.get("inbound", "default"), "destination": "ringgroup:duty"})
    line_up(pbx, "gsm1")
    line_up(pbx, "gsm2")
    bob = phone(pbx, tmp_path, BOB, "uas_ring.xml")
    pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+74951234567", "--tone", "700")
    started = time.monotonic()
    assert wait_until(lambda: pbx.api("sim/gsm2")["dialed"] == ["+79161234567"], timeout=20), pbx.log()[-4000:]
    assert 4.0 < time.monotonic() - started < 9.0  # after Bob's ring time
    pbx.api("sim/gsm2/answer", {"tone_hz": 1000})
    assert wait_until(lambda: heard(pbx), timeout=10), "the caller does not hear the mobile"
    assert wait_until(lambda: pbx.api("sim/gsm2?level=400")["rms"] > 300, timeout=10), "the mobile hears nothing"
    pbx.pbx("sim", "hangup", "--trunk", "gsm1")
    assert wait_until(lambda: pbx.api("sim/gsm2")["state"] == "idle", timeout=15), "the mobile's line stayed up"
    assert sipp.finish(bob, timeout=30).successful == 1
    pbx.last_call(2)
    records = json.loads(pbx.pbx("calls", "--json").stdout)
    inbound = next(r for r in records if r["direction"] == "inbound")
    path = steps(inbound)
    assert [s["members"] for s in path if s["step"] == "ring"] == [[BOB[0]], ["+79161234567"]], path
    assert path[-1] == {**path[-1], "step": "answered", "ext": "+79161234567"}
    assert inbound["disposition"] == "answered"
    member = next(r for r in records if r["direction"] == "outbound")  # the mobile's own record
    assert (member["trunk"], member["callee"], member["disposition"]) == ("gsm2", "+79161234567", "answered")
    assert steps(member)[0] == {**steps(member)[0], "step": "member_of", "call": inbound["id"]}


def test_a_group_whose_every_member_is_busy_answers_486(pbx: Daemon, tmp_path: Path) -> None:
    plan(pbx).save("ringgroup", {"id": "desk", "number": "600", "strategy": "ringall", "members": [BOB[0]],
                                 "ring_time": 10, "total_time": 20})
    bob = phone(pbx, tmp_path, BOB, "uas_busy.xml")
    assert refused(pbx, tmp_path, "600") == "486"  # busy, not "temporarily unavailable"
    assert sipp.finish(bob, timeout=30).successful == 1
    assert pbx.last_call()["disposition"] == "busy"
