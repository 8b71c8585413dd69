"""Webhooks from the real daemon to real receivers on 127.0.0.1 that verify every
signature. The delivery clock runs 600 times fast (PBX_CRM_CLOCK_SPEED=600: six real
seconds are a simulated hour of backoff) and the daemon waits 1 s for an answer
(PBX_CRM_REQUEST_TIMEOUT=1), so an hour's outage and the failures after it take seconds.
Events come from text messages the simulated GSM line receives."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import requests

from tests.support.daemon import Daemon, free_port, wait_until
from tests.support.webhook_receiver import Receiver

FAST = {"PBX_CRM_CLOCK_SPEED": "600", "PBX_CRM_REQUEST_TIMEOUT": "1", "PBX_CRM_RESYNC": "1"}


def add_webhook(daemon: Daemon, url: str, *extra: str) -> tuple[str, str]:
    out = daemon.pbx("crm", "webhook", "add", url, *extra).stdout
    endpoint = out.split()[1]
    secret = out.split("signing secret: ")[1].split()[0]
    return endpoint, secret


def line_up(daemon: Daemon) -> bool:
    return any(t["name"] == "gsm1" and t["state"] == "idle" for t in daemon.api("trunks"))


def sms(daemon: Daemon, n: int) -> None:
    daemon.api("sim/gsm1/sms", {"from": "89161234567", "text": f"message {n}"})


def outbox_order(daemon: Daemon, endpoint: str) -> list[str]:
    """The endpoint's webhook-ids in the order the outbox must deliver them."""
    rows = daemon.api(f"crm/outbox?endpoint={endpoint}&limit=1000")["deliveries"]  # type: ignore[call-overload]
    return [r["msg_id"] for r in sorted(rows, key=lambda r: r["event_id"])]


def texts(receiver: Receiver) -> list[str]:
    return [e["data"]["text"] for e in receiver.of_type("sms.received")]


