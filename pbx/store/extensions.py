"""Extensions (SIP accounts of the office's phones), stored in TinyDB.

Only the digest HA1 hashes are kept (MD5 and SHA-256 of user:realm:password), never the
password; changing the realm therefore needs the passwords again.
"""
from __future__ import annotations

import builtins
import hashlib
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from tinydb import Query

from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.atomic import open_documents

COMMON_PASSWORDS = {
    "password", "password1", "1234567890", "0123456789", "qwertyuiop", "1q2w3e4r5t",
    "qwerty1234", "administrator", "letmeinplease", "iloveyou12", "passw0rd12", "1111111111",
}
NUMBER = re.compile(r"^\d{2,6}$")


def ha1(user: str, realm: str, password: str, algorithm: str) -> str:
    h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
    return h(f"{user}:{realm}:{password}".encode()).hexdigest()


def password_problem(number: str, password: str) -> str | None:
    """Why a SIP password is too weak (phones on the LAN get brute-forced), or None."""
    if not password:
        return "the SIP password is empty"
    if len(password) < 10:
        return "the SIP password must be at least 10 characters"
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z\d]"))
    if classes < 2:
        return "the SIP password must mix at least two of: lower case, upper case, digits, symbols"
    if number in password:
        return "the SIP password must not contain the extension number"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "the SIP password is too easy to guess"
    return None


@dataclass(frozen=True)
class Extension:
    number: str
    name: str
    ha1_md5: str
    ha1_sha256: str
    realm: str
    created: float

    def public(self) -> dict:
        return {"number": self.number, "name": self.name, "created": self.created}


class ExtensionStore:
    def __init__(self, data_dir: Path, realm: str = "pbx") -> None:
        self.realm = realm
        self.docs = open_documents(data_dir, "extensions")
        self._index: dict[str, Extension] = {}
        self._index_lock = threading.Lock()
        self._loaded_stamp: object = object()
        # Who else answers a number (the dial plan: ring group 600, IVR 700), set by
        # open_services: an extension must not take a number the plan already uses.
        self.number_owner: Callable[[str], str | None] = lambda number: None

    def _refresh(self) -> dict[str, Extension]:
        # One stat per call: cheap enough for the SIP hot path, and a `pbx ext add` or
        # `pbx ext del` from another process counts at once (a deleted extension must not
        # log in even half a second longer).
        stamp = self.docs.stamp()
        if stamp != self._loaded_stamp:
            with self._index_lock:
                rows = self.docs.fresh().all()
                self._index = {r["number"]: Extension(**r) for r in rows}
                self._loaded_stamp = stamp
        return self._index

    def get(self, number: str) -> Extension | None:
        return self._refresh().get(number)

    def list(self) -> builtins.list[Extension]:
        return sorted(self._refresh().values(), key=lambda e: e.number)

    def ha1(self, user: str, realm: str, algorithm: str) -> str | None:
        ext = self._refresh().get(user)
        if ext is None or realm != ext.realm:
            return None
        return ext.ha1_sha256 if algorithm == "SHA-256" else ext.ha1_md5

    def add(self, number: str, name: str, password: str) -> Extension:
        return self.add_many([(number, name, password)])[0]

    def add_many(self, rows: builtins.list[tuple[str, str, str]]) -> builtins.list[Extension]:
        """Validate all, then one write (an import of hundreds must not rewrite the file
        hundreds of times)."""
        exts = [self._new(*row) for row in rows]
        numbers = [e.number for e in exts]
        for number in numbers:
            owner = self.number_owner(number)
            if owner is not None:
                raise Conflict(f"number {number} is already {owner} in the dial plan",
                               details={"field": "number"})
        if len(set(numbers)) != len(numbers):
            raise Conflict("the same extension number appears twice")
        with self.docs.writing() as db:
            taken = {r["number"] for r in db.all()} & set(numbers)
            if taken:
                raise Conflict(f"extension {sorted(taken)[0]} already exists")
            db.insert_multiple(asdict(e) for e in exts)
        return exts

    def _new(self, number: str, name: str, password: str) -> Extension:
        number, name = number.strip(), name.strip()
        if not NUMBER.match(number):
            raise ValidationError("extension number must be 2 to 6 digits", details={"field": "number"})
        if not name or len(name) > 64:
            raise ValidationError("name must be 1 to 64 characters", details={"field": "name"})
        problem = password_problem(number, password)
        if problem:
            raise ValidationError(problem, details={"field": "password"})
        return Extension(number, name, ha1(number, self.realm, password, "MD5"),
                         ha1(number, self.realm, password, "SHA-256"), self.realm, time.time())

    def delete(self, number: str) -> None:
        with self.docs.writing() as db:
            if not db.remove(Query().number == number):
                raise NotFound(f"extension {number} does not exist")

    def close(self) -> None:
        self.docs.close()
