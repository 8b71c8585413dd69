"""The owner's CRM page through Flask's client: login and CSRF, an endpoint added with its
secret shown in that answer only, refused input shown on the page with nothing stored,
enable/disable and delete, and the outbox's counts, waiting head, Retry and Drop on the
same stores the REST bridge and the CLI use."""
from __future__ import annotations

import re
import time

import pytest

from tests.unit.webadmin.conftest import Plan, csrf
from webadmin.crm_pages import ago


def add(client, url: str = "http://127.0.0.1:9/hook", types: tuple[str, ...] = (), **extra):  # type: ignore[no-untyped-def]
    return client.post("/crm/webhooks", data={"url": url, "types": list(types), "csrf_token": csrf(client, "/crm"),
                                              **extra})


def post(client, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={**data, "csrf_token": csrf(client, "/crm")})


def test_the_page_needs_a_login_and_its_forms_csrf(plan: Plan) -> None:
    anonymous = plan.app.test_client()
    resp = anonymous.get("/crm")
    assert resp.status_code == 302 and "/login" in resp.location
    token = csrf(anonymous, "/login")  # a valid form token, but nobody logged in
    for path in ("/crm/webhooks", "/crm/webhooks/wh_x/enabled", "/crm/webhooks/wh_x/delete",
                 "/crm/outbox/1/retry", "/crm/outbox/1/drop"):
        resp = anonymous.post(path, data={"url": "http://127.0.0.1/x", "csrf_token": token})
        assert resp.status_code == 302 and "/login" in resp.location, path
    assert plan.services.webhooks.list() == []

    owner = plan.owner()
    assert 'href="/crm">CRM</a>' in owner.get("/").get_data(as_text=True)  # the nav link
    assert owner.post("/crm/webhooks", data={"url": "http://127.0.0.1/x"}).status_code == 400  # no token
    endpoint = plan.services.webhooks.add({"url": "http://127.0.0.1/y"})
    event = plan.services.outbox.append("sms.received", {"trunk": "gsm1", "sender": "+79161234567", "text": "x"})
    delivery = plan.services.outbox.list()[0]["id"]
    for path in (f"/crm/webhooks/{endpoint.id}/enabled", f"/crm/webhooks/{endpoint.id}/delete",
                 f"/crm/outbox/{delivery}/drop"):
        assert owner.post(path, data={"enabled": "0"}).status_code == 400, path
    assert plan.services.webhooks.get(endpoint.id).enabled
    assert plan.services.outbox.head(endpoint.id).event.msg_id == event.msg_id


def test_an_endpoint_is_added_and_its_secret_shown_once(plan: Plan) -> None:
    owner = plan.owner()
    page = owner.get("/crm").get_data(as_text=True)
    assert "No webhook endpoints yet." in page and 'value="contact.changed"' in page
    resp = add(owner, "https://crm.example/in", ("contact.changed", "sms.received"), description="Our CRM")
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    [endpoint] = plan.services.webhooks.list()
    assert (endpoint.url, endpoint.types, endpoint.description) == ("https://crm.example/in",
                                                                    ("contact.changed", "sms.received"), "Our CRM")
    page = resp.get_data(as_text=True)
    shown = re.search(r'<code id="secret">(whsec_[^<]+)</code>', page).group(1)
    assert shown == endpoint.secret and "Shown once" in page and "webhook-signature" in page
    assert "contact.changed, sms.received" in page and "Webhook https://crm.example/in added." in page
    later = owner.get("/crm").get_data(as_text=True)
    assert endpoint.secret not in later and 'id="secret"' not in later and f"webhook-{endpoint.id}" in later
    assert "every event" in add(owner, "http://10.0.0.5:8080/hook").get_data(as_text=True)  # no type ticked


@pytest.mark.parametrize("url, types, message, field", [
    ("ftp://crm.example/in", (), "url: an http:// or https:// address", "url"),
    ("", (), "url: an http:// or https:// address", "url"),
    ("https://crm.example/in", ("call.ended", "call.exploded"), "types: unknown call.exploded", "types"),
])
def test_refused_input_is_shown_on_the_page_and_nothing_stored(plan: Plan, url, types, message, field) -> None:
    owner = plan.owner()
    resp = add(owner, url, types)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert message in page and 'id="secret"' not in page
    if field == "url":
        assert re.search(r'<input name="url" value="[^"]*" size="50" class="error">', page), page
    else:
        assert '<fieldset id="types" class="error">' in page
        assert 'value="call.ended"\n    id="type-call.ended" checked' in page  # the ticks are kept
    assert plan.services.webhooks.list() == []


