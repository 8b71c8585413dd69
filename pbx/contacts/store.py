"""The office's contacts in SQLite (WAL) with an in-memory caller index.

Why SQLite: with 100,000 contacts an edit must touch one row, not rewrite a whole
document file (TinyDB's way), and an import of many contacts is one transaction.

The ring path asks lookup(), which reads two dicts only: E.164 -> CallerInfo and the
last 10 digits -> E.164 (for numbers stored in another format). One CallerInfo per
contact is shared by all its numbers. The index is rebuilt on open, updated after each
of this store's own commits, and a watch thread keeps it current with commits by other
processes (the `pbx contacts` CLI writes the file while the daemon runs): every ~1 s it
reads `PRAGMA data_version` (changes only when another connection committed) and then
reloads only the contacts whose `seq` is newer than what it has seen, plus the
tombstones of deleted ones. Every write transaction takes the next `seq` from `meta`."""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pbx.contacts.model import TIERS, CallerInfo, Contact, Phone, contact_from, phone_number
from pbx.errors import Conflict, NotFound, PbxError, StorageError, ValidationError
from pbx.numbers import last_digits

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, company TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '', tier TEXT NOT NULL DEFAULT 'normal',
  responsible TEXT NOT NULL DEFAULT '', crm_id TEXT NOT NULL DEFAULT '',
  crm_link TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '',
  updated REAL NOT NULL, seq INTEGER NOT NULL,
  folded TEXT NOT NULL  -- casefolded name, company and e-mail: Unicode-aware search and order
);
CREATE INDEX IF NOT EXISTS contacts_seq ON contacts(seq);
CREATE INDEX IF NOT EXISTS contacts_folded ON contacts(folded);
CREATE TABLE IF NOT EXISTS phones (
  number TEXT PRIMARY KEY,  -- one number belongs to one contact
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  type TEXT NOT NULL, position INTEGER NOT NULL, tail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS phones_contact ON phones(contact_id);
CREATE INDEX IF NOT EXISTS phones_tail ON phones(tail);
CREATE TABLE IF NOT EXISTS tombstones (contact_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones(seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('seq', 0);
INSERT OR IGNORE INTO meta VALUES ('tombstone_floor', 0);
"""
COLUMNS = ("id", "name", "company", "email", "tier", "responsible", "crm_id", "crm_link", "notes", "updated")
TAIL = 10  # digits compared for numbers stored in another format
TOMBSTONES_KEPT = 10_000  # older ones are pruned; a watcher behind the floor reloads everything
REFUSED_LISTED = 1_000  # an import report names at most this many refused rows (and counts all)
BUSY_TIMEOUT = 10.0
_TIERS = {t: t for t in TIERS}  # one str object per tier for the whole index
ChangeCallback = Callable[[str, dict], None]


@dataclass
class ImportReport:
    """What an import did: rows imported, rows refused with the reason (row number of the
    CSV, or index of the vCard, as `row`)."""
    imported: int = 0
    refused_count: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)  # CSV columns the importer does not know
    ids: list[str] = field(default_factory=list, repr=False)

    def refuse(self, row: Any, reason: str, **details: Any) -> None:
        self.refused_count += 1
        if len(self.refused) < REFUSED_LISTED:
            self.refused.append({"row": row, "reason": reason, **details})

    def public(self) -> dict[str, Any]:
        return {"imported": self.imported, "refused_count": self.refused_count, "refused": self.refused,
                "refused_listed": len(self.refused), "ignored_columns": self.ignored_columns}


def _folded(contact: Contact) -> str:
    return "\n".join((contact.name, contact.company, contact.email)).casefold()


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


class ContactStore:
    def __init__(self, path: Path | str, country: str = "RU", area_code: str = "", *,
                 watch_interval: float = 1.0, live: bool = True) -> None:
        """live: keep the in-memory index (the daemon). A one-shot reader (a CLI command)
        passes False: no index to build, no watch thread; lookup() then asks the file."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.country, self.area_code = country or "RU", area_code or ""
        self.on_change: ChangeCallback | None = None
        self._lock = threading.RLock()
        self._db = self._open()
        self._by_number: dict[str, CallerInfo] = {}
        self._by_tail: dict[str, str] = {}  # last 10 digits -> the E.164 key in _by_number
        self._numbers_of: dict[str, tuple[str, ...]] = {}  # contact id -> its numbers in the index
        self._seen_seq = 0
        self.live = live
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, args=(watch_interval,),
                                         name="contacts-watch", daemon=True)
        if live:
            with self._lock:
                self._rebuild()
            self._watcher.start()

    # -- the connection ------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, check_same_thread=False,
                                   isolation_level=None)  # explicit BEGIN IMMEDIATE for writes
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut keeps a consistent file
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-8000")  # 8 MB: a big import spills to the WAL, not RAM
            conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the contacts store {self.path.name}: {exc}") from exc
        return conn

    def _write(self) -> _Transaction:
        return _Transaction(self)

    # -- the in-memory index -------------------------------------------------------------

    def _index(self, contact_id: str, info: CallerInfo | None, numbers: Iterable[str]) -> None:
        """Point the contact's numbers at `info` (None: drop the contact). The new entries
        go in before the stale ones leave, so a lookup meanwhile never misses. Lock held."""
        kept = tuple(numbers) if info is not None else ()
        for number in kept:
            self._by_number[number] = info  # type: ignore[assignment]
            if number.startswith("+") and len(number) > TAIL:
                self._by_tail.setdefault(number[-TAIL:], number)
        for number in self._numbers_of.pop(contact_id, ()):
            if number in kept:
                continue
            holder = self._by_number.get(number)
            if holder is None or holder.contact_id != contact_id:
                continue  # the number has moved to another contact (indexed already): its tail stays
            del self._by_number[number]
            tail = number[-TAIL:]
            if self._by_tail.get(tail) == number:
                del self._by_tail[tail]
                other = self._db.execute("SELECT number FROM phones WHERE tail = ? AND number != ? LIMIT 1",
                                         (tail, number)).fetchone()  # another contact's number with that tail
                if other is not None and other[0] in self._by_number:
                    self._by_tail[tail] = other[0]
        if info is not None:
            self._numbers_of[contact_id] = kept

    def _info(self, row: sqlite3.Row | tuple) -> CallerInfo:
        cid, name, company, tier, responsible = row
        return CallerInfo(cid, name, company, _TIERS.get(tier, tier), responsible)

    def _load_all(self) -> None:
        """The whole index from the file, built aside and swapped in. Lock held."""
        infos = {row[0]: self._info(row) for row in
                 self._db.execute("SELECT id, name, company, tier, responsible FROM contacts")}
        by_number: dict[str, CallerInfo] = {}
        by_tail: dict[str, str] = {}
        numbers: dict[str, list[str]] = {cid: [] for cid in infos}
        for cid, number in self._db.execute("SELECT contact_id, number FROM phones ORDER BY contact_id, position"):
            by_number[number] = infos[cid]
            numbers[cid].append(number)
            if number.startswith("+") and len(number) > TAIL:
                by_tail.setdefault(number[-TAIL:], number)
        self._by_number, self._by_tail = by_number, by_tail
        self._numbers_of = {cid: tuple(n) for cid, n in numbers.items()}

    def _load(self, ids: list[str]) -> int:
        """Read these contacts into the index; ids no longer stored are dropped from it.
        Returns how many contacts were read. Lock held."""
        marks = ",".join("?" * len(ids))
        infos = {row[0]: self._info(row) for row in self._db.execute(
            f"SELECT id, name, company, tier, responsible FROM contacts WHERE id IN ({marks})", ids)}
        numbers: dict[str, list[str]] = {}
        for cid, number in self._db.execute(
                f"SELECT contact_id, number FROM phones WHERE contact_id IN ({marks}) ORDER BY contact_id, position",
                ids):
            numbers.setdefault(cid, []).append(number)
        for cid in ids:
            if cid not in infos:
                self._index(cid, None, ())
        for cid, info in infos.items():
            self._index(cid, info, numbers.get(cid, ()))
        return len(infos)

    def _rebuild(self) -> None:
        self._seen_seq = self._meta("seq")
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        self._load_all()

    def _meta(self, key: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # a busy or vanished file must not end the watcher: try again
                log.exception("contacts: reloading changes of other processes failed")

    def refresh(self) -> int:
        """Take in what other processes committed since the last look (the watch thread
        calls this every second). Returns how many contacts were reloaded."""
        changed: list[tuple[str, str]] = []
        with self._lock:
            if self._stop.is_set():
                return 0
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return 0
            self._db.execute("BEGIN")  # one snapshot for the seq, the rows and the tombstones
            try:
                seq = self._meta("seq")
                if self._meta("tombstone_floor") > self._seen_seq:
                    self._load_all()  # deletions were pruned before this store saw them
                    count = len(self._numbers_of)
                    changed = [("imported", "")] * 51
                else:
                    ids = [r[0] for r in self._db.execute(
                        "SELECT id FROM contacts WHERE seq > ? UNION SELECT contact_id FROM tombstones"
                        " WHERE seq > ?", (self._seen_seq, self._seen_seq))]
                    known = set(self._numbers_of)
                    count = 0
                    for start in range(0, len(ids), 500):
                        count += self._load(ids[start:start + 500])
                    changed = [("deleted" if cid not in self._numbers_of else
                                "updated" if cid in known else "created", cid) for cid in ids]
                self._seen_seq = seq
                self._data_version = version  # only once taken in: a failed reload is tried again
            finally:
                self._db.execute("COMMIT")
        self._announce_foreign(changed)
        return count

    def _announce_foreign(self, changed: list[tuple[str, str]]) -> None:
        """Tell on_change about other processes' changes: each one, or one "imported"
        for a big batch (an import by the CLI) instead of thousands of events."""
        if not changed or self.on_change is None:
            return
        if len(changed) > 50:
            self._notify("imported", {"count": len(changed) if changed[0][1] else self.count()})
            return
        for kind, cid in changed:
            if kind == "deleted":
                self._notify(kind, {"id": cid})
            else:
                try:
                    self._notify(kind, {"contact": self.get(cid).public()})
                except NotFound:  # deleted again meanwhile
                    self._notify("deleted", {"id": cid})

    def _notify(self, kind: str, payload: dict) -> None:
        callback = self.on_change
        if callback is not None:
            try:
                callback(kind, payload)
            except Exception:  # a subscriber's failure is not the store's: the change is committed
                log.exception("contacts: on_change failed")

    # -- reads ---------------------------------------------------------------------------

    def lookup(self, number: str) -> CallerInfo | None:
        """The caller's contact from memory only (the ring path): the exact E.164 number,
        else the last 10 digits."""
        if not self.live:
            return self._lookup_file(number)
        info = self._by_number.get(number)
        if info is not None:
            return info
        digits = _digits(number)
        if len(digits) < TAIL:
            return self._by_number.get(digits)
        key = self._by_tail.get(digits[-TAIL:])
        return self._by_number.get(key) if key is not None else None

    def _lookup_file(self, number: str) -> CallerInfo | None:
        """lookup() for a store without its index: the same two steps, from the file."""
        query = ("SELECT c.id, c.name, c.company, c.tier, c.responsible FROM phones p"
                 " JOIN contacts c ON c.id = p.contact_id WHERE ")
        digits = _digits(number)
        with self._lock:
            row = self._db.execute(query + "p.number = ?", (number,)).fetchone()
            if row is None and len(digits) < TAIL:
                row = self._db.execute(query + "p.number = ?", (digits,)).fetchone()
            elif row is None:
                row = self._db.execute(query + "p.tail = ? AND p.number LIKE '+%' ORDER BY c.id, p.position LIMIT 1",
                                       (digits[-TAIL:],)).fetchone()
        return self._info(row) if row is not None else None

    def _contacts(self, where: str, args: Iterable[Any]) -> list[Contact]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM contacts {where}", list(args)).fetchall()
            if not rows:
                return []
            ids = [r[0] for r in rows]
            phones: dict[str, list[Phone]] = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for cid, kind, number in self._db.execute(
                        "SELECT contact_id, type, number FROM phones"
                        f" WHERE contact_id IN ({','.join('?' * len(chunk))})"
                        " ORDER BY position", chunk):
                    phones.setdefault(cid, []).append(Phone(kind, number))
        return [Contact(**dict(zip(COLUMNS, r, strict=True)), phones=phones.get(r[0], [])) for r in rows]

    def get(self, id: str) -> Contact:
        found = self._contacts("WHERE id = ?", [id])
        if not found:
            raise NotFound(f"contact {id} does not exist", details={"id": id})
        return found[0]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0])

    def _number_query(self, q: str) -> str | None:
        """Digits a number search matches (at the end of stored numbers): a query that
        reads as a number, in any format; None for a name search."""
        if not q or any(c.isalpha() for c in q) or sum(c.isdigit() for c in q) < 3:
            return None
        try:
            number = phone_number(q, self.country, self.area_code)
        except ValidationError:
            return _digits(q)
        return _digits(number)[-TAIL:] if number.startswith("+") else _digits(q)

    def search(self, q: str = "", offset: int = 0, limit: int = 50) -> tuple[list[Contact], int]:
        """Contacts whose name, company or e-mail contain q (any case, any script), or
        whose number ends with (or contains) the digits of q in any format; paged, in
        name order, with the total of matches."""
        q = (q or "").strip()
        offset, limit = max(0, int(offset)), max(0, min(int(limit), 1000))
        digits = self._number_query(q)
        if digits is not None:
            where = ("WHERE id IN (SELECT contact_id FROM phones WHERE instr(number, ?) > 0)", [digits])
        elif q:
            where = ("WHERE instr(folded, ?) > 0", [q.casefold()])
        else:
            where = ("", [])
        with self._lock:
            total = int(self._db.execute(f"SELECT COUNT(*) FROM contacts {where[0]}", where[1]).fetchone()[0])
        page = self._contacts(f"{where[0]} ORDER BY folded, id LIMIT ? OFFSET ?", [*where[1], limit, offset])
        return page, total

    def list_all(self, batch: int = 1000) -> Iterator[Contact]:
        """Every contact in name order, read in batches (an export of 100,000 contacts
        does not hold them all in memory)."""
        after = ("", "")
        while True:
            page = self._contacts("WHERE (folded, id) > (?, ?) ORDER BY folded, id LIMIT ?", [*after, batch])
            if not page:
                return
            yield from page
            after = (_folded(page[-1]), page[-1].id)

    # -- writes --------------------------------------------------------------------------

    def _check(self, data: dict, id: str | None = None) -> Contact:
        return contact_from(data, country=self.country, area_code=self.area_code, id=id)

    def _owner_conflict(self, contact: Contact) -> Conflict | None:
        """A Conflict naming the other contact that has one of these numbers. Lock held."""
        for phone in contact.phones:
            row = self._db.execute("SELECT c.id, c.name FROM phones p JOIN contacts c ON c.id = p.contact_id"
                                   " WHERE p.number = ? AND p.contact_id != ?", (phone.number, contact.id)).fetchone()
            if row is not None:
                return Conflict(f"{phone.number} already belongs to {row[1]} ({row[0]})",
                                details={"field": "phones", "number": phone.number, "contact_id": row[0],
                                         "name": row[1]})
        return None

    def _insert(self, contact: Contact, seq: int) -> None:
        row = [getattr(contact, c) for c in COLUMNS]
        self._db.execute(f"INSERT INTO contacts ({', '.join(COLUMNS)}, seq, folded) VALUES"
                         f" ({', '.join('?' * len(COLUMNS))}, ?, ?)", [*row, seq, _folded(contact)])
        self._insert_phones(contact)

    def _insert_phones(self, contact: Contact) -> None:
        self._db.executemany("INSERT INTO phones (number, contact_id, type, position, tail) VALUES (?, ?, ?, ?, ?)",
                             [(p.number, contact.id, p.type, i, last_digits(p.number, TAIL))
                              for i, p in enumerate(contact.phones)])

    def _committed(self, seq: int, contacts: Iterable[tuple[str, Contact | None]]) -> None:
        """After a commit: the index takes the change; the watcher need not reload it when
        no other process committed in between (seq follows what it saw). Lock held."""
        for cid, contact in contacts:
            if not self.live:
                break
            self._index(cid, contact.caller_info() if contact else None,
                        [p.number for p in contact.phones] if contact else ())
        if seq == self._seen_seq + 1:
            self._seen_seq = seq

    def add(self, data: dict) -> Contact:
        given = data.get("id") if isinstance(data, dict) else None
        contact = self._check({k: v for k, v in data.items() if k != "id"} if given else data,
                              id=str(given) if given else None)
        with self._lock:
            with self._write() as tx:
                if self._db.execute("SELECT 1 FROM contacts WHERE id = ?", (contact.id,)).fetchone():
                    raise Conflict(f"contact {contact.id} exists", details={"field": "id", "contact_id": contact.id})
                conflict = self._owner_conflict(contact)
                if conflict:
                    raise conflict
                self._insert(contact, tx.seq)
            self._committed(tx.seq, [(contact.id, contact)])
        self._notify("created", {"contact": contact.public()})
        return contact

    def update(self, id: str, data: dict) -> Contact:
        if isinstance(data, dict) and data.get("id") not in (None, id):
            raise ValidationError("id: cannot be changed", details={"field": "id"})
        contact = self._check(data, id=id)
        with self._lock:
            with self._write() as tx:
                row = [getattr(contact, c) for c in COLUMNS[1:]]
                cur = self._db.execute(
                    f"UPDATE contacts SET {', '.join(c + ' = ?' for c in COLUMNS[1:])}, seq = ?, folded = ?"
                    " WHERE id = ?", [*row, tx.seq, _folded(contact), id])
                if cur.rowcount == 0:
                    raise NotFound(f"contact {id} does not exist", details={"id": id})
                conflict = self._owner_conflict(contact)
                if conflict:
                    raise conflict
                self._db.execute("DELETE FROM phones WHERE contact_id = ?", (id,))
                self._insert_phones(contact)
            self._committed(tx.seq, [(id, contact)])
        self._notify("updated", {"contact": contact.public()})
        return contact

    def delete(self, id: str) -> None:
        with self._lock:
            with self._write() as tx:
                if self._db.execute("DELETE FROM contacts WHERE id = ?", (id,)).rowcount == 0:
                    raise NotFound(f"contact {id} does not exist", details={"id": id})
                self._db.execute("DELETE FROM phones WHERE contact_id = ?", (id,))
                self._db.execute("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (id, tx.seq))
                self._prune_tombstones()
            self._committed(tx.seq, [(id, None)])
        self._notify("deleted", {"id": id})

    def _prune_tombstones(self) -> None:
        row = self._db.execute("SELECT seq FROM tombstones ORDER BY seq DESC LIMIT 1 OFFSET ?",
                               (TOMBSTONES_KEPT,)).fetchone()
        if row is not None:
            self._db.execute("DELETE FROM tombstones WHERE seq <= ?", (row[0],))
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'tombstone_floor'", (row[0],))

    def import_contacts(self, rows: Iterable[dict], *, progress: Callable[[int], None] | None = None,
                        report: ImportReport | None = None) -> ImportReport:
        """Add many contacts in ONE transaction: the good rows go in together, the report
        names the others; an error or a crash before the commit leaves the store as it
        was. A row is a contact's fields; `_row` labels it in the report (else its
        position from 1), and a row with `_error` (the importer could not read it) is
        refused with that reason. New contacts only: a number already stored, or twice
        in the rows, is refused."""
        report = report if report is not None else ImportReport()
        added: list[tuple[str, Contact | None]] = []
        in_file: dict[str, Any] = {}  # number -> the row that brought it
        with self._lock:
            with self._write() as tx:
                position = 0
                for position, raw in enumerate(rows, start=1):
                    if progress is not None and position % 500 == 0:
                        progress(position)
                    self._import_row(raw, position, tx.seq, report, in_file, added)
                if progress is not None:
                    progress(position)
            self._committed(tx.seq, added)
        report.imported = len(added)
        report.ids = [cid for cid, _ in added]
        if added:
            self._notify("imported", {"count": len(added)})
        return report

    def _import_row(self, raw: Any, position: int, seq: int, report: ImportReport,
                    in_file: dict[str, Any], added: list[tuple[str, Contact | None]]) -> None:
        if not isinstance(raw, dict):
            report.refuse(position, "not a contact object")
            return
        data = dict(raw)
        ref = data.pop("_row", position)
        if "_error" in data:
            report.refuse(ref, str(data["_error"]), **({"field": data["_field"]} if "_field" in data else {}))
            return
        given = data.pop("id", None)
        try:
            contact = self._check({k: v for k, v in data.items() if k != "_field"}, id=str(given) if given else None)
        except PbxError as exc:
            report.refuse(ref, exc.message, **({"field": exc.details["field"]} if "field" in exc.details else {}))
            return
        for phone in contact.phones:
            if phone.number in in_file:
                report.refuse(ref, f"{phone.number} is also in row {in_file[phone.number]} of this import",
                              field="phones", number=phone.number, other_row=in_file[phone.number])
                return
        if given and self._db.execute("SELECT 1 FROM contacts WHERE id = ?", (contact.id,)).fetchone():
            report.refuse(ref, f"contact {contact.id} exists already", field="id", contact_id=contact.id)
            return
        conflict = self._owner_conflict(contact)
        if conflict is not None:
            report.refuse(ref, conflict.message, **conflict.details)
            return
        self._insert(contact, seq)
        for phone in contact.phones:
            in_file[phone.number] = ref
        # Until the commit only what the index needs is held (a 50 MB file is 150,000 cards).
        added.append((contact.id, Contact(contact.id, contact.name, contact.company, contact.phones,
                                          tier=contact.tier, responsible=contact.responsible)
                      if self.live else None))

    def close(self) -> None:
        self._stop.set()
        if self._watcher.is_alive() and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        with self._lock:
            self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE (the write lock up front: no deadlock with another writer), the
    next seq, COMMIT; ROLLBACK on any error, which propagates. Store lock held."""

    def __init__(self, store: ContactStore) -> None:
        self.db = store._db
        self.seq = 0

    def __enter__(self) -> _Transaction:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'seq'")
            self.seq = int(self.db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise StorageError(f"cannot write the contacts store: {exc}") from exc
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as error:
                self.db.execute("ROLLBACK")
                raise StorageError(f"cannot write the contacts store: {error}") from error
        self.db.execute("ROLLBACK")
        if issubclass(kind, sqlite3.IntegrityError):
            raise Conflict(f"refused by the contacts store: {exc}") from exc
        if issubclass(kind, sqlite3.Error):
            raise StorageError(f"cannot write the contacts store: {exc}") from exc


def open_contacts(data_dir: Path, live: bool = True) -> ContactStore:
    """<data_dir>/contacts.sqlite, its numbers read with the office's `country` and
    `area_code` settings (RU and none unless set: `pbx config set country DE`)."""
    from pbx.store.settings import Settings

    settings = Settings(Path(data_dir))
    try:
        country, area_code = str(settings.get("country", "RU")).upper(), str(settings.get("area_code", ""))
    finally:
        settings.close()
    return ContactStore(Path(data_dir) / "contacts.sqlite", country, area_code, live=live)

