"""Webhook endpoints: a table in the call journal's SQLite file, next to the outbox. Not
TinyDB like the other small stores: the journal hook fans a call.ended out to the enabled
endpoints with one INSERT ... SELECT inside the call record's transaction, and deleting an
endpoint removes its waiting deliveries in the same transaction; a separate file could
take part in neither."""
from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from pbx.crm.events import EVENT_TYPES
from pbx.crm.outbox import SCHEMA
from pbx.crm.signing import new_secret
from pbx.errors import NotFound, StorageError, ValidationError
from pbx.store.journal import CallJournal


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    secret: str
    types: tuple[str, ...]  # empty: every event type
    enabled: bool
    description: str
    created: float

    def public(self) -> dict[str, Any]:
        """What the API lists: never the secret (shown once, at creation)."""
        return {"id": self.id, "url": self.url, "types": list(self.types), "enabled": self.enabled,
                "description": self.description, "created": self.created}


def check_url(url: Any) -> str:
    parts = urlsplit(str(url or ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url: an http:// or https:// address", details={"field": "url"})
    return str(url)


def check_types(types: Any) -> tuple[str, ...]:
    if types in (None, "", "*"):
        return ()
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    if not isinstance(types, (list, tuple)) or not all(isinstance(t, str) for t in types):
        raise ValidationError("types: a list of event types", details={"field": "types"})
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(f"types: unknown {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
                              details={"field": "types"})
    return tuple(dict.fromkeys(types))


def _endpoint(row: sqlite3.Row) -> Endpoint:
    return Endpoint(row["id"], row["url"], row["secret"], tuple(t for t in row["types"].split(",") if t),
                    bool(row["enabled"]), row["description"], row["created"])


class WebhookStore:
    def __init__(self, journal: CallJournal) -> None:
        self.journal = journal
        self.on_change: Callable[[], None] = lambda: None  # the delivery workers follow at once
        journal.add_tables(SCHEMA)

    def _write(self, sql: str, args: tuple) -> int:
        return self.journal.write(sql, args, "the webhook endpoint")

    def add(self, data: dict[str, Any]) -> Endpoint:
        """A new endpoint with a fresh secret (returned here, and never listed)."""
        if not isinstance(data, dict):
            raise ValidationError("expected a JSON object with url (and types, description, enabled)")
        url, types = check_url(data.get("url")), check_types(data.get("types"))
        endpoint = Endpoint("wh_" + secrets.token_hex(6), url, new_secret(), types,
                            bool(data.get("enabled", True)), str(data.get("description") or "")[:200], time.time())
        self._write("INSERT INTO webhooks (id, url, secret, types, enabled, description, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", (endpoint.id, endpoint.url, endpoint.secret,
                                                     ",".join(types), int(endpoint.enabled),
                                                     endpoint.description, endpoint.created))
        self.on_change()
        return endpoint

    def get(self, endpoint_id: str) -> Endpoint:
        rows = self.journal.read("SELECT * FROM webhooks WHERE id = ?", (endpoint_id,))
        if not rows:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return _endpoint(rows[0])

    def list(self) -> list[Endpoint]:
        rows = self.journal.read("SELECT * FROM webhooks ORDER BY created")
        return [_endpoint(r) for r in rows]

    def update(self, endpoint_id: str, data: dict[str, Any]) -> Endpoint:
        if not isinstance(data, dict):
            raise ValidationError("expected a JSON object")
        old = self.get(endpoint_id)
        url = check_url(data["url"]) if "url" in data else old.url
        types = check_types(data["types"]) if "types" in data else old.types
        enabled = bool(data["enabled"]) if "enabled" in data else old.enabled
        description = str(data.get("description", old.description) or "")[:200]
        self._write("UPDATE webhooks SET url = ?, types = ?, enabled = ?, description = ? WHERE id = ?",
                    (url, ",".join(types), int(enabled), description, endpoint_id))
        self.on_change()
        return self.get(endpoint_id)

    def delete(self, endpoint_id: str) -> None:
        """The endpoint and every delivery still waiting for it, in one transaction."""
        try:
            with self.journal._lock, self.journal._conn() as conn:
                if not conn.execute("DELETE FROM webhooks WHERE id = ?", (endpoint_id,)).rowcount:
                    raise NotFound(f"no webhook endpoint {endpoint_id}")
                conn.execute("DELETE FROM deliveries WHERE endpoint_id = ?", (endpoint_id,))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot delete the webhook endpoint: {exc}") from exc
        self.on_change()
