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

NOT_MISSED = ("answered", "blocked")  # an unanswered call is missed, unless it was turned away on purpose


def is_missed(direction: str, disposition: str) -> bool:
    """An inbound call that nobody answered (and the appliance did not refuse on purpose)."""
    return direction == "inbound" and disposition not in NOT_MISSED


DISPOSITIONS = ("answered", "busy", "no_answer", "unavailable", "unknown_number", "cancelled", "failed",
                "forbidden", "no_route", "blocked")
# forbidden: the caller may not call that number; no_route: no inbound route; blocked: a blocked contact

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
  id TEXT PRIMARY KEY, caller TEXT NOT NULL, callee TEXT NOT NULL, direction TEXT NOT NULL,
  trunk TEXT, start REAL NOT NULL, answer REAL, end REAL NOT NULL, duration REAL NOT NULL,
  disposition TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS calls_start ON calls(start);
CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller);
CREATE INDEX IF NOT EXISTS calls_callee ON calls(callee);
CREATE TABLE IF NOT EXISTS sms (
  id INTEGER PRIMARY KEY AUTOINCREMENT, trunk TEXT NOT NULL, direction TEXT NOT NULL,
  peer TEXT NOT NULL, text TEXT NOT NULL, parts INTEGER NOT NULL, at REAL NOT NULL,
  status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_at ON sms(at);
"""

# The order records were written in, for the pull cursor (`list_written`). Its own table
# with an INTEGER PRIMARY KEY AUTOINCREMENT: VACUUM may renumber the rowid of `calls` (its
# key is TEXT), never this; a number is never handed out twice; and a trigger fills it in
# the inserting transaction, so sequence order is commit order (SQLite has one writer at a
# time): a reader never sees seq N+1 before N. Version 1 adds it to existing files and
# numbers their records in insertion (rowid) order.
WRITE_ORDER = """
CREATE TABLE IF NOT EXISTS call_order (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL UNIQUE
);
INSERT INTO call_order (call_id) SELECT id FROM calls WHERE id NOT IN (SELECT call_id FROM call_order)
  ORDER BY rowid;
CREATE TRIGGER IF NOT EXISTS calls_written AFTER INSERT ON calls BEGIN
  INSERT INTO call_order (call_id) VALUES (NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS calls_removed AFTER DELETE ON calls BEGIN
  DELETE FROM call_order WHERE call_id = OLD.id;
END;
"""
SCHEMA_VERSION = 1


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


def _record(row: sqlite3.Row) -> CallRecord:
    fields = {k: row[k] for k in row.keys() if k != "seq"}
    return CallRecord(**{**fields, "details": json.loads(row["details"])})


def _statements(script: str) -> builtins.list[str]:
    """A script's statements (a trigger's body holds semicolons of its own)."""
    out, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


def _key(key: str) -> str:
    """A details key as a JSON path member (quoted: keys may hold dots)."""
    if not key or '"' in key:
        raise ValueError(f"bad details key {key!r}")
    return f'"{key}"'


class CallJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        # Called inside the transaction that inserts a call record (the CRM outbox writes
        # its call.ended rows there, so both commit or neither does); add() returns what it
        # returned once the transaction has committed.
        self.on_record: Callable[[sqlite3.Connection, CallRecord], Any] | None = None
        # Called with a call's id after delete() removed its record (the recordings store
        # removes the call's recording; wired by the composition root).
        self.on_delete: Callable[[str], Any] | None = None
        with self._conn() as conn:
            conn.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring an older file up to SCHEMA_VERSION, once, whichever process opens it first."""
        with self._lock:
            conn = self._conn()
            if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return
            conn.execute("BEGIN IMMEDIATE")  # the write lock: another process waits, then sees v1
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] < 1:
                    for statement in _statements(WRITE_ORDER):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

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

    def add(self, record: CallRecord) -> Any:
        if record.disposition not in DISPOSITIONS:
            raise ValueError(f"unknown disposition {record.disposition}")
        row = asdict(record)
        row["details"] = json.dumps(record.details)
        try:
            with self._lock, self._conn() as conn:
                conn.execute("INSERT INTO calls VALUES (:id, :caller, :callee, :direction, :trunk,"
                             " :start, :answer, :end, :duration, :disposition, :details)", row)
                written = self.on_record(conn, record) if self.on_record is not None else None
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the call record: {exc}") from exc
        return written

    def list(self, limit: int = 100, since: float | None = None) -> list[CallRecord]:
        query, args = "SELECT * FROM calls", []
        if since is not None:
            query, args = query + " WHERE start >= ?", [since]
        with self._lock:
            rows = self._conn().execute(query + " ORDER BY start DESC LIMIT ?", [*args, limit]).fetchall()
        return [CallRecord(**{**dict(r), "details": json.loads(r["details"])}) for r in rows]

    def with_number(self, numbers: builtins.list[str], limit: int = 20) -> builtins.list[CallRecord]:
        """The last calls from or to any of these numbers (one caller's forms), newest first."""
        marks = ",".join("?" * len(numbers))
        with self._lock:
            rows = self._conn().execute(
                f"SELECT * FROM calls WHERE caller IN ({marks}) OR callee IN ({marks})"
                " ORDER BY start DESC LIMIT ?", [*numbers, *numbers, limit]).fetchall()
        return [_record(r) for r in rows]

    def count_with_number(self, numbers: builtins.list[str]) -> tuple[int, int]:
        """(calls, missed inbound calls) from or to any of these numbers."""
        marks = ",".join("?" * len(numbers))
        with self._lock:
            row = self._conn().execute(
                f"SELECT COUNT(*), SUM(direction = 'inbound' AND disposition NOT IN {NOT_MISSED!r})"
                f" FROM calls WHERE caller IN ({marks}) OR callee IN ({marks})", [*numbers, *numbers]).fetchone()
        return int(row[0]), int(row[1] or 0)

    def callers_since(self, since: float) -> builtins.list[tuple[str, float]]:
        """(caller, start) of the inbound calls since a time (the repeat callers' memory)."""
        with self._lock:
            rows = self._conn().execute("SELECT caller, start FROM calls WHERE direction = 'inbound'"
                                        " AND start >= ?", [since]).fetchall()
        return [(r[0], r[1]) for r in rows]

    def list_written(self, after: int = 0, limit: int = 100) -> builtins.list[tuple[int, CallRecord]]:
        """Records in the order they were written, after sequence number `after`, each with
        its number: a reader that goes on from the last number it got sees every record
        once, records written meanwhile included."""
        with self._lock:
            rows = self._conn().execute(
                "SELECT o.seq AS seq, c.* FROM call_order o JOIN calls c ON c.id = o.call_id"
                " WHERE o.seq > ? ORDER BY o.seq LIMIT ?", [after, limit]).fetchall()
        return [(r["seq"], _record(r)) for r in rows]

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
        answered, blocked = counts.get("answered", 0), counts.get("blocked", 0)  # blocked: not missed
        return {"total": total, "answered": answered, "missed": total - answered - blocked, "blocked": blocked}

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

    def write(self, sql: str, args: tuple | dict, what: str) -> int:
        """One statement in its own transaction on the shared connection; the rows it
        changed. A StorageError says what could not be written (the CRM tables use it)."""
        try:
            with self._lock, self._conn() as conn:
                return conn.execute(sql, args).rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write {what}: {exc}") from exc

    def read(self, sql: str, args: tuple | builtins.list | dict = ()) -> builtins.list[sqlite3.Row]:
        """Every row of one query on the shared connection (the tables others keep in
        this file, recordings and the CRM's, read through here)."""
        with self._lock:
            return self._conn().execute(sql, args).fetchall()

    def add_tables(self, script: str) -> None:
        """CREATE ... IF NOT EXISTS statements of a table kept in this file."""
        with self._lock:
            self._conn().executescript(script)

    def get(self, call_id: str) -> CallRecord | None:
        with self._lock:
            row = self._conn().execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        return _record(row) if row is not None else None

    def set_detail(self, call_id: str, key: str, value: Any) -> bool:
        """One key of a call record's `details` JSON (None removes it), in one statement so
        a concurrent writer of another key is not undone; False when there is no record."""
        args: tuple
        if value is None:
            sql, args = "UPDATE calls SET details = json_remove(details, ?) WHERE id = ?", ("$." + _key(key), call_id)
        else:
            sql, args = ("UPDATE calls SET details = json_set(details, ?, json(?)) WHERE id = ?",
                         ("$." + _key(key), json.dumps(value), call_id))
        return self.write(sql, args, "the call record's details") > 0

    def delete(self, call_id: str) -> bool:
        """A call record (and, through on_delete, what hangs off it: its recording)."""
        deleted = self.write("DELETE FROM calls WHERE id = ?", (call_id,), "the call record deletion") > 0
        if self.on_delete is not None:
            self.on_delete(call_id)  # also when the record was gone: a recording may outlive it
        return deleted

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
