"""Every error under /api/v1 in the documented JSON shape {error_id, message, details}:
besides the PbxError tree (webadmin/app.py), Flask's own HTTP errors (unknown path,
method not allowed, body too large, rate limit) and bugs (500, logged with the
traceback). Pages keep Flask's HTML errors."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

ERROR_IDS = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
             415: "unsupported_media_type", 429: "rate_limited"}


def _in_api() -> bool:
    return request.path.startswith("/api/")


def install(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not _in_api() or exc.code is None:
            return exc
        details: dict = {}
        message = exc.description or exc.name
        if isinstance(exc, RateLimitExceeded):
            # Retry-After is added by the limiter's after_request (headers_enabled)
            details = {"limit": str(exc.limit.limit)}
            message = f"rate limit of {exc.limit.limit} exceeded; retry after the time in Retry-After"
        elif exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            details = {"allowed": sorted(exc.valid_methods)}  # type: ignore[attr-defined]
        resp = jsonify({"error_id": ERROR_IDS.get(exc.code, f"http_{exc.code}"), "message": message,
                        "details": details})
        resp.status_code = exc.code
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                resp.headers[name] = value  # Allow on a 405
        return resp

    @app.errorhandler(Exception)
    def bug(exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if not _in_api():
            raise exc
        log.exception("REST %s %s failed", request.method, request.path)
        return jsonify({"error_id": "internal", "message": "internal error (logged)", "details": {}}), 500
