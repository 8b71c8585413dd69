"""The outbox on a real SQLite journal: fan-out, order, the journal hook's atomicity,
retry/drop, backoff and Retry-After."""
from __future__ import annotations

import email.utils
import json
import random
import sqlite3
import time
from pathlib import Path

import pytest

from pbx.crm.config import Clock, CrmConfig
from pbx.crm.delivery import backoff, parse_retry_after, retry_delay
from pbx.crm.outbox import Outbox
from pbx.crm.webhooks import WebhookStore
from pbx.errors import Conflict, NotFound, StorageError, ValidationError
from pbx.store.journal import CallJournal, CallRecord


@pytest.fixture
def crm(tmp_path: Path):
    journal = CallJournal(tmp_path / "calls.sqlite")
    outbox, hooks = Outbox(journal), WebhookStore(journal)
    journal.on_record = outbox.on_record
    yield journal, outbox, hooks
    journal.close()


def record(id: str, direction: str = "inbound", answered: bool = False) -> CallRecord:
    now = time.time()
    return CallRecord(id=id, caller="+79161234567", callee="101", direction=direction, trunk="gsm1",
                      start=now - 5, answer=now - 3 if answered else None, end=now,
                      duration=3.0 if answered else 0.0, disposition="answered" if answered else "no_answer")


def test_each_event_fans_out_to_each_enabled_endpoint_that_takes_its_type(crm) -> None:
    _, outbox, hooks = crm
    every = hooks.add({"url": "http://127.0.0.1:9/a"})
    sms_only = hooks.add({"url": "https://crm.example/hook", "types": ["sms.received"]})
    hooks.add({"url": "http://127.0.0.1:9/off", "enabled": False})
    outbox.append("line.down", {"line": "gsm1"})
    outbox.append("sms.received", {"sender": "+7916", "text": "hi"})
    assert [d["type"] for d in outbox.list(endpoint=every.id)] == ["sms.received", "line.down"]
    assert [d["type"] for d in outbox.list(endpoint=sms_only.id)] == ["sms.received"]
    assert outbox.counts() == {"pending": 3, "delivered": 0, "dead": 0}
    assert "secret" not in every.public() and every.secret.startswith("whsec_")


def test_head_keeps_order_per_endpoint_until_delivered_or_dead(crm) -> None:
    _, outbox, hooks = crm
    a = hooks.add({"url": "http://127.0.0.1:9/a"})
    events = [outbox.append("sms.received", {"n": n}) for n in range(3)]
    head = outbox.head(a.id)
    assert head is not None and head.event == events[0]
    outbox.failed(head.id, "HTTP 500", 500, time.time() + 60)
    again = outbox.head(a.id)
    assert again is not None and again.event == events[0] and again.attempts == 1  # still first: it waits
    outbox.delivered(head.id, 200)
    second = outbox.head(a.id)
    assert second is not None and second.event == events[1]
    outbox.dead(second.id, "timeout", None)
    assert outbox.head(a.id).event == events[2]  # type: ignore[union-attr]
    assert json.loads(events[2].payload) == {"type": "sms.received", "timestamp": json.loads(events[2].payload)[
        "timestamp"], "data": {"n": 2}}
    assert events[2].msg_id.startswith("msg_") and len({e.msg_id for e in events}) == 3


def test_call_ended_and_missed_commit_with_the_call_record_or_not_at_all(crm) -> None:
    journal, outbox, hooks = crm
    a = hooks.add({"url": "http://127.0.0.1:9/a"})
    journal.add(record("c1"))
    journal.add(record("c2", answered=True))
    assert [d["type"] for d in reversed(outbox.list(endpoint=a.id))] == ["call.ended", "call.missed", "call.ended"]
    assert outbox.get(outbox.list()[0]["id"])["payload"]["data"]["id"] == "c2"

    def failing(conn: sqlite3.Connection, rec: CallRecord) -> None:
        outbox.on_record(conn, rec)
        raise sqlite3.OperationalError("disk I/O error")

    told = []
    outbox.listeners.append(told.append)

    journal.on_record = failing
    with pytest.raises(StorageError):
        outbox.add_record(record("c3"))
    assert journal.count() == 2 and len(outbox.list()) == 3  # neither the record nor its events
    assert told == []  # and no live client heard of events that were never written
    journal.on_record = outbox.on_record
    assert [e.type for e in outbox.add_record(record("c4"))] == ["call.ended", "call.missed"]
    assert [e.type for e in told] == ["call.ended", "call.missed"]  # told once committed
    blocked = record("c5")
    blocked.disposition = "blocked"
    assert [e.type for e in outbox.add_record(blocked)] == ["call.ended"]  # turned away, not missed


def test_retry_and_drop(crm) -> None:
    _, outbox, hooks = crm
    a = hooks.add({"url": "http://127.0.0.1:9/a"})
    first, second = outbox.append("line.up", {}), outbox.append("line.down", {})
    head = outbox.head(a.id)
    outbox.dead(head.id, "HTTP 410", 410)  # type: ignore[union-attr]
    dead = outbox.list(state="dead")
    assert [d["msg_id"] for d in dead] == [first.msg_id]
    woken = []
    outbox.wake = lambda: woken.append(1)
    assert outbox.retry(dead[0]["id"])["state"] == "pending" and woken
    assert outbox.head(a.id).event == first  # type: ignore[union-attr]  # back in its place
    outbox.drop(dead[0]["id"])
    assert outbox.head(a.id).event == second  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        outbox.drop(dead[0]["id"])
    outbox.delivered(outbox.head(a.id).id, 204)  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        outbox.retry(outbox.list(state="delivered")[0]["id"])
    with pytest.raises(ValidationError):
        outbox.list(state="lost")