def test_an_hour_down_then_errors_then_healthy_every_event_once_in_order(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data", env=FAST)
    flaky = Receiver(free_port(), lifetime=240)  # not up: connections are refused
    steady = Receiver(free_port(), lifetime=240).up()
    flaky_id, flaky.secret = add_webhook(daemon, f"http://127.0.0.1:{flaky.port}/hook")
    steady_id, steady.secret = add_webhook(daemon, f"http://127.0.0.1:{steady.port}/in", "--types", "sms.received")
    daemon.start()
    try:
        assert wait_until(lambda: line_up(daemon), timeout=20)
        for n in range(5):
            sms(daemon, n)
        # one endpoint down does not hold the other
        assert wait_until(lambda: len(texts(steady)) == 5, timeout=30), steady.dump()
        time.sleep(6)  # a simulated hour of refused connections
        waiting = daemon.api(f"crm/outbox?endpoint={flaky_id}&state=pending")["deliveries"]  # type: ignore[call-overload]
        head = min(waiting, key=lambda r: r["event_id"])
        assert len(waiting) >= 6 and head["attempts"] >= 6, head  # backed off, not hammered nor given up
        assert "Connection" in head["last_error"], head
        assert all(r["attempts"] == 0 for r in waiting if r is not head)  # the others wait their turn

        flaky.script = ["500", "timeout", "garbage", "500", "garbage", "timeout"]
        flaky.up()
        for n in range(5, 10):
            sms(daemon, n)
        assert wait_until(lambda: len(texts(flaky)) == 10 and len(texts(steady)) == 10, timeout=60), flaky.dump()
        assert wait_until(lambda: not daemon.api("crm/outbox?state=pending")["deliveries"], timeout=20)  # type: ignore[call-overload]
        time.sleep(1.5)  # nothing more arrives late

        assert not flaky.script and flaky.answered["500"] == 2 and flaky.answered["timeout"] == 2, flaky.dump()
        assert flaky.bad_signatures == 0 and steady.bad_signatures == 0
        for receiver, endpoint in ((flaky, flaky_id), (steady, steady_id)):
            assert receiver.duplicates() == {}
            assert [e["id"] for e in receiver.accepted] == outbox_order(daemon, endpoint)  # in order, each once
            assert texts(receiver) == [f"message {n}" for n in range(10)]
        assert {e["type"] for e in flaky.accepted} >= {"line.up", "sms.received"}
        ev = flaky.of_type("sms.received")[0]
        assert ev["data"]["sender"] == "+79161234567" and ev["timestamp"].endswith("Z")
        listing = daemon.pbx("crm", "outbox", "list", "--state", "delivered").stdout
        assert "sms.received" in listing and "0 pending" in listing
    finally:
        assert daemon.stop() == 0, daemon.log()[-3000:]
        flaky.down()
        steady.down()


def test_killed_between_writing_and_delivering_the_event_is_delivered_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Daemon(data, env=FAST)
    receiver = Receiver(free_port(), lifetime=240).up()
    endpoint, receiver.secret = add_webhook(first, f"http://127.0.0.1:{receiver.port}/hook", "--types", "sms.received")
    receiver.mode = "block"  # the daemon's request hangs: written, sent, never acknowledged
    first.start()
    try:
        assert wait_until(lambda: line_up(first), timeout=20)
        sms(first, 1)
        assert wait_until(lambda: len(receiver.seen) == 1, timeout=20), receiver.dump()
        first.stop(signal.SIGKILL)
    finally:
        first.stop(signal.SIGKILL)
    receiver.mode = "ok"
    receiver.release.set()  # its answer goes to a dead socket

    second = Daemon(data, env=FAST)
    second._token = first._token  # the REST token the tests made stays valid
    second.start()
    try:
        assert wait_until(lambda: len(receiver.accepted) == 1, timeout=30), receiver.dump()
        assert wait_until(lambda: line_up(second), timeout=20)
        sms(second, 2)
        assert wait_until(lambda: len(receiver.accepted) == 2, timeout=30), receiver.dump()
        time.sleep(1.5)
        assert texts(receiver) == ["message 1", "message 2"]
        assert receiver.duplicates() == {} and receiver.bad_signatures == 0
        assert receiver.seen.count(receiver.accepted[0]["id"]) == 2  # sent before the kill and after the restart
        rows = second.api(f"crm/outbox?endpoint={endpoint}")["deliveries"]  # type: ignore[call-overload]
        assert [r["state"] for r in rows] == ["delivered", "delivered"]
    finally:
        assert second.stop() == 0, second.log()[-3000:]
        receiver.down()


def test_an_unanswered_gsm_call_is_ringing_ended_and_missed_on_the_webhook_and_the_live_stream(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data", ring_timeout=2, env=FAST)
    receiver = Receiver(free_port(), lifetime=120).up()
    _, receiver.secret = add_webhook(daemon, f"http://127.0.0.1:{receiver.port}/hook",
                                     "--types", "call.ringing,call.ended,call.missed")
    daemon.start()
    try:
        assert wait_until(lambda: line_up(daemon), timeout=20)
        daemon.api("registrations")  # makes the tests' token
        stream = requests.get(f"{daemon.url}/api/v1/events", stream=True, timeout=10,
                              headers={"Authorization": f"Bearer {daemon._token}"})
        assert stream.status_code == 200
        daemon.api("sim/gsm1/call", {"from": "89161234567"})
        live = []
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                live.append(json.loads(line[6:]))
                if live[-1]["type"] == "call.missed":
                    break
        stream.close()
        assert [e["type"] for e in live if e["type"].startswith("call.")][0] == "call.ringing"
        assert wait_until(lambda: len(receiver.accepted) == 3, timeout=20), receiver.dump()
        ringing, ended, missed = receiver.accepted
        assert [ringing["type"], ended["type"], missed["type"]] == ["call.ringing", "call.ended", "call.missed"]
        assert ringing["data"]["caller"] == "+79161234567" and ringing["data"]["trunk"] == "gsm1"
        record = daemon.last_call()
        assert ended["data"] == missed["data"] == record  # the whole call record
        assert record["direction"] == "inbound" and record["answer"] is None
    finally:
        assert daemon.stop() == 0, daemon.log()[-3000:]
        receiver.down()
