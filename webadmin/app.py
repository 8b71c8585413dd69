"""Flask application factory: owner pages (session login, CSRF) and the REST bridge."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from pbx.errors import PbxError
from pbx.services import Services
from webadmin import (
    api,
    api_errors,
    callers_api,
    contact_pages,
    contacts_api,
    crm_api,
    crm_pages,
    dialplan_api,
    dialplan_pages,
    line_pages,
    pages,
    ratelimit,
    recording_pages,
    recordings_api,
    sim_api,
)

# Sent with every page and API answer: no framing (clickjacking), no MIME sniffing, and no
# admin URLs leaking to other sites in Referer. (same-origin, not no-referrer: over HTTPS
# the CSRF check wants the page's own Referer.)
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the page came over HTTPS (the device), and
    still works over plain HTTP on loopback in development."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])


def create_app(services: Services, *, secret_key: bytes, testing: bool = False,
               api_rate_limit: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key, TESTING=testing,
        PBX_API_RATE_LIMIT=ratelimit.check_limit(api_rate_limit or ratelimit.DEFAULT_LIMIT),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["pbx"] = services
    app.session_interface = SessionCookies()
    csrf = CSRFProtect(app)
    # one limit per REST token across every /api/v1 blueprint (webadmin/ratelimit.py)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[],
                      headers_enabled=True, application_limits=[ratelimit.per_token_limit()])
    app.register_blueprint(pages.bp)
    app.register_blueprint(line_pages.bp)
    app.register_blueprint(dialplan_pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(dialplan_api.bp)
    app.register_blueprint(sim_api.bp)
    app.register_blueprint(callers_api.bp)
    app.register_blueprint(contacts_api.bp)
    app.register_blueprint(contact_pages.bp)
    app.register_blueprint(crm_api.bp)
    app.register_blueprint(crm_pages.bp)
    app.register_blueprint(recordings_api.bp)
    app.register_blueprint(recording_pages.bp)
    csrf.exempt(api.bp)  # bearer tokens, not cookies: no CSRF exposure
    for rest in (dialplan_api, sim_api, callers_api, contacts_api, crm_api, recordings_api):
        csrf.exempt(rest.bp)
    app.view_functions["pages.login"] = limiter.limit(  # type: ignore[assignment]
        "10 per minute", methods=["POST"])(app.view_functions["pages.login"])
    api_errors.install(app)

    @app.after_request
    def security_headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        return resp

    @app.errorhandler(PbxError)
    def pbx_error(exc: PbxError):  # type: ignore[no-untyped-def]
        return jsonify(exc.to_dict()), exc.status

    return app
