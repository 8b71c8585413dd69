"""The dial plan in `dialplan.json`: one TinyDB table per kind, saved whole and checked whole.

Each save reads the file under the cross-process lock, checks the one object
(`schema.py`), then the plan as it would be after the save (`checks.py`), and writes
the file once: a refused save leaves the file as it was, byte for byte. Objects outside
the plan (extensions, trunks) are checked for the object being saved only: deleting an
extension elsewhere must not make every later save of the plan fail.

The core takes `snapshot()` per call: one stat when nothing changed, a rebuild when any
process wrote the file.
"""
from __future__ import annotations

import builtins
import copy
import threading
from pathlib import Path
from typing import Any, Protocol

from tinydb import TinyDB

from pbx.dialplan import checks, defaults, schema
from pbx.dialplan.snapshot import PlanSnapshot
from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.atomic import open_documents


class Lookup(Protocol):
    def get(self, key: str, /) -> Any: ...


class DialPlanStore:
    def __init__(self, data_dir: Path, extensions: Lookup | None = None, trunks: Lookup | None = None) -> None:
        """`extensions` (ExtensionStore) and `trunks` (TrunkStore), when given, check that
        the extensions and lines a saved object names exist."""
        self.docs = open_documents(data_dir, "dialplan")
        self.extensions, self.trunks = extensions, trunks
        self._lock = threading.RLock()  # the storage's read cache is not thread-safe
        self._cached: tuple[object, PlanSnapshot] | None = None
        self._ensure_defaults()

    # -- reading -----------------------------------------------------------------------

    def _plan(self, data: dict | None) -> checks.Plan:
        plan: checks.Plan = {kind: {} for kind in schema.KINDS}
        for kind in schema.KINDS:
            for doc in ((data or {}).get(kind) or {}).values():
                if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                    plan[kind][doc["id"]] = schema.with_defaults(kind, doc)
        plan["prompt"].update(defaults.system_prompts())  # the code's, whatever the file says
        return plan

    def _read(self) -> checks.Plan:
        with self._lock:
            return self._plan(self.docs.storage.read())

    def list(self, kind: str) -> builtins.list[dict]:
        """Every object of a kind, by position then id (system prompts included)."""
        schema.check_kind(kind)
        return sorted(self._read()[kind].values(), key=lambda r: (r.get("position", 0), r["id"]))

    def get(self, kind: str, id: str) -> dict | None:
        schema.check_kind(kind)
        return self._read()[kind].get(id)

    def snapshot(self) -> PlanSnapshot:
        """The plan as one immutable view; the same object until the file changes."""
        cached = self._cached
        if cached is not None and cached[0] == self.docs.stamp():
            return cached[1]
        with self._lock:
            stamp = self.docs.stamp()  # before reading: a write in between means one rebuild more
            if self._cached is None or self._cached[0] != stamp:
                self._cached = (stamp, PlanSnapshot.build(self._plan(self.docs.storage.read())))
            return self._cached[1]

    def changed(self) -> bool:
        """Whether the file changed (a save by any process) since this store's last snapshot()."""
        cached = self._cached
        return cached is None or cached[0] != self.docs.stamp()

    # -- writing -----------------------------------------------------------------------

    def save(self, kind: str, obj: dict) -> dict:
        """Create or replace one object; refused whole (ValidationError, Conflict) or written once."""
        schema.check_kind(kind)
        if kind == "prompt" and isinstance(obj, dict) and isinstance(obj.get("id"), str) \
                and obj["id"] in defaults.SYSTEM_PROMPTS:
            raise Conflict(f"prompt {obj['id']} is a system prompt and cannot be changed",
                           details={"field": "id"})
        record = schema.normalise(kind, obj)
        self._check_outside(kind, record)
        key = f"{kind}:{record['id']}"
        with self._lock, self.docs.writing() as db:
            data = db.storage.read() or {}
            plan = self._plan(data)
            plan[kind][record["id"]] = record
            checks.validate_plan(plan, key)
            self._write(db, data, kind, record["id"], record)
        return copy.deepcopy(record)  # the caller may edit it

    def delete(self, kind: str, id: str) -> None:
        """Refused with Conflict while anything refers to the object (details["referrers"])."""
        schema.check_kind(kind)
        if kind == "prompt" and isinstance(id, str) and id in defaults.SYSTEM_PROMPTS:
            raise Conflict(f"prompt {id} is a system prompt and cannot be deleted", details={"field": "id"})
        with self._lock, self.docs.writing() as db:
            data = db.storage.read() or {}
            plan = self._plan(data)
            if id not in plan[kind]:
                raise NotFound(f"{kind}:{id} does not exist")
            users = checks.referrers(plan, f"{kind}:{id}")
            if users:
                raise Conflict(f"{kind}:{id} is still used by {', '.join(users)}", details={"referrers": users})
            self._write(db, data, kind, id, None)

    def _write(self, db: TinyDB, data: dict, kind: str, id: str, record: dict | None) -> None:
        """Put (or remove) one record in its TinyDB table, keeping its document id, in one write."""
        table = dict(data.get(kind) or {})
        doc_id = next((k for k, doc in table.items() if isinstance(doc, dict) and doc.get("id") == id), None)
        if record is None:
            table.pop(doc_id, None)
        else:
            if doc_id is None:
                doc_id = str(max((int(k) for k in table if k.isdigit()), default=0) + 1)
            table[doc_id] = record
        db.storage.write({**data, kind: table})
        db.clear_cache()

    def _ensure_defaults(self) -> None:
        """A fresh file gets the defaults; every file gets the code's system prompts."""
        with self._lock, self.docs.writing() as db:
            data = db.storage.read() or {}
            out = dict(data)
            if not any(kind in data for kind in schema.KINDS):
                out.update({kind: {"1": record} for kind, record in defaults.fresh_objects()})
            table = out.get("prompt") or {}
            system = {k for k, v in table.items() if isinstance(v, dict) and v.get("system")}
            own = {k: v for k, v in table.items() if k not in system}
            stored = sorted((table[k] for k in system), key=lambda r: str(r.get("id")))
            wanted = sorted(defaults.system_prompts().values(), key=lambda r: r["id"])
            if out == data and stored == wanted:
                return  # the usual open: nothing to write
            first = max((int(k) for k in own if k.isdigit()), default=0) + 1
            out["prompt"] = {**own, **{str(first + i): rec for i, rec in enumerate(wanted)}}
            db.storage.write(out)
            db.clear_cache()

    # -- outside the plan ----------------------------------------------------------------

    def _check_outside(self, kind: str, rec: dict) -> None:
        exts, trunks = self.extensions, self.trunks
        if exts is not None:
            if rec.get("number") and kind in schema.NUMBERED and exts.get(rec["number"]) is not None:
                raise ValidationError(f"number: {rec['number']} is an extension", details={"field": "number"})
            if kind == "permission" and exts.get(rec["id"]) is None:
                raise ValidationError(f"id: there is no extension {rec['id']}", details={"field": "id"})
            for field, dest in checks.destinations(kind, rec):
                if dest.startswith("extension:") and exts.get(dest.partition(":")[2]) is None:
                    raise ValidationError(f"{field}: there is no extension {dest.partition(':')[2]}",
                                          details={"field": field})
            for i, member in enumerate(rec.get("members", ()) if kind == "ringgroup" else ()):
                if schema.EXTENSION.match(member) and exts.get(member) is None:
                    raise ValidationError(f"members.{i}: there is no extension {member}",
                                          details={"field": f"members.{i}"})
        if trunks is not None:
            names = [("trunk", rec["trunk"])] if kind == "inbound" and rec["trunk"] else []
            names += [(f"trunks.{i}", t) for i, t in enumerate(rec["trunks"])] if kind == "outbound" else []
            for field, name in names:
                if trunks.get(name) is None:
                    raise ValidationError(f"{field}: there is no line {name}", details={"field": field})

    def close(self) -> None:
        self.docs.close()
