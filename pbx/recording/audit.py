"""Who listened to, downloaded, exported or deleted which recording, and who was refused:
a table in the call journal's file, kept apart from the recordings (deleting a recording
keeps its audit rows: they are the proof it was deleted, and by whom)."""
from __future__ import annotations

import builtins
import time
from typing import Any

from pbx.store.journal import CallJournal

ACTIONS = ("listen", "download", "refused", "delete", "delete_number", "export", "start", "stop", "settings")

SCHEMA = """
CREATE TABLE IF NOT EXISTS recording_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, action TEXT NOT NULL,
  call_id TEXT NOT NULL DEFAULT '', who TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',
  ok INTEGER NOT NULL DEFAULT 1, detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS recording_audit_call ON recording_audit(call_id, seq);
"""


class AuditLog:
    def __init__(self, journal: CallJournal) -> None:
        self.journal = journal
        with journal._lock:
            journal._conn().executescript(SCHEMA)

    def add(self, action: str, call_id: str, who: str, source: str, ok: bool = True, detail: str = "") -> None:
        """who: the admin, token or "cli"; source: the client's address or "cli"."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action}")
        self.journal.write("INSERT INTO recording_audit (at, action, call_id, who, source, ok, detail)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (time.time(), action, call_id or "", str(who or "")[:200], str(source or "")[:200],
                            int(bool(ok)), str(detail or "")[:500]), "the recording audit")

    def list(self, limit: int = 100, call_id: str | None = None) -> builtins.list[dict[str, Any]]:
        """Newest first: {seq, at, action, call_id, who, source, ok, detail}."""
        query, args = "SELECT * FROM recording_audit", []
        if call_id is not None:
            query, args = query + " WHERE call_id = ?", [call_id]
        with self.journal._lock:
            rows = self.journal._conn().execute(query + " ORDER BY seq DESC LIMIT ?", [*args, limit]).fetchall()
        return [{**dict(r), "ok": bool(r["ok"])} for r in rows]
