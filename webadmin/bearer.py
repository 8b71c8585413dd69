"""The request's bearer token, verified once per request: the rate limiter keys on it
(before any blueprint runs) and the API's before_request checks its scope."""
from __future__ import annotations

from flask import current_app, g, request

from pbx.store.tokens import Grant


def current_grant() -> Grant | None:
    """The verified token's name and scope, or None (no token, another scheme, unknown)."""
    if "pbx_grant" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        tokens = current_app.extensions["pbx"].tokens
        g.pbx_grant = tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
    return g.pbx_grant
