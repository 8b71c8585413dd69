"""The dial plan over the REST bridge: one collection per kind, the same five routes each
(list, create, read, replace, delete), plus a prompt's audio and a time condition's
override. The store validates; errors come back as the app's JSON errors, naming the
field (400), the referrers (409) or the missing object (404)."""
from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, jsonify, request, send_file

from pbx import planedit
from pbx.errors import ValidationError
from webadmin.api import require_token, services

bp = Blueprint("dialplan_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)

# URL collection -> the store's kind
COLLECTIONS = {"routes/inbound": "inbound", "routes/outbound": "outbound", "ivrs": "ivr",
               "ringgroups": "ringgroup", "timeconditions": "timecondition",
               "announcements": "announcement", "prompts": "prompt", "permissions": "permission"}


def _object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    return body


def _routes(collection: str, kind: str) -> None:
    """Add the five routes of one kind (endpoints named after the kind)."""

    def list_all():  # type: ignore[no-untyped-def]
        return jsonify(planedit.plan(services()).list(kind))

    def create():  # type: ignore[no-untyped-def]
        return jsonify(planedit.create(services(), kind, _object())), 201

    def read(id: str):  # type: ignore[no-untyped-def]
        return jsonify(planedit.existing(services(), kind, id))

    def replace(id: str):  # type: ignore[no-untyped-def]
        return jsonify(planedit.replace(services(), kind, id, _object()))

    def delete(id: str):  # type: ignore[no-untyped-def]
        planedit.delete(services(), kind, id)
        return "", 204

    base = f"/{collection}"
    bp.add_url_rule(base, f"list_{kind}", list_all, methods=["GET"])
    bp.add_url_rule(base, f"create_{kind}", create, methods=["POST"])
    bp.add_url_rule(f"{base}/<id>", f"read_{kind}", read, methods=["GET"])
    bp.add_url_rule(f"{base}/<id>", f"replace_{kind}", replace, methods=["PUT"])
    bp.add_url_rule(f"{base}/<id>", f"delete_{kind}", delete, methods=["DELETE"])


for _collection, _kind in COLLECTIONS.items():
    _routes(_collection, _kind)


@bp.put("/prompts/<id>/audio")
def upload_audio(id: str):  # type: ignore[no-untyped-def]
    """The raw file as the body (any format sox reads; ?filename= hints the format), or a
    multipart form's `file`."""
    planedit.check_size(request.content_length)
    upload = request.files.get("file")
    if upload is not None:
        data, filename = upload.read(), upload.filename or ""
    else:
        data, filename = request.get_data(), request.args.get("filename", "")
    obj = planedit.upload(services(), id, data, PurePath(filename).name)
    return jsonify(obj)


@bp.get("/prompts/<id>/audio")
def audio(id: str):  # type: ignore[no-untyped-def]
    planedit.existing(services(), "prompt", id)
    return send_file(planedit.library(services()).path(id), mimetype="audio/wav", max_age=0)  # NotFound: no audio


@bp.post("/timeconditions/<id>/override")
def override(id: str):  # type: ignore[no-untyped-def]
    body = _object()
    if "override" not in body:
        raise ValidationError("give override: \"\", matched or unmatched", details={"field": "override"})
    return jsonify(planedit.override(services(), id, body["override"]))
