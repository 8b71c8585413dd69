"""The CRM side of the REST bridge: live events over SSE (/api/v1/events), webhook
endpoints (the secret is shown once, when created) and the outbox (list, retry, drop)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from pbx.errors import LineUnavailable, PbxError
from pbx.services import Services
from webadmin.api import query_int, require_token

bp = Blueprint("crm", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


class NotInstalled(PbxError):
    status = 503
    error_id = "unavailable"


def installed(part: Any, message: str) -> Any:
    """A part of the services the request needs, or 503 with `message` when it is missing."""
    if part is None:
        raise NotInstalled(message)
    return part


def services() -> Services:
    return current_app.extensions["pbx"]


def _webhooks():  # type: ignore[no-untyped-def]
    return installed(services().webhooks, "the CRM outbox is not installed")


def _outbox():  # type: ignore[no-untyped-def]
    return installed(services().outbox, "the CRM outbox is not installed")


@bp.get("/events")
def events():  # type: ignore[no-untyped-def]
    """Server-sent events: `id:` the event's sequence number, `event:` its type, `data:` the
    envelope. Resume with the Last-Event-ID header (or ?last_event_id=)."""
    hub = services().events
    if hub is None:
        raise LineUnavailable("live events need the running daemon")
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    gone = request.environ.get("waitress.client_disconnected") or (lambda: False)
    return Response(hub.open(last, gone), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.get("/crm/webhooks")
def list_webhooks():  # type: ignore[no-untyped-def]
    return jsonify([e.public() for e in _webhooks().list()])


@bp.post("/crm/webhooks")
def add_webhook():  # type: ignore[no-untyped-def]
    endpoint = _webhooks().add(request.get_json(silent=True))
    return jsonify({**endpoint.public(), "secret": endpoint.secret}), 201


@bp.get("/crm/webhooks/<id>")
def get_webhook(id: str):  # type: ignore[no-untyped-def]
    return jsonify(_webhooks().get(id).public())


@bp.put("/crm/webhooks/<id>")
def update_webhook(id: str):  # type: ignore[no-untyped-def]
    return jsonify(_webhooks().update(id, request.get_json(silent=True)).public())


@bp.delete("/crm/webhooks/<id>")
def delete_webhook(id: str):  # type: ignore[no-untyped-def]
    _webhooks().delete(id)
    return "", 204


@bp.get("/crm/outbox")
def list_outbox():  # type: ignore[no-untyped-def]
    outbox = _outbox()
    rows = outbox.list(state=request.args.get("state") or None, endpoint=request.args.get("endpoint") or None,
                       limit=query_int("limit", 100, 0, 1000), offset=query_int("offset", 0, 0, 10**9))
    return jsonify({"deliveries": rows, "counts": outbox.counts()})


@bp.get("/crm/outbox/<int:id>")
def get_delivery(id: int):  # type: ignore[no-untyped-def]
    return jsonify(_outbox().get(id))


@bp.post("/crm/outbox/<int:id>/retry")
def retry_delivery(id: int):  # type: ignore[no-untyped-def]
    return jsonify(_outbox().retry(id))


@bp.delete("/crm/outbox/<int:id>")
def drop_delivery(id: int):  # type: ignore[no-untyped-def]
    _outbox().drop(id)
    return "", 204
