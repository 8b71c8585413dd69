"""One rate limit per REST token across the whole /api/v1 (a CRM's loop cannot starve the
others): keyed by the token's name, never its secret, or by the remote address for
requests without a valid token. The limit is the `api_rate_limit` setting (read at
start); a breach answers 429 with Retry-After (see webadmin/api_errors.py)."""
from __future__ import annotations

from flask import current_app, request
from flask_limiter import ApplicationLimit
from flask_limiter.util import get_remote_address
from limits import parse_many

from pbx.errors import ConfigError
from webadmin.bearer import current_grant

DEFAULT_LIMIT = "600 per minute"
CONFIG_KEY = "PBX_API_RATE_LIMIT"
# Development only: the simulator's API drives fake lines and was never limited.
EXEMPT_PREFIXES = ("/api/v1/sim/",)


def rate_key() -> str:
    grant = current_grant()
    return f"token:{grant.name}" if grant else f"address:{get_remote_address()}"


def _outside_the_api() -> bool:
    path = request.path
    return not path.startswith("/api/v1/") or path.startswith(EXEMPT_PREFIXES)


def _limit() -> str:
    return str(current_app.config.get(CONFIG_KEY) or DEFAULT_LIMIT)


def check_limit(value: str) -> str:
    """The limit as flask-limiter reads it ("600 per minute", "10/second;1000/hour")."""
    try:
        if not parse_many(value):
            raise ValueError("empty")
    except ValueError as exc:
        raise ConfigError("settings", "api_rate_limit",
                          f"{value!r} is no rate limit such as '600 per minute' ({exc})") from None
    return value


def per_token_limit() -> ApplicationLimit:
    """For Limiter(application_limits=[...]): shared by every /api/v1 route."""
    return ApplicationLimit(limit_provider=_limit, key_function=rate_key, exempt_when=_outside_the_api,
                            scope="api")
