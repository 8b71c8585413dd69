"""TinyDB storage that survives power cuts and is shared by the daemon and the CLI.

Writes go to a temp file that is fsynced and os.replace()d over the old one, then the
directory is fsynced: a power cut leaves the old or the new file, never a torn one.
Writers from several processes take an fcntl lock; readers notice another process's
write by the file's identity (inode, size, mtime) and read it again.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from tinydb import TinyDB
from tinydb.storages import Storage

from pbx.errors import StorageError


def fsync_dir(path: Path) -> None:
    """Make a rename in this directory durable (the file's own fsync does not)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicJSONStorage(Storage):
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, Any] | None = None
        self._stamp: tuple[int, int, int] | None = None

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def changed(self) -> bool:
        return self._file_stamp() != self._stamp

    def read(self) -> dict[str, Any] | None:
        stamp = self._file_stamp()
        if self._cache is not None and stamp == self._stamp:
            return json.loads(json.dumps(self._cache))  # TinyDB mutates what it reads
        if stamp is None:
            self._cache, self._stamp = None, None
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {self.path.name}: {exc}") from exc
        self._cache, self._stamp = data, stamp
        return json.loads(json.dumps(data))

    def write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        payload = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise StorageError(f"cannot save {self.path.name}: {reason}; nothing was changed") from exc
        self._cache, self._stamp = json.loads(payload), self._file_stamp()

    def close(self) -> None:
        pass


class Documents:
    """One TinyDB file plus its cross-process write lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = TinyDB(path, storage=AtomicJSONStorage)
        self._lock_path = path.with_name(f".{path.name}.lock")
        self._thread_lock = threading.RLock()

    @property
    def storage(self) -> AtomicJSONStorage:
        return self.db.storage  # type: ignore[return-value]

    def stamp(self) -> object:
        """Changes whenever any process writes the file (inode, size, mtime): one stat."""
        return self.storage._file_stamp()

    def fresh(self) -> TinyDB:
        """The db for reading, with query caches dropped if another process wrote."""
        if self.storage.changed():
            self.db.clear_cache()
        return self.db

    @contextlib.contextmanager
    def writing(self) -> Iterator[TinyDB]:
        """Serialise writers across threads and processes; re-read before changing."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self.db.clear_cache()
                for table in self.db._tables.values():
                    table._next_id = None  # another process may have inserted since
                yield self.db
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def close(self) -> None:
        self.db.close()


def open_documents(data_dir: Path, name: str) -> Documents:
    return Documents(Path(data_dir) / f"{name}.json")
