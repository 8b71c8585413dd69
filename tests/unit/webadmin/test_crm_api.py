"""The CRM REST resources through Flask's client, and the live-event stream through the
real waitress server the daemon uses (events flushed at once, resume, client limit)."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests

from pbx.crm.sse import EventHub
from pbx.services import open_services
from tests.support.daemon import wait_until
from webadmin.app import create_app
from webadmin.server import WebServer


@pytest.fixture
def crm(tmp_path: Path):
    services = open_services(tmp_path)
    services.events = EventHub(services.outbox, size=3, max_clients=2, keepalive=0.5)  # type: ignore[arg-type]
    app = create_app(services, secret_key=b"k" * 32)
    yield app, services, {"Authorization": "Bearer " + services.tokens.create("crm")}
    services.events.close()
    services.close()


def test_webhook_crud_shows_the_secret_once(crm) -> None:
    app, services, auth = crm
    client = app.test_client()
    assert client.get("/api/v1/crm/webhooks").status_code == 401
    resp = client.post("/api/v1/crm/webhooks", headers=auth, json={"url": "https://crm.example/in",
                                                                    "types": ["call.ended", "call.missed"]})
    assert resp.status_code == 201 and resp.get_json()["secret"].startswith("whsec_")
    hook = resp.get_json()["id"]
    assert "secret" not in client.get(f"/api/v1/crm/webhooks/{hook}", headers=auth).get_json()
    assert all("secret" not in h for h in client.get("/api/v1/crm/webhooks", headers=auth).get_json())
    bad = client.post("/api/v1/crm/webhooks", headers=auth, json={"url": "gopher://x"})
    assert bad.status_code == 400 and bad.get_json()["details"] == {"field": "url"}
    changed = client.put(f"/api/v1/crm/webhooks/{hook}", headers=auth, json={"enabled": False})
    assert changed.get_json()["enabled"] is False and changed.get_json()["types"] == ["call.ended", "call.missed"]
    assert client.delete(f"/api/v1/crm/webhooks/{hook}", headers=auth).status_code == 204
    missing = client.get(f"/api/v1/crm/webhooks/{hook}", headers=auth)
    assert missing.status_code == 404 and set(missing.get_json()) == {"error_id", "message", "details"}


def test_outbox_list_retry_and_drop(crm) -> None:
    app, services, auth = crm
    client = app.test_client()
    hook = services.webhooks.add({"url": "http://127.0.0.1:9/"})
    services.outbox.append("sms.received", {"text": "hi"})
    listed = client.get("/api/v1/crm/outbox?state=pending", headers=auth).get_json()
    assert listed["counts"] == {"pending": 1, "delivered": 0, "dead": 0}
    delivery = listed["deliveries"][0]
    assert delivery["endpoint_id"] == hook.id and delivery["type"] == "sms.received"
    services.outbox.dead(delivery["id"], "HTTP 500", 500)
    assert client.get(f"/api/v1/crm/outbox?state=dead&endpoint={hook.id}", headers=auth).get_json()[
        "deliveries"][0]["last_error"] == "HTTP 500"
    retried = client.post(f"/api/v1/crm/outbox/{delivery['id']}/retry", headers=auth)
    assert retried.status_code == 200 and retried.get_json()["state"] == "pending"
    assert client.get(f"/api/v1/crm/outbox/{delivery['id']}", headers=auth).get_json()["payload"]["data"] == {
        "text": "hi"}
    assert client.delete(f"/api/v1/crm/outbox/{delivery['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/crm/outbox/{delivery['id']}", headers=auth).status_code == 404
    assert client.get("/api/v1/crm/outbox?state=lost", headers=auth).status_code == 400
    assert client.get("/api/v1/crm/outbox?limit=x", headers=auth).status_code == 400


def _sse(port: int, token: str, last: str | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    extra = f"Last-Event-ID: {last}\r\n" if last else ""
    sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n{extra}\r\n".encode())
    return sock


def _read_until(sock: socket.socket, marker: bytes, timeout: float = 3.0) -> bytes:
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += sock.recv(65536)
    return data


def test_live_events_flush_at_once_resume_and_limit_clients_over_waitress(crm) -> None:
    app, services, auth = crm
    token = auth["Authorization"].split()[1]
    web = WebServer(app, "127.0.0.1", 0, threads=4 + 2)
    web.start()
    try:
        first = _sse(web.port, token)
        assert b"text/event-stream" in _read_until(first, b"connected")
        sent = time.monotonic()
        event = services.outbox.append("line.down", {"line": "gsm1", "reason": "unplugged"})
        got = _read_until(first, b"unplugged")
        assert time.monotonic() - sent < 0.5  # not held in a buffer
        assert f"id: {event.seq}\nevent: line.down\ndata: {event.payload}\n\n".encode() in got
        assert b": keep-alive" in _read_until(first, b"keep-alive")

        for n in range(5):  # the ring holds 3: an older resume point is read from the disk
            services.outbox.append("sms.received", {"n": n})
        second = _sse(web.port, token, last=str(event.seq))
        resumed = _read_until(second, b'"n":4')
        assert [resumed.count(f'"n":{n}}}'.encode()) for n in range(5)] == [1] * 5 and b"unplugged" not in resumed

        busy = requests.get(f"http://127.0.0.1:{web.port}/api/v1/events", headers=auth, timeout=5)
        assert busy.status_code == 503 and busy.json()["error_id"] == "busy"
        started = time.monotonic()  # both SSE slots taken: other requests are still served
        assert requests.get(f"http://127.0.0.1:{web.port}/api/v1/crm/webhooks", headers=auth,
                            timeout=5).status_code == 200
        assert time.monotonic() - started < 1
        first.close()
        second.close()
        assert wait_until(lambda: services.events.clients == 0, timeout=5)  # slots freed
        third = _sse(web.port, token)
        assert b"200 OK" in _read_until(third, b"connected")
        third.close()
    finally:
        services.events.close()
        web.stop()
