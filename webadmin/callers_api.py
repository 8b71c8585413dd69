"""A caller's history over the REST bridge: who they are and what happened on their
earlier calls, for a screen-pop or a CRM looking up a number."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from pbx.errors import ValidationError
from webadmin.api import require_token, services

bp = Blueprint("callers_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


@bp.get("/callers/<number>")
def caller(number: str):  # type: ignore[no-untyped-def]
    try:
        limit = int(request.args.get("limit", 10))
    except ValueError:
        raise ValidationError("limit: a whole number from 1 to 100", details={"field": "limit"}) from None
    if not 1 <= limit <= 100:
        raise ValidationError("limit: a whole number from 1 to 100", details={"field": "limit"})
    if len(number) > 40 or not any(c.isdigit() for c in number) and number != "anonymous":
        raise ValidationError("number: a phone number in any format, e.g. +79161234567 or 8 916 123-45-67",
                              details={"field": "number"})
    return jsonify(services().caller_history(number, limit=limit))
