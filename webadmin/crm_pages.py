"""The owner's CRM page: the webhook endpoints (add with an event-type filter, the signing
secret shown once in the answer to the add, enable/disable, delete after a second click)
and the outbox behind them (counts per endpoint, the oldest waiting delivery's age and
last error, the latest dead and pending deliveries with Retry and Drop). The same store
methods as the REST bridge and `pbx crm`; live events stay on /api/v1/events, which needs
a token: the page does not open that stream with the session."""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from pbx.crm.events import EVENT_TYPES
from pbx.crm.outbox import Outbox
from pbx.crm.webhooks import WebhookStore
from pbx.errors import PbxError, StorageError
from webadmin.pages import login_required, services

bp = Blueprint("crm_pages", __name__)
QUEUE_ROWS = 25  # the latest dead and the latest pending deliveries shown, each


def outbox() -> Outbox:
    box = services().outbox
    if box is None:
        raise StorageError("the CRM outbox is not installed")
    return box


def webhooks() -> WebhookStore:
    store = services().webhooks
    if store is None:
        raise StorageError("the CRM outbox is not installed")
    return store


def ago(seconds: float) -> str:
    """A duration as the owner reads it: 40 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{days} d {hours % 24} h" if hours % 24 else f"{days} d"


def endpoint_views(now: float) -> list[dict[str, Any]]:
    """Each endpoint with its outbox counts, its oldest pending delivery (the one its queue
    waits on: age, attempts, next try, last error) and its last delivery that went through."""
    counts = outbox().counts_by_endpoint()
    views = []
    for endpoint in webhooks().list():
        head = outbox().head(endpoint.id)
        waiting = None
        if head is not None:
            try:
                row = outbox().get(head.id)
            except PbxError:  # dropped meanwhile
                row = None
            if row is not None:
                waiting = {**row, "age": ago(now - head.event.at),
                           "next_in": ago(row["next_at"] - now) if row["next_at"] > now else "now"}
        last = outbox().list(state="delivered", endpoint=endpoint.id, limit=1)
        views.append({"endpoint": endpoint, "counts": counts.get(endpoint.id, {"pending": 0, "delivered": 0,
                                                                                "dead": 0}),
                      "waiting": waiting, "last_delivered": last[0]["delivered_at"] if last else None})
    return views


def render(form: dict[str, Any] | None = None, created: Any = None, error_field: str = "",
           status: int = 200):  # type: ignore[no-untyped-def]
    svc = services()
    if svc.outbox is None or svc.webhooks is None:
        return render_template("crm.html", installed=False), 503
    now = time.time()
    urls = {e.id: e.url for e in webhooks().list()}
    queue = outbox().list(state="dead", limit=QUEUE_ROWS) + outbox().list(state="pending", limit=QUEUE_ROWS)
    for row in queue:
        row["url"] = urls.get(row["endpoint_id"], row["endpoint_id"])
        row["age"] = ago(now - row["at"])
    resp = render_template("crm.html", installed=True, endpoints=endpoint_views(now), queue=queue,
                           totals=outbox().counts(), event_types=EVENT_TYPES, created=created,
                           form=form or {"types": []}, error_field=error_field, queue_rows=QUEUE_ROWS)
    # the answer to an add carries the signing secret: never kept by the browser's cache
    return resp, status, {"Cache-Control": "no-store"}


def back():  # type: ignore[no-untyped-def]
    return redirect(url_for("crm_pages.crm"))


@bp.before_request
def outbox_installed():  # type: ignore[no-untyped-def]
    """Changes need the outbox module; the page itself says when it is missing."""
    if request.method == "POST" and session.get("user") and services().outbox is None:
        return back()
    return None


@bp.get("/crm")
@login_required
def crm():  # type: ignore[no-untyped-def]
    return render()


@bp.post("/crm/webhooks")
@login_required
def add_webhook():  # type: ignore[no-untyped-def]
    form = {"url": request.form.get("url", "").strip(), "types": request.form.getlist("types"),
            "description": request.form.get("description", "")}
    try:
        endpoint = webhooks().add(form)
    except PbxError as exc:
        flash(exc.message)
        return render(form, error_field=str(exc.details.get("field", "")), status=exc.status)
    flash(f"Webhook {endpoint.url} added.")
    # rendered, not redirected: the secret is in this answer only, never in the session cookie
    return render(created=endpoint, status=201)


@bp.post("/crm/webhooks/<id>/enabled")
@login_required
def set_enabled(id: str):  # type: ignore[no-untyped-def]
    enable = request.form.get("enabled") == "1"
    try:
        endpoint = webhooks().update(id, {"enabled": enable})
        state = "enabled" if enable else "disabled: no events are kept for it until it is enabled again"
        flash(f"Webhook {endpoint.url} {state}.")
    except PbxError as exc:
        flash(exc.message)
    return back()


@bp.post("/crm/webhooks/<id>/delete")
@login_required
def delete_webhook(id: str):  # type: ignore[no-untyped-def]
    try:
        url = webhooks().get(id).url
        webhooks().delete(id)
        flash(f"Webhook {url} deleted, with its undelivered events.")
    except PbxError as exc:
        flash(exc.message)
    return back()


@bp.post("/crm/outbox/<int:id>/retry")
@login_required
def retry(id: int):  # type: ignore[no-untyped-def]
    try:
        row = outbox().retry(id)
        flash(f"Delivery {id} ({row['type']}) is sent again now.")
    except PbxError as exc:
        flash(exc.message)
    return back()


@bp.post("/crm/outbox/<int:id>/drop")
@login_required
def drop(id: int):  # type: ignore[no-untyped-def]
    try:
        outbox().drop(id)
        flash(f"Delivery {id} dropped: it will not be sent.")
    except PbxError as exc:
        flash(exc.message)
    return back()


@bp.app_template_filter("ago")
def ago_filter(ts: float | None) -> str:
    return ago(time.time() - ts) + " ago" if ts else "-"
