"""The delivery workers against a real receiver on 127.0.0.1: a dead letter after the
configured age raises the outbox.dead_letter alert (itself an event), the queue moves on."""
from __future__ import annotations

from pathlib import Path

from pbx.crm.config import CrmConfig
from pbx.crm.delivery import DeliveryService
from pbx.crm.outbox import Outbox
from pbx.crm.recorder import Recorder
from pbx.crm.webhooks import WebhookStore
from pbx.events import EventBus
from pbx.store.journal import CallJournal
from tests.support.daemon import free_port, wait_until
from tests.support.webhook_receiver import Receiver


def test_a_dead_letter_raises_an_alert_and_the_next_event_goes(tmp_path: Path) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    outbox, hooks, bus = Outbox(journal), WebhookStore(journal), EventBus()
    receiver = Receiver(free_port(), lifetime=60).up()
    receiver.mode = "500"  # the first event fails until it is dead
    endpoint = hooks.add({"url": f"http://127.0.0.1:{receiver.port}/hook"})
    receiver.secret = endpoint.secret
    recorder = Recorder(bus, outbox, ringing_extra=lambda call: {"history": {"calls": 2, "of": call["caller"]}}).start()
    cfg = CrmConfig(dead_letter_after=2, retry_base=0.2, retry_max=0.5, request_timeout=1, resync=0.5)
    service = DeliveryService(outbox, hooks, bus, cfg).start()
    try:
        bus.publish("line_state", line="gsm1", state="down", reason="unplugged")
        assert wait_until(lambda: outbox.list(state="dead"), timeout=15), receiver.dump()
        receiver.mode = "ok"
        bus.publish("call_started", id="c1", caller="+79161234567", callee="*", trunk="gsm1")
        bus.publish("registration", ext="101", contacts=[])  # not part of the contract
        assert wait_until(lambda: len(receiver.accepted) == 2, timeout=15), receiver.dump()
        # the alert is published just after the delivery is marked dead: either may come first
        got = {e["type"]: e for e in receiver.accepted}
        alert, ringing = got["outbox.dead_letter"], got["call.ringing"]
        assert ringing["type"] == "call.ringing" and ringing["data"]["history"] == {"calls": 2, "of": "+79161234567"}
        assert alert["type"] == "outbox.dead_letter" and alert["data"]["event_type"] == "line.down"
        assert alert["data"]["attempts"] >= 2 and alert["data"]["error"] == "HTTP 500"
        dead = outbox.list(state="dead")
        assert [d["type"] for d in dead] == ["line.down"] and dead[0]["last_status"] == 500
        assert outbox.get(dead[0]["id"])["payload"]["data"]["reason"] == "unplugged"
        assert receiver.answered["500"] >= 2  # retried before it was given up
        assert receiver.duplicates() == {} and receiver.bad_signatures == 0
    finally:
        service.stop()
        recorder.stop()
        receiver.down()
        journal.close()
