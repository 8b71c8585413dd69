"""REST bridge /api/v1: bearer tokens with scopes (pbx token create NAME --scope ...),
JSON errors, OpenAPI (YAML, and the same document as JSON)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, g, jsonify, request

from pbx.errors import AuthError, NotFound, ValidationError
from pbx.services import Services
from pbx.store import cursor
from pbx.store.trunks import new_trunk
from webadmin import scopes
from webadmin.bearer import current_grant

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi.yaml")


def services() -> Services:
    return current_app.extensions["pbx"]


PUBLIC_ENDPOINTS = ("api.openapi", "api.openapi_json")


@bp.before_request
def require_token():  # type: ignore[no-untyped-def]
    """Every /api/v1 blueprint's guard: a valid bearer token (401) with the scope the path
    and method need (403, webadmin/scopes.py)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    grant = current_grant()
    if grant is None:
        raise AuthError("a valid bearer token is required (pbx token create NAME)")
    scopes.enforce(grant, request.method, request.path)
    g.token_name, g.token_scope = grant
    return None


@cache
def _openapi_json() -> str:
    return json.dumps(yaml.safe_load(OPENAPI.read_text()), indent=1)


@bp.get("/openapi.yaml")
def openapi():  # type: ignore[no-untyped-def]
    return Response(OPENAPI.read_text(), mimetype="application/yaml")


@bp.get("/openapi.json")
def openapi_json():  # type: ignore[no-untyped-def]
    """The same document, for tools that read JSON only."""
    return Response(_openapi_json(), mimetype="application/json")


def _body(what: str) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(f"expected a JSON object with {what}")
    return body


def _text(body: dict, field: str) -> str:
    """A string field ("" when absent): a number or a list is refused, not turned into text."""
    value = body.get(field, "")
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", details={"field": field})
    return value


@bp.get("/extensions")
def list_extensions():  # type: ignore[no-untyped-def]
    return jsonify([e.public() for e in services().extensions.list()])


@bp.post("/extensions")
def add_extension():  # type: ignore[no-untyped-def]
    body = _body("number, name and password")
    ext = services().extensions.add(_text(body, "number"), _text(body, "name"), _text(body, "password"))
    return jsonify(ext.public()), 201


@bp.delete("/extensions/<number>")
def delete_extension(number: str):  # type: ignore[no-untyped-def]
    services().extensions.delete(number)
    return "", 204


@bp.get("/registrations")
def list_registrations():  # type: ignore[no-untyped-def]
    return jsonify(services().registrations())


@bp.get("/bans")
def list_bans():  # type: ignore[no-untyped-def]
    return jsonify(services().bans())


@bp.delete("/bans")
def clear_bans():  # type: ignore[no-untyped-def]
    return jsonify({"lifted": services().clear_bans(None)})


@bp.delete("/bans/<address>")
def clear_ban(address: str):  # type: ignore[no-untyped-def]
    lifted = services().clear_bans(address)
    if not lifted:
        raise NotFound(f"{address} is not banned")
    return jsonify({"lifted": lifted})


@bp.get("/status")
def status():  # type: ignore[no-untyped-def]
    """Counters of the edge and the core, for monitoring."""
    return jsonify(services().status())


@bp.get("/calls/active")
def active_calls():  # type: ignore[no-untyped-def]
    return jsonify(services().active_calls())


def query_int(name: str, default: int, low: int, high: int) -> int:
    """An integer query argument from low to high (the default when absent); a 400 naming
    it otherwise. Shared by every REST blueprint."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name}: a whole number from {low} to {high}", details={"field": name}) from None
    if not low <= value <= high:
        raise ValidationError(f"{name}: a whole number from {low} to {high}", details={"field": name})
    return value


def _limit(default: int = 100) -> int:
    """?limit=: 1 or more (at most 1000 are returned)."""
    try:
        limit = int(request.args.get("limit", default))
    except ValueError:
        raise ValidationError("limit must be an integer", details={"field": "limit"}) from None
    if limit < 1:
        raise ValidationError("limit must be 1 or more", details={"field": "limit"})
    return min(limit, 1000)


@bp.get("/calls")
def list_calls():  # type: ignore[no-untyped-def]
    """With since=c_<n> (a cursor): the pull contract, a page in write order with the next
    cursor (pbx/store/cursor.py). Otherwise, as always: newest first, since a Unix time."""
    limit, since = _limit(), request.args.get("since")
    if since is not None and cursor.is_cursor(since):
        return jsonify(cursor.pull(services().journal, since, limit))
    try:
        start = float(since) if since is not None else None
    except ValueError:
        raise ValidationError("since must be a Unix time or a cursor c_<n>", details={"field": "since"}) from None
    return jsonify([r.to_dict() for r in services().journal.list(limit=limit, since=start)])




@bp.get("/trunks")
def list_trunks():  # type: ignore[no-untyped-def]
    """Configured phone lines with their live state (stopped when the daemon is not running)."""
    return jsonify(services().trunk_views())


@bp.get("/trunks/<name>")
def get_trunk(name: str):  # type: ignore[no-untyped-def]
    view = next((t for t in services().trunk_views() if t["name"] == name), None)
    if view is None:
        raise NotFound(f"trunk {name} does not exist")
    return jsonify(view)


@bp.post("/trunks")
def add_trunk():  # type: ignore[no-untyped-def]
    body = _body("name, type, dialect and port")
    fields = ("name", "type", "dialect", "port", "audio_port", "country", "area_code")
    unknown = set(body) - set(fields)
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]}; known: {', '.join(fields)}")
    trunk = services().trunks.add(new_trunk(**{k: _text(body, k) for k in fields if k in body or k == "name"}))
    return jsonify(trunk.public()), 201


@bp.delete("/trunks/<name>")
def delete_trunk(name: str):  # type: ignore[no-untyped-def]
    services().trunks.delete(name)
    return "", 204


@bp.post("/trunks/<name>/ussd")
def ussd(name: str):  # type: ignore[no-untyped-def]
    """A USSD request on a GSM line (balance: *100#); waits for the network's answer."""
    code = _text(_body("code"), "code")
    answer = services().ussd(name, code)
    return jsonify({"trunk": name, "code": code, "text": answer.text, "status": answer.status})


@bp.get("/sms")
def list_sms():  # type: ignore[no-untyped-def]
    return jsonify([m.to_dict() for m in services().journal.list_sms(_limit())])


@bp.post("/sms")
def send_sms():  # type: ignore[no-untyped-def]
    body = _body("to and text (and optionally trunk)")
    record = services().send_sms(_text(body, "to"), _text(body, "text"), _text(body, "trunk"))
    return jsonify(record.to_dict()), 201
