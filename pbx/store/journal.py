"""Call records in SQLite (WAL): an append-heavy journal that TinyDB would rewrite whole
on every call. One connection, shared under a lock by the daemon's threads (a connection
per thread would keep descriptors open for every web worker that ever read the journal,
and close() could shut only its own); safe from the CLI while the daemon writes."""
from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from pbx.errors import StorageError

DISPOSITIONS = ("answered", "busy", "no_answer", "unavailable", "unknown_number", "cancelled", "failed",
                "forbidden", "no_route")  # forbidden: the caller may not call that number; no_route: no inbound route

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
  id TEXT PRIMARY KEY, caller TEXT NOT NULL, callee TEXT NOT NULL, direction TEXT NOT NULL,
  trunk TEXT, start REAL NOT NULL, answer REAL, end REAL NOT NULL, duration REAL NOT NULL,
  disposition TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS calls_start ON calls(start);
CREATE TABLE IF NOT EXISTS sms (
  id INTEGER PRIMARY KEY AUTOINCREMENT, trunk TEXT NOT NULL, direction TEXT NOT NULL,
  peer TEXT NOT NULL, text TEXT NOT NULL, parts INTEGER NOT NULL, at REAL NOT NULL,
  status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_at ON sms(at);
"""


@dataclass
class CallRecord:
    id: str
    caller: str
    callee: str
    direction: str  # internal, inbound, outbound
    trunk: str | None
    start: float  # epoch seconds
    answer: float | None
    end: float
    duration: float  # seconds talked
    disposition: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SmsRecord:
    trunk: str
    direction: str  # in, out
    peer: str  # the other party's number, E.164 where it is one
    text: str
    parts: int
    at: float
    status: str  # received, sent, failed: <why>
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        # Called inside the transaction that inserts a call record (the CRM outbox writes
        # its call.ended rows there, so both commit or neither does).
        self.on_record: Callable[[sqlite3.Connection, CallRecord], None] | None = None
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        """The shared connection (opened again after close()); callers hold self._lock
        around each statement and its fetch."""
        if self._db is None:
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._db = conn
        return self._db

    def add(self, record: CallRecord) -> None:
        if record.disposition not in DISPOSITIONS:
            raise ValueError(f"unknown disposition {record.disposition}")
        row = asdict(record)
        row["details"] = json.dumps(record.details)
        try:
            with self._lock, self._conn() as conn:
                conn.execute("INSERT INTO calls VALUES (:id, :caller, :callee, :direction, :trunk,"
                             " :start, :answer, :end, :duration, :disposition, :details)", row)
                if self.on_record is not None:
                    self.on_record(conn, record)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the call record: {exc}") from exc

    def list(self, limit: int = 100, since: float | None = None) -> list[CallRecord]:
        query, args = "SELECT * FROM calls", []
        if since is not None:
            query, args = query + " WHERE start >= ?", [since]
        with self._lock:
            rows = self._conn().execute(query + " ORDER BY start DESC LIMIT ?", [*args, limit]).fetchall()
        return [CallRecord(**{**dict(r), "details": json.loads(r["details"])}) for r in rows]

    def count(self, since: float | None = None) -> int:
        query, args = ("SELECT COUNT(*) FROM calls", []) if since is None else \
            ("SELECT COUNT(*) FROM calls WHERE start >= ?", [since])
        with self._lock:
            return int(self._conn().execute(query, args).fetchone()[0])

    def summary(self, since: float) -> dict[str, int]:
        """Calls since a time: total, answered, missed (what the dashboard shows)."""
        with self._lock:
            counts = {d: n for d, n in self._conn().execute(
                "SELECT disposition, COUNT(*) FROM calls WHERE start >= ? GROUP BY disposition", [since])}
        total = sum(counts.values())
        answered = counts.get("answered", 0)
        return {"total": total, "answered": answered, "missed": total - answered}

    def add_sms(self, sms: SmsRecord) -> SmsRecord:
        row = asdict(sms)
        row.pop("id")
        try:
            with self._lock, self._conn() as conn:
                cur = conn.execute("INSERT INTO sms (trunk, direction, peer, text, parts, at, status)"
                                   " VALUES (:trunk, :direction, :peer, :text, :parts, :at, :status)", row)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the message: {exc}") from exc
        sms.id = cur.lastrowid
        return sms

    def list_sms(self, limit: int = 100) -> builtins.list[SmsRecord]:
        with self._lock:
            rows = self._conn().execute("SELECT * FROM sms ORDER BY at DESC, id DESC LIMIT ?", [limit]).fetchall()
        return [SmsRecord(**dict(r)) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
