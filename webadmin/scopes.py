"""Which token scope a REST request needs, by path and method: reading needs read,
changing needs write, and the appliance's own security (tokens, SIP bans, where CRM
events go and their outbox) needs admin for every method. A call's recording is
personal data: its list is read, but the audio itself (and deleting it) needs admin, and
so do the recording settings (a quota or a retention could delete them all)."""
from __future__ import annotations

from pbx.errors import PbxError
from pbx.store.tokens import Grant

API_PREFIX = "/api/v1"
# Paths under the prefix that need admin whatever the method (a prefix and what is below it).
ADMIN_PATHS = ("/tokens", "/bans", "/crm/webhooks", "/crm/outbox", "/recording-settings")
# Paths whose own listing follows the method, but everything below them needs admin.
ADMIN_BELOW = ("/recordings",)
READING = frozenset({"GET", "HEAD", "OPTIONS"})


class InsufficientScope(PbxError):
    status = 403
    error_id = "insufficient_scope"  # RFC 6750's name for it


def needed_scope(method: str, path: str) -> str:
    """read, write or admin for a request to `path` (with or without the /api/v1 prefix)."""
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX):]
    path = "/" + path.strip("/")
    if any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS):
        return "admin"
    if any(path.startswith(p + "/") for p in ADMIN_BELOW):
        return "admin"
    return "read" if method.upper() in READING else "write"


def enforce(grant: Grant, method: str, path: str) -> None:
    """Raise InsufficientScope (403) naming the scope needed unless the token has it."""
    needed = needed_scope(method, path)
    if not grant.allows(needed):
        raise InsufficientScope(
            f"{method.upper()} {path} needs a token with scope {needed}; token {grant.name} has {grant.scope}"
            f" (pbx token create NAME --scope {needed})",
            details={"needed_scope": needed, "token_scope": grant.scope, "token": grant.name})
