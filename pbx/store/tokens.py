"""Bearer tokens for the REST bridge: shown once, stored as SHA-256 only. Each has a scope,
read < write < admin (a token per CRM, with no more than it needs)."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from pathlib import Path
from typing import NamedTuple

from tinydb import Query

from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.atomic import open_documents

# In order of power: each scope allows what the ones before it do.
SCOPES = ("read", "write", "admin")
# Rows written before scopes existed: they could do everything, and still can.
LEGACY_SCOPE = "admin"


class Grant(NamedTuple):
    """Who a verified token is and what it may do."""

    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValidationError(f"scope: one of {', '.join(SCOPES)}", details={"field": "scope"})
    return scope


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, data_dir: Path) -> None:
        self.docs = open_documents(data_dir, "tokens")

    def create(self, name: str, scope: str = "admin") -> str:
        """A new token (returned once). The default scope is admin for the daemon's own
        callers (its local CLI token); `pbx token create` asks people for less."""
        check_scope(scope)
        if not re.match(r"^[\w.-]{1,40}$", name):
            raise ValidationError("token name: 1 to 40 letters, digits, '.', '_' or '-'")
        token = "pbx_" + secrets.token_urlsafe(32)
        with self.docs.writing() as db:
            if db.search(Query().name == name):
                raise Conflict(f"a token named {name} exists; revoke it first")
            db.insert({"name": name, "sha256": _digest(token), "scope": scope, "created": time.time()})
        return token

    def verify(self, token: str) -> Grant | None:
        """The token's name and scope, or None. Compares every stored digest in constant time."""
        if not token:
            return None
        wanted = _digest(token)
        found = None
        for row in self.docs.fresh().all():
            if hmac.compare_digest(row["sha256"], wanted):
                found = Grant(row["name"], row.get("scope", LEGACY_SCOPE))
        return found

    def list(self) -> list[dict]:
        return [{"name": r["name"], "scope": r.get("scope", LEGACY_SCOPE), "created": r["created"]}
                for r in self.docs.fresh().all()]

    def revoke(self, name: str) -> None:
        with self.docs.writing() as db:
            if not db.remove(Query().name == name):
                raise NotFound(f"no token named {name}")

    def close(self) -> None:
        self.docs.close()
