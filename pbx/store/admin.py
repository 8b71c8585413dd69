"""The web admin's login: a generated one-time password on first start (never a fixed
default), hashed with werkzeug's scrypt, and a must-change flag until it is replaced."""
from __future__ import annotations

import secrets
from pathlib import Path

from tinydb import Query
from werkzeug.security import check_password_hash, generate_password_hash

from pbx.errors import NotFound, ValidationError
from pbx.store.atomic import open_documents

ADMIN = "admin"


class AdminStore:
    def __init__(self, data_dir: Path) -> None:
        self.docs = open_documents(data_dir, "admin")

    def ensure_admin(self) -> str | None:
        """Create 'admin' with a one-time password and return it; None if one exists."""
        with self.docs.writing() as db:
            if db.search(Query().user == ADMIN):
                return None
            password = "-".join(secrets.token_hex(2) for _ in range(4))
            db.insert({"user": ADMIN, "hash": generate_password_hash(password), "must_change": True})
            return password

    def check(self, user: str, password: str) -> bool:
        row = self.docs.fresh().get(Query().user == user)
        if row is None:
            check_password_hash(generate_password_hash("x"), password)  # same time either way
            return False
        return check_password_hash(row["hash"], password)  # type: ignore[index]

    def must_change(self, user: str) -> bool:
        row = self.docs.fresh().get(Query().user == user)
        return bool(row and row["must_change"])  # type: ignore[index]

    def set_password(self, user: str, new: str) -> None:
        if len(new) < 10:
            raise ValidationError("the new password must be at least 10 characters")
        with self.docs.writing() as db:
            if not db.update({"hash": generate_password_hash(new), "must_change": False},
                             Query().user == user):
                raise NotFound(f"no user {user}")

    def close(self) -> None:
        self.docs.close()
