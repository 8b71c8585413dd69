"""Bearer tokens for the REST bridge: shown once, stored as SHA-256 only."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from pathlib import Path

from tinydb import Query

from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.atomic import open_documents


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, data_dir: Path) -> None:
        self.docs = open_documents(data_dir, "tokens")

    def create(self, name: str) -> str:
        if not re.match(r"^[\w.-]{1,40}$", name):
            raise ValidationError("token name: 1 to 40 letters, digits, '.', '_' or '-'")
        token = "pbx_" + secrets.token_urlsafe(32)
        with self.docs.writing() as db:
            if db.search(Query().name == name):
                raise Conflict(f"a token named {name} exists; revoke it first")
            db.insert({"name": name, "sha256": _digest(token), "created": time.time()})
        return token

    def verify(self, token: str) -> str | None:
        """The token's name, or None. Compares every stored digest in constant time."""
        if not token:
            return None
        wanted = _digest(token)
        found = None
        for row in self.docs.fresh().all():
            if hmac.compare_digest(row["sha256"], wanted):
                found = row["name"]
        return found

    def list(self) -> list[dict]:
        return [{"name": r["name"], "created": r["created"]} for r in self.docs.fresh().all()]

    def revoke(self, name: str) -> None:
        with self.docs.writing() as db:
            if not db.remove(Query().name == name):
                raise NotFound(f"no token named {name}")

    def close(self) -> None:
        self.docs.close()
