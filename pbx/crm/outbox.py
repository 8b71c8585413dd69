"""The durable outbox: every event and one delivery row per event per endpoint, in the call
journal's SQLite file, on the journal's connection under its lock. The call.ended rows are
written by the journal's on_record hook inside the transaction that stores the call record,
so a call record and its events commit together or not at all; a power cut loses neither.
The webhook-id of an event is its msg_id: the same on every retry and after a restart."""
from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable

from pbx.crm.events import EVENT_TYPES, envelope
from pbx.errors import Conflict, NotFound, StorageError, ValidationError
from pbx.store.journal import CallJournal, CallRecord, is_missed

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  at REAL NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, types TEXT NOT NULL DEFAULT '',
  enabled INTEGER NOT NULL DEFAULT 1, description TEXT NOT NULL DEFAULT '', created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER NOT NULL REFERENCES events(id),
  endpoint_id TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  next_at REAL NOT NULL, last_error TEXT, last_status INTEGER, delivered_at REAL,
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries(endpoint_id, state, event_id);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state);
"""
STATES = ("pending", "delivered", "dead")
# one statement fans an event out to every enabled endpoint whose filter takes its type
FAN_OUT = ("INSERT INTO deliveries (event_id, endpoint_id, next_at) SELECT ?, id, ? FROM webhooks"
           " WHERE enabled = 1 AND (types = '' OR instr(',' || types || ',', ',' || ? || ',') > 0)")


@dataclass(frozen=True)
class StoredEvent:
    seq: int  # the events table's id: SSE's event id, the order of delivery
    msg_id: str  # webhook-id
    type: str
    at: float
    payload: str  # the envelope JSON, byte for byte what is sent


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: str
    attempts: int
    next_at: float
    event: StoredEvent


def new_msg_id() -> str:
    return "msg_" + secrets.token_hex(12)


class Outbox:
    def __init__(self, journal: CallJournal) -> None:
        self.journal = journal
        # told of each new event, in sequence order, under the journal's lock (so they must
        # not block): the delivery workers' wake-up and the SSE hub
        self.listeners: list[Callable[[StoredEvent], None]] = []
        self.wake: Callable[[], None] = lambda: None  # the delivery workers look again (a retry)
        journal.add_tables(SCHEMA)

    # -- writing events -------------------------------------------------------------
    def append(self, kind: str, data: dict[str, Any], at: float | None = None) -> StoredEvent:
        """One event in a transaction of its own (the recorder's thread)."""
        try:
            with self.journal._lock:
                with self.journal._conn() as conn:
                    event = self._insert(conn, kind, data, time.time() if at is None else at)
                self._tell(event)  # under the lock: listeners see the events in their order
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the event: {exc}") from exc
        return event

    def append_many(self, items: list[tuple[str, dict[str, Any], float]]) -> list[StoredEvent]:
        """Several events in one transaction (a burst on the bus is one write)."""
        try:
            with self.journal._lock:
                with self.journal._conn() as conn:
                    events = [self._insert(conn, kind, data, at) for kind, data, at in items]
                for event in events:
                    self._tell(event)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the events: {exc}") from exc
        return events

    def on_record(self, conn: sqlite3.Connection, record: CallRecord) -> list[StoredEvent]:
        """CallJournal's hook, inside the transaction storing the record: call.ended with the
        whole record, and call.missed for an inbound call nobody answered (a blocked caller
        was turned away, not missed)."""
        data = record.to_dict()
        events = [self._insert(conn, "call.ended", data, record.end)]
        if is_missed(record.direction, record.disposition):
            events.append(self._insert(conn, "call.missed", data, record.end))
        return events

    def add_record(self, record: CallRecord) -> list[StoredEvent]:
        """The call record and its events in one transaction; the workers and live clients
        hear of the events once it has committed."""
        events = self.journal.add(record) or []
        for event in events:
            self._tell(event)
        return events

    def _insert(self, conn: sqlite3.Connection, kind: str, data: dict[str, Any], at: float) -> StoredEvent:
        if kind not in EVENT_TYPES:
            raise ValueError(f"unknown event type {kind}")
        msg_id, payload = new_msg_id(), envelope(kind, data, at)
        cur = conn.execute("INSERT INTO events (msg_id, type, at, payload) VALUES (?, ?, ?, ?)",
                           (msg_id, kind, at, payload))
        seq = int(cur.lastrowid or 0)
        conn.execute(FAN_OUT, (seq, time.time(), kind))
        return StoredEvent(seq, msg_id, kind, at, payload)

    def _tell(self, event: StoredEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("outbox listener failed")

    # -- reading events (SSE resume) -----------------------------------------------
    def events_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        with self.journal._lock:
            rows = self.journal._conn().execute(
                "SELECT id, msg_id, type, at, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (seq, limit)).fetchall()
        return [StoredEvent(*tuple(r)) for r in rows]

    def last_seq(self) -> int:
        with self.journal._lock:
            return int(self.journal._conn().execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    # -- the delivery workers' queue -------------------------------------------------
    def head(self, endpoint_id: str) -> Delivery | None:
        """The endpoint's oldest undelivered event: nothing after it goes out first."""
        with self.journal._lock:
            row = self.journal._conn().execute(
                "SELECT d.id, d.endpoint_id, d.attempts, d.next_at, e.id, e.msg_id, e.type, e.at, e.payload"
                " FROM deliveries d JOIN events e ON e.id = d.event_id"
                " WHERE d.endpoint_id = ? AND d.state = 'pending' ORDER BY d.event_id LIMIT 1",
                (endpoint_id,)).fetchone()
        if row is None:
            return None
        return Delivery(row[0], row[1], row[2], row[3], StoredEvent(*tuple(row)[4:]))

    def _update(self, sql: str, args: tuple) -> int:
        return self.journal.write(sql, args, "the outbox")

    def delivered(self, delivery_id: int, status: int) -> None:
        self._update("UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?,"
                     " last_error = NULL, delivered_at = ? WHERE id = ? AND state = 'pending'",
                     (status, time.time(), delivery_id))

    def failed(self, delivery_id: int, error: str, status: int | None, next_at: float) -> None:
        self._update("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, last_status = ?,"
                     " next_at = ? WHERE id = ? AND state = 'pending'", (error[:500], status, next_at, delivery_id))

    def dead(self, delivery_id: int, error: str, status: int | None) -> None:
        self._update("UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = ?,"
                     " last_status = ? WHERE id = ? AND state = 'pending'", (error[:500], status, delivery_id))

    # -- the owner's view: list, retry, drop -------------------------------------------
    def list(self, state: str | None = None, endpoint: str | None = None, limit: int = 100,
             offset: int = 0) -> list[dict[str, Any]]:
        if state is not None and state not in STATES:
            raise ValidationError(f"state: one of {', '.join(STATES)}", details={"field": "state"})
        where, args = [], []
        if state:
            where, args = ["d.state = ?"], [state]
        if endpoint:
            where.append("d.endpoint_id = ?")
            args.append(endpoint)
        query = ("SELECT d.id, d.event_id, d.endpoint_id, d.state, d.attempts, d.next_at, d.last_error,"
                 " d.last_status, d.delivered_at, e.msg_id, e.type, e.at FROM deliveries d"
                 " JOIN events e ON e.id = d.event_id" + (" WHERE " + " AND ".join(where) if where else "") +
                 " ORDER BY d.id DESC LIMIT ? OFFSET ?")
        with self.journal._lock:
            rows = self.journal._conn().execute(query, [*args, limit, offset]).fetchall()
        return [dict(r) for r in rows]

    def get(self, delivery_id: int) -> dict[str, Any]:
        with self.journal._lock:
            row = self.journal._conn().execute(
                "SELECT d.id, d.event_id, d.endpoint_id, d.state, d.attempts, d.next_at, d.last_error,"
                " d.last_status, d.delivered_at, e.msg_id, e.type, e.at, e.payload FROM deliveries d"
                " JOIN events e ON e.id = d.event_id WHERE d.id = ?", (delivery_id,)).fetchone()
        if row is None:
            raise NotFound(f"no delivery {delivery_id} in the outbox")
        out = dict(row)
        out["payload"] = json.loads(out["payload"])
        return out

    def counts(self) -> dict[str, int]:
        with self.journal._lock:
            found = dict(self.journal._conn().execute(
                "SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def counts_by_endpoint(self) -> dict[str, dict[str, int]]:
        """The same counts per endpoint (the owner's page): endpoint id -> state -> n."""
        with self.journal._lock:
            rows = self.journal._conn().execute(
                "SELECT endpoint_id, state, COUNT(*) FROM deliveries GROUP BY endpoint_id, state").fetchall()
        out: dict[str, dict[str, int]] = {}
        for endpoint_id, state, n in rows:
            out.setdefault(endpoint_id, dict.fromkeys(STATES, 0))[state] = int(n)
        return out

    def retry(self, delivery_id: int) -> dict[str, Any]:
        """A dead (or waiting) delivery goes out again now, in its place in the order."""
        if self.get(delivery_id)["state"] == "delivered":
            raise Conflict(f"delivery {delivery_id} was delivered already")
        self._update("UPDATE deliveries SET state = 'pending', next_at = ? WHERE id = ? AND state != 'delivered'",
                     (time.time(), delivery_id))
        self.wake()
        return self.get(delivery_id)

    def drop(self, delivery_id: int) -> None:
        """The delivery is given up: it leaves the queue (its endpoint's next event goes)."""
        if not self._update("DELETE FROM deliveries WHERE id = ?", (delivery_id,)):
            raise NotFound(f"no delivery {delivery_id} in the outbox")
        self.wake()

    def prune(self, older_than: float) -> int:
        """Forget events older than a time once no endpoint still waits for them."""
        return self._update(
            "DELETE FROM deliveries WHERE state != 'pending' AND event_id IN (SELECT id FROM events WHERE at < ?)",
            (older_than,)) + self._update(
            "DELETE FROM events WHERE at < ? AND id NOT IN (SELECT event_id FROM deliveries)", (older_than,))