def test_enable_disable_and_delete_with_its_waiting_deliveries(plan: Plan) -> None:
    owner = plan.owner()
    add(owner, "http://127.0.0.1:9/hook")
    [endpoint] = plan.services.webhooks.list()
    resp = post(owner, f"/crm/webhooks/{endpoint.id}/enabled", enabled="0")
    assert resp.status_code == 302 and not plan.services.webhooks.get(endpoint.id).enabled
    page = owner.get("/crm").get_data(as_text=True)
    assert "disabled: no events are kept for it" in page and f'id="toggle-{endpoint.id}">Enable<' in page
    post(owner, f"/crm/webhooks/{endpoint.id}/enabled", enabled="1")
    assert plan.services.webhooks.get(endpoint.id).enabled

    plan.services.outbox.append("line.down", {"line": "gsm1", "state": "down"})
    page = owner.get("/crm").get_data(as_text=True)
    assert "Its 1 undelivered events are dropped with it." in page
    resp = post(owner, f"/crm/webhooks/{endpoint.id}/delete")
    assert resp.status_code == 302 and plan.services.webhooks.list() == [] and plan.services.outbox.list() == []
    assert "Webhook http://127.0.0.1:9/hook deleted" in owner.get("/crm").get_data(as_text=True)
    post(owner, f"/crm/webhooks/{endpoint.id}/delete")
    assert f"no webhook endpoint {endpoint.id}" in owner.get("/crm").get_data(as_text=True)


def test_the_outbox_counts_waiting_head_retry_and_drop(plan: Plan) -> None:
    outbox, owner = plan.services.outbox, plan.owner()
    add(owner, "http://127.0.0.1:9/hook", ("sms.received",))
    [endpoint] = plan.services.webhooks.list()
    first = outbox.append("sms.received", {"text": "one"}, at=time.time() - 125)
    outbox.append("sms.received", {"text": "two"})
    outbox.append("sms.received", {"text": "three"})
    outbox.append("line.up", {"line": "gsm1"})  # not in the filter: no delivery
    by_event = {r["event_id"]: r["id"] for r in outbox.list()}
    head, second, third = (by_event[seq] for seq in sorted(by_event))
    outbox.failed(head, "ConnectionError: refused", None, time.time() + 600)
    outbox.failed(head, "HTTP 500", 500, time.time() + 600)
    outbox.delivered(third, 204)  # as if it had gone (the order does not matter to the page)
    outbox.dead(second, "HTTP 410", 410)

    page = owner.get("/crm").get_data(as_text=True)
    row = page.split(f'id="webhook-{endpoint.id}"')[1].split("</tr>")[0]
    assert "1 pending" in row and "1 delivered" in row and "1 dead" in row
    assert "sms.received for 2 min, 2 tries" in row and "next 9 min" in row and "HTTP 500" in row, row
    assert "last delivered" in row
    assert "1 pending, 1 delivered, 1 dead" in page
    queue = page.split('id="queue"')[1].split("</table>")[0]
    assert f'id="delivery-{second}" class="state-dead"' in queue
    assert f'id="delivery-{head}" class="state-pending"' in queue
    assert f'id="delivery-{third}"' not in queue and first.msg_id in queue and "(HTTP 410)" in queue

    resp = post(owner, f"/crm/outbox/{second}/retry")
    assert resp.status_code == 302 and outbox.get(second)["state"] == "pending"
    assert f"Delivery {second} (sms.received) is sent again now." in owner.get("/crm").get_data(as_text=True)
    post(owner, f"/crm/outbox/{head}/retry")
    assert outbox.get(head)["next_at"] <= time.time()  # due now, not in ten minutes
    post(owner, f"/crm/outbox/{third}/retry")
    assert f"delivery {third} was delivered already" in owner.get("/crm").get_data(as_text=True)

    resp = post(owner, f"/crm/outbox/{head}/drop")
    assert resp.status_code == 302 and outbox.head(endpoint.id).id == second  # the queue moves on
    assert f"Delivery {head} dropped" in owner.get("/crm").get_data(as_text=True)
    post(owner, f"/crm/outbox/{head}/drop")
    assert f"no delivery {head} in the outbox" in owner.get("/crm").get_data(as_text=True)
    assert outbox.counts() == {"pending": 1, "delivered": 1, "dead": 0}


def test_without_the_outbox_module_the_page_says_so(plan: Plan) -> None:
    owner = plan.owner()
    token = csrf(owner, "/")
    plan.services.outbox, plan.services.webhooks = None, None
    resp = owner.get("/crm")
    assert resp.status_code == 503 and "The CRM outbox is not installed" in resp.get_data(as_text=True)
    assert owner.post("/crm/outbox/1/retry", data={"csrf_token": token}).status_code == 302


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (59.9, "59 s"), (60, "1 min"), (3599, "59 min"),
                                           (3600, "1 h"), (3 * 3600 + 300, "3 h 5 min"), (86400, "1 d"),
                                           (2 * 86400 + 4 * 3600 + 70, "2 d 4 h"), (-5, "0 s")])
def test_ages_read_as_the_owner_says_them(seconds: float, text: str) -> None:
    assert ago(seconds) == text
