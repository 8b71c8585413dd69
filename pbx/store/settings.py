"""Appliance-wide settings (SIP realm, ...) in one small TinyDB file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tinydb import Query

from pbx.store.atomic import open_documents

ON = ("on", "true", "yes", "1")
SWITCHES = ON + ("off", "false", "no", "0")


class Settings:
    def __init__(self, data_dir: Path) -> None:
        self.docs = open_documents(data_dir, "settings")

    def get(self, key: str, default: Any = None) -> Any:
        row = self.docs.fresh().get(Query().key == key)
        return row["value"] if row else default  # type: ignore[index]

    def set(self, key: str, value: Any) -> None:
        with self.docs.writing() as db:
            db.upsert({"key": key, "value": value}, Query().key == key)

    def close(self) -> None:
        self.docs.close()


class SettingsView:
    """The settings as last read, for a thread that must not read a file (the core):
    get() is a dict lookup; refresh() re-reads the file (another thread calls it)."""

    def __init__(self, data_dir: Path) -> None:
        self._settings = Settings(data_dir)
        self.values: dict[str, Any] = {}
        self.refresh()

    def refresh(self) -> None:
        self.values = {row["key"]: row["value"] for row in self._settings.docs.fresh().all()}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def close(self) -> None:
        self._settings.close()
