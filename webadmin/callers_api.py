"""A caller's history over the REST bridge: who they are and what happened on their
earlier calls, for a screen-pop or a CRM looking up a number."""
from __future__ import annotations

from flask import Blueprint, jsonify

from pbx.errors import ValidationError
from webadmin.api import query_int, require_token, services

bp = Blueprint("callers_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


@bp.get("/callers/<number>")
def caller(number: str):  # type: ignore[no-untyped-def]
    limit = query_int("limit", 10, 1, 100)
    if len(number) > 40 or not any(c.isdigit() for c in number) and number != "anonymous":
        raise ValidationError("number: a phone number in any format, e.g. +79161234567 or 8 916 123-45-67",
                              details={"field": "number"})
    return jsonify(services().caller_history(number, limit=limit))