def test_deleting_an_endpoint_drops_its_waiting_deliveries(crm) -> None:
    _, outbox, hooks = crm
    a, b = hooks.add({"url": "http://127.0.0.1:9/a"}), hooks.add({"url": "http://127.0.0.1:9/b"})
    outbox.append("line.up", {})
    hooks.delete(a.id)
    assert [d["endpoint_id"] for d in outbox.list()] == [b.id]
    with pytest.raises(NotFound):
        hooks.get(a.id)


def test_bad_endpoints_are_refused_naming_the_field(crm) -> None:
    _, _, hooks = crm
    for data, field in (({"url": "ftp://x"}, "url"), ({"url": "http://"}, "url"),
                        ({"url": "http://x", "types": ["call.exploded"]}, "types")):
        with pytest.raises(ValidationError) as err:
            hooks.add(data)
        assert err.value.details["field"] == field


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [backoff(n, base=5, cap=3600, rng=rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        full = min(3600, 5 * 2 ** (n - 1))
        assert full / 2 <= delay <= full
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered
    assert max(delays) <= 3600


def test_retry_after_in_seconds_or_http_date_wins_over_backoff() -> None:
    now = time.time()
    assert parse_retry_after("120") == 120
    assert abs(parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=now) - 90) < 1.01  # type: ignore[operator]
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True)) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    cfg = CrmConfig(dead_letter_after=1000)
    assert retry_delay(1, 120, cfg) == 120 and retry_delay(1, 10**9, cfg) == 1000
    assert 2.5 <= retry_delay(1, None, cfg) <= 5


def test_settings_and_environment_and_the_fast_clock() -> None:
    cfg = CrmConfig.load({"crm_retry_base": "2"}.get, env={"PBX_CRM_CLOCK_SPEED": "600"})
    assert cfg.retry_base == 2 and cfg.clock_speed == 600 and cfg.dead_letter_after == 86400
    with pytest.raises(Exception) as err:
        CrmConfig.load({"crm_request_timeout": "-1"}.get, env={})
    assert "crm_request_timeout" in str(err.value)
    clock = Clock(600)
    assert abs(clock.age(time.time() - 6) - 3600) < 5  # six real seconds are a delivery hour
    assert abs(clock.after(3600) - time.time() - 6) < 0.1


def test_a_slow_history_never_lets_a_call_end_before_it_rang(crm) -> None:
    """The recorder writes in the order things happened: the ringing event (whose history
    takes a while) before the record and its call.ended, which the B2BUA hands it later."""
    from pbx.crm.recorder import Recorder
    from pbx.events import EventBus

    _, outbox, hooks = crm
    a = hooks.add({"url": "http://127.0.0.1:9/a"})
    bus = EventBus()

    def slow_history(data: dict) -> dict:
        time.sleep(0.8)
        return {"history": {"calls": 1}}

    recorder = Recorder(bus, outbox, ringing_extra=slow_history).start()
    bus.publish("call_started", id="c1", caller="+79161234567", callee="*", direction="inbound")
    bus.publish("call_answered", id="c1", caller="+79161234567", callee="101", by="101")
    time.sleep(0.1)  # the recorder is busy with the history now
    recorder.add(record("c1", answered=True))
    recorder.stop()
    types = [d["type"] for d in sorted(outbox.list(endpoint=a.id), key=lambda d: d["event_id"])]
    assert types == ["call.ringing", "call.answered", "call.ended"]
    ringing = next(d for d in outbox.list(endpoint=a.id) if d["type"] == "call.ringing")
    assert outbox.get(ringing["id"])["payload"]["data"]["history"] == {"calls": 1}


def test_a_live_client_far_behind_or_resuming_after_a_restart_gets_every_event(crm) -> None:
    from pbx.crm.sse import EventHub

    _, outbox, _ = crm
    hub = EventHub(outbox, size=5, keepalive=0.2)
    outbox.append_many([("sms.received", {"n": n}, time.time()) for n in range(1200)])  # far past the ring

    def seqs(hub: EventHub, last: str, until: int) -> list[int]:
        stream, got = hub.open(last), []
        for chunk in stream:
            got += [int(line[4:]) for line in chunk.splitlines() if line.startswith("id: ")]
            if got and got[-1] >= until:
                break
        stream.close()
        return got

    assert seqs(hub, "0", 1200) == list(range(1, 1201))
    restarted = EventHub(outbox, size=5, keepalive=0.2)  # an empty ring, events on the disk
    assert seqs(restarted, "1000", 1200) == list(range(1001, 1201))
    assert restarted.clients == 0


def test_a_dead_letter_alert_does_not_pass_on_an_endpoints_secrets() -> None:
    from pbx.crm.delivery import public_url

    url, error = public_url("https://crm:s3cret@example.com:8443/hook?token=abc123",
                            "HTTPSConnectionPool: Max retries exceeded with url: /hook?token=abc123 (s3cret)")
    assert url == "https://example.com:8443/hook"
    assert "abc123" not in error and "s3cret" not in error and "Max retries" in error
