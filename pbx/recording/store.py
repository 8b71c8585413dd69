"""Recordings: one row per call in the call journal's SQLite file (like the CRM tables: a
call record and its recording are deleted together, and the journal's ballast protects
both), the audio under <data_dir>/recordings/YYYY/MM/DD/<call id>.<ext> (UTC date of the
answer). Directories 0700 and files 0600: recordings are personal data, root only."""
from __future__ import annotations

import builtins
import os
import re
import sqlite3
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pbx.errors import StorageError, ValidationError
from pbx.store.journal import CallJournal

FORMATS = ("wav", "ogg", "opus", "mp3")
STATUSES = ("recording", "processing", "ready", "failed")
FINISHED = ("ready", "failed")  # what retention may delete: never a file still being written
SUBDIR = "recordings"
CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")  # a file name on every filesystem

SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
  call_id TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL, status TEXT NOT NULL,
  started REAL NOT NULL, duration REAL NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0,
  caller TEXT NOT NULL DEFAULT '', callee TEXT NOT NULL DEFAULT '', channels INTEGER NOT NULL DEFAULT 1,
  note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS recordings_started ON recordings(started);
CREATE INDEX IF NOT EXISTS recordings_caller ON recordings(caller);
CREATE INDEX IF NOT EXISTS recordings_callee ON recordings(callee);
CREATE INDEX IF NOT EXISTS recordings_status ON recordings(status);
"""


@dataclass
class Recording:
    call_id: str
    path: str  # relative to data_dir, e.g. "recordings/2026/12/03/<id>.ogg"
    format: str  # "wav" | "ogg" | "opus" | "mp3"
    status: str  # "recording" | "processing" | "ready" | "failed"
    started: float  # epoch seconds, when recording began
    duration: float = 0.0  # seconds of audio in the file
    size: int = 0  # bytes on disk
    caller: str = ""
    callee: str = ""
    channels: int = 1
    note: str = ""  # why it is short, stopped or failed

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "url": f"/api/v1/recordings/{self.call_id}"}

    def link(self) -> dict[str, Any]:
        """What the call record keeps under details["recording"]."""
        return {"path": self.path, "format": self.format, "duration": self.duration, "size": self.size,
                "status": self.status, "note": self.note}


COLUMNS = tuple(f.name for f in fields(Recording))
EDITABLE = frozenset(COLUMNS) - {"call_id"}


def check_call_id(call_id: str) -> str:
    if not isinstance(call_id, str) or not CALL_ID.match(call_id):
        raise ValidationError(f"not a call id: {call_id!r}")
    return call_id


def _check(rec: Recording) -> None:
    check_call_id(rec.call_id)
    if rec.format not in FORMATS:
        raise ValidationError(f"format: one of {', '.join(FORMATS)}")
    if rec.status not in STATUSES:
        raise ValidationError(f"status: one of {', '.join(STATUSES)}")


def _recording(row: sqlite3.Row) -> Recording:
    return Recording(**{k: row[k] for k in COLUMNS})


def _private_dirs(root: Path, path: Path) -> None:
    """mkdir -p with 0700 on every level from root down (mkdir's mode obeys the umask)."""
    for part in [root, *reversed([p for p in path.parents if p != root and root in p.parents]), path]:
        if not part.is_dir():
            part.mkdir(mode=0o700, exist_ok=True)
            os.chmod(part, 0o700)


class RecordingStore:
    def __init__(self, journal: CallJournal, data_dir: Path) -> None:
        self.journal = journal
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / SUBDIR
        journal.add_tables(SCHEMA)

    # -- files ----------------------------------------------------------------------
    def day_dir(self, when: float) -> Path:
        return self.root / time.strftime("%Y/%m/%d", time.gmtime(when))

    def wav_path(self, call_id: str, when: float, part: str = "") -> Path:
        """Where a call's recorder writes (part "a"/"b" in two-channel mode); makes the dirs."""
        check_call_id(call_id)
        if part and part not in ("a", "b"):
            raise ValidationError(f"part: a or b, not {part!r}")
        day = self.day_dir(when)
        _private_dirs(self.root, day)
        return day / (f"{call_id}.{part}.wav" if part else f"{call_id}.wav")

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.data_dir).as_posix()

    def absolute(self, rec: Recording) -> Path:
        path = (self.data_dir / rec.path).resolve()
        if self.root.resolve() not in path.parents:  # a row is no way out of the recordings
            raise StorageError(f"recording {rec.call_id}: path outside the recordings folder")
        return path

    def files(self, rec: Recording) -> builtins.list[Path]:
        """Every file of a recording that exists: the audio, the WAVs it came from, temps."""
        main = self.absolute(rec)
        stem = main.parent / rec.call_id
        candidates = [main, *(Path(f"{stem}{suffix}") for suffix in (".wav", ".a.wav", ".b.wav"))]
        candidates += sorted(main.parent.glob(f".{rec.call_id}.*.tmp"))
        return [p for p in dict.fromkeys(candidates) if p.exists()]

    # -- rows -----------------------------------------------------------------------
    def add(self, rec: Recording) -> None:
        _check(rec)
        row = asdict(rec)
        self.journal.write(f"INSERT OR REPLACE INTO recordings ({', '.join(COLUMNS)})"
                           f" VALUES ({', '.join(':' + c for c in COLUMNS)})", row, "the recording")
        self._link(rec)

    def update(self, call_id: str, **changes: Any) -> Recording | None:
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not a recording field: {', '.join(sorted(unknown))}")
        rec = self.get(call_id)
        if rec is None:
            return None
        if not changes:
            return rec
        for key, value in changes.items():
            setattr(rec, key, value)
        _check(rec)
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        self.journal.write(f"UPDATE recordings SET {sets} WHERE call_id = :call_id",
                           {**changes, "call_id": call_id}, "the recording")
        self._link(rec)
        return rec

    def _link(self, rec: Recording) -> None:
        """The call record (when written already) names its recording as it now stands."""
        self.journal.set_detail(rec.call_id, "recording", rec.link())

    def link(self, call_id: str) -> None:
        """Copy the recording's state into a call record written after it (the core calls it)."""
        rec = self.get(call_id)
        if rec is not None:
            self._link(rec)

    def get(self, call_id: str) -> Recording | None:
        rows = self.journal.read("SELECT * FROM recordings WHERE call_id = ?", (call_id,))
        return _recording(rows[0]) if rows else None

    def list(self, limit: int = 100, number: str | None = None, since: float | None = None
             ) -> builtins.list[Recording]:
        """Newest first; number matches caller or callee (E.164 as stored)."""
        where: builtins.list[str] = []
        args: builtins.list[Any] = []
        if number:
            where.append("(caller = ? OR callee = ?)")
            args += [number, number]
        if since is not None:
            where.append("started >= ?")
            args.append(since)
        query = "SELECT * FROM recordings" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.journal.read(query + " ORDER BY started DESC LIMIT ?", [*args, limit])
        return [_recording(r) for r in rows]

    def with_status(self, *statuses: str) -> builtins.list[Recording]:
        marks = ",".join("?" * len(statuses))
        rows = self.journal.read(f"SELECT * FROM recordings WHERE status IN ({marks}) ORDER BY started", statuses)
        return [_recording(r) for r in rows]

    def delete(self, call_id: str) -> bool:
        """The recording's file(s) and row; False when there was none. Files first: a row
        left by a failed unlink is tried again, a file without a row would be lost track of."""
        rec = self.get(call_id)
        if rec is None:
            return False
        for path in self.files(rec):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageError(f"cannot delete the recording {call_id}: {exc}") from exc
        self.journal.write("DELETE FROM recordings WHERE call_id = ?", (call_id,), "the recording deletion")
        self.journal.set_detail(call_id, "recording", None)
        return True

    def delete_number(self, number: str) -> builtins.list[str]:
        """Every recording of calls from or to a number (a data-protection request)."""
        ids = [r[0] for r in self.journal.read(
            "SELECT call_id FROM recordings WHERE caller = ? OR callee = ? ORDER BY started", (number, number))]
        return [call_id for call_id in ids if self.delete(call_id)]

    def total_size(self) -> int:
        return int(self.journal.read("SELECT COALESCE(SUM(size), 0) FROM recordings")[0][0])

    def oldest(self, limit: int) -> builtins.list[Recording]:
        """The oldest finished recordings (one being written or compressed is never offered)."""
        marks = ",".join("?" * len(FINISHED))
        rows = self.journal.read(f"SELECT * FROM recordings WHERE status IN ({marks}) ORDER BY started LIMIT ?",
                                 [*FINISHED, limit])
        return [_recording(r) for r in rows]
