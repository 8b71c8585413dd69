"""Callers recognised on the real daemon: a contact imported from a CSV (its mobile written
`8 916 ...`) calls on the simulated GSM line; the phone's INVITE names the contact with the
VIP mark, and the call.ringing event with the caller's history reaches an SSE client
before the phone (SIPp, ringing 2 s like a person reaching for it) answers. Blocked
contacts are hung up unanswered, or told so first; repeat callers are marked."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import requests

from tests.integration.conftest import BOB
from tests.integration.phone import AnsweringPhone
from tests.support.daemon import Daemon, wait_until

CSV = ("name,company,mobile,tier,responsible,notes\n"
       "Ivan Petrov,Acme,8 916 123-45-67,vip,,Buys every spring\n"
       "Spam Co,,+7 (499) 000-00-00,blocked,,\n")


def line_idle(pbx: Daemon) -> bool:
    return pbx.api("status")["lines"]["gsm1"]["state"] == "idle"


class Events:
    """An SSE client on /api/v1/events, in a thread: each event with the time it came."""

    def __init__(self, pbx: Daemon) -> None:
        pbx.api("registrations")  # makes the tests' token
        self.stream = requests.get(f"{pbx.url}/api/v1/events", stream=True, timeout=30,
                                   headers={"Authorization": f"Bearer {pbx._token}"})
        assert self.stream.status_code == 200, self.stream.text
        self.got: list[tuple[float, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    self.got.append((time.time(), json.loads(line[6:])))
        except Exception:  # closed by the test
            pass

    def first(self, kind: str, since: int = 0) -> tuple[float, dict] | None:
        return next(((t, e) for t, e in self.got[since:] if e["type"] == kind), None)

    def close(self) -> None:
        self.stream.close()


def test_a_vip_contact_rings_with_name_and_mark_and_the_history_reaches_the_screen_pop_first(
        pbx: Daemon, tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text(CSV)
    out = pbx.pbx("contacts", "import", str(tmp_path / "contacts.csv"))  # while the daemon runs
    assert "2 contacts imported, 0 rows refused" in out.stdout, out
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    events = Events(pbx)
    try:
        # an earlier call nobody answered (no phone registered): the history's open callback
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "89161234567")
        assert wait_until(lambda: pbx.last_call()["disposition"] in ("unavailable", "no_answer"), timeout=15)
        assert wait_until(lambda: line_idle(pbx), timeout=10)
        missed = pbx.last_call()
        mark = len(events.got)
        with AnsweringPhone(pbx, tmp_path, scenario="uas_answer_late.xml") as phone:
            pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+79161234567")
            assert wait_until(lambda: events.first("call.ringing", mark) is not None, timeout=10), events.got
            assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=15)
            pbx.pbx("sim", "hangup", "--trunk", "gsm1")
            result = phone.finish()
            assert result.successful == 1, result.explain()
            assert 'From: "★ Ivan Petrov (Acme)" <sip:+79161234567@' in phone.invite()
        record = pbx.last_call(2)
        assert record["disposition"] == "answered" and record["details"]["answered_by"] == BOB[0]
        assert record["details"]["contact"]["name"] == "Ivan Petrov"
        seen_at, ringing = events.first("call.ringing", mark)  # type: ignore[misc]
        assert seen_at < record["answer"], "the screen-pop came after the phone answered"
        data = ringing["data"]
        assert data["contact"]["name"] == "Ivan Petrov" and data["contact"]["tier"] == "vip"
        assert data["display"] == "★ Ivan Petrov (Acme)"
        history = data["history"]
        assert history["open_callback"]["call"] == missed["id"] and history["missed"] == 1
        assert history["last_calls"][0]["id"] == missed["id"]
        assert history["contact"]["notes"] == "Buys every spring"
        # the history afterwards: the callback is no longer open, the answer is named
        hist = pbx.api("callers/8%20916%20123-45-67")
        assert hist["open_callback"] is None and hist["calls"][0]["answered_by"] == BOB[0]
    finally:
        events.close()


def test_blocked_callers_are_hung_up_unanswered_or_told_so(pbx: Daemon, tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text(CSV)
    pbx.pbx("contacts", "import", str(tmp_path / "contacts.csv"))
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    with AnsweringPhone(pbx, tmp_path):  # registered, so a call that rang it would show
        assert wait_until(lambda: pbx.api("contacts?q=%2B74990000000")["total"] == 1, timeout=5)
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "84990000000")
        assert wait_until(lambda: pbx.last_call()["disposition"] == "blocked", timeout=10)
        assert pbx.last_call()["answer"] is None
        assert wait_until(lambda: line_idle(pbx), timeout=10), "the line was not hung up"
        assert pbx.last_call()["details"]["contacts"] == []  # no phone was rung
        pbx.pbx("config", "set", "blocked_callers", "announce")
        time.sleep(6)  # the daemon re-reads caller settings every 5 s
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "84990000000")
        assert wait_until(lambda: pbx.api("sim/gsm1")["state"] == "active", timeout=10)  # answered to be told
        assert wait_until(lambda: line_idle(pbx), timeout=20), "not hung up after the announcement"
        record = pbx.last_call(2)
        assert record["disposition"] == "blocked" and record["details"]["path"][0]["action"] == "announce"
        assert record["details"]["contacts"] == []


def test_a_third_call_in_the_window_is_a_repeat_caller(pbx: Daemon, tmp_path: Path) -> None:
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    def records() -> list[dict]:
        return json.loads(pbx.pbx("calls", "--json").stdout)

    for n in range(3):  # nobody is registered: each call ends unanswered at once
        pbx.pbx("sim", "call", "--trunk", "gsm1", "--from", "+79037654321")
        assert wait_until(lambda n=n: len(records()) == n + 1 and line_idle(pbx), timeout=15)
    repeats = [r["details"].get("repeat") for r in reversed(records())]
    assert repeats == [0, 0, 3], repeats
    assert pbx.api("callers/+79037654321")["repeat"]["is_repeat"] is True
