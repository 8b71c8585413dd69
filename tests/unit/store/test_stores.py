"""Storage: a power cut mid-write or a full disk leaves the old file whole; two
processes writing lose nothing; a reader sees another process's change at once."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pbx.errors import StorageError
from pbx.store.extensions import ExtensionStore
from pbx.store.journal import CallJournal, CallRecord
from pbx.store.tokens import TokenStore


def test_crash_before_replace_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    store = ExtensionStore(tmp_path)
    store.add("101", "Alice", "amber-Falcon-42")
    before = (tmp_path / "extensions.json").read_bytes()

    def power_cut(*args):  # the temp file is written and synced, then the lights go out
        raise OSError(errno.EIO, "power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(StorageError):
        store.add("102", "Bob", "quiet-Harbor-77")
    monkeypatch.undo()
    assert (tmp_path / "extensions.json").read_bytes() == before
    assert [e.number for e in ExtensionStore(tmp_path).list()] == ["101"]
    assert not list(tmp_path.glob(".*.tmp")), "the temp file is cleaned up"


def test_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    store = ExtensionStore(tmp_path)
    store.add("101", "Alice", "amber-Falcon-42")
    real_write = os.write

    def full(fd, data):
        if fd > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match="disk full"):
        store.add("102", "Bob", "quiet-Harbor-77")
    monkeypatch.undo()
    assert json.loads((tmp_path / "extensions.json").read_text())["_default"]["1"]["number"] == "101"


def test_a_killed_writer_never_leaves_a_torn_file(tmp_path: Path) -> None:
    code = ("import sys; from pbx.store.extensions import ExtensionStore\n"
            "s = ExtensionStore(sys.argv[1])\n"
            "for i in range(100000): s.add(str(1000 + i), 'x' * 50, 'amber-Falcon-42')\n")
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)])
        time.sleep(0.6)
        proc.kill()
        proc.wait()
        json.loads((tmp_path / "extensions.json").read_text())  # whole, never torn
    assert len(ExtensionStore(tmp_path).list()) > 0


def test_two_processes_writing_lose_nothing_and_readers_see_changes(tmp_path: Path) -> None:
    reader = ExtensionStore(tmp_path)
    assert reader.get("201") is None
    code = ("import sys; from pbx.store.extensions import ExtensionStore\n"
            "s = ExtensionStore(sys.argv[1])\n"
            "for i in range(20): s.add(sys.argv[2] + '%02d' % i, 'n', 'amber-Falcon-42')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), p]) for p in ("2", "3")]
    for proc in procs:
        assert proc.wait() == 0
    assert len(reader.list()) == 40 and reader.get("201") is not None
    assert reader.ha1("201", "pbx", "MD5") and reader.ha1("201", "other", "MD5") is None


def _open_fds(path: Path) -> int:
    fds = os.listdir("/proc/self/fd")
    return sum(1 for fd in fds if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(path)))


def test_journal_keeps_one_connection_whatever_the_threads(tmp_path: Path) -> None:
    """Web workers live as long as the daemon: a connection each would stay open for
    good (a soak run saw ten descriptors more at the end than at idle)."""
    from concurrent.futures import ThreadPoolExecutor

    journal = CallJournal(tmp_path / "calls.sqlite")
    journal.list()
    before = _open_fds(tmp_path / "calls.sqlite")
    with ThreadPoolExecutor(4) as pool:  # like waitress's threads, alive while we count
        for _ in range(4):
            list(pool.map(lambda _: (journal.list(), journal.list_sms(), journal.summary(0)), range(16)))
        assert _open_fds(tmp_path / "calls.sqlite") == before
    journal.close()
    assert _open_fds(tmp_path / "calls.sqlite") == 0


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path)
    token = tokens.create("crm")
    assert token not in (tmp_path / "tokens.json").read_text()
    assert tokens.verify(token) == ("crm", "admin") and tokens.verify(token + "x") is None


def test_journal_from_threads_and_another_connection(tmp_path: Path) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")

    def write(n: int) -> None:
        for i in range(50):
            journal.add(CallRecord(f"{n}-{i}", "101", "102", "internal", None, time.time(), None,
                                   time.time(), 0.0, "no_answer"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CallJournal(tmp_path / "calls.sqlite").count() == 200
    assert journal.summary(0) == {"total": 200, "answered": 0, "missed": 200, "blocked": 0}
    with pytest.raises(ValueError):
        journal.add(CallRecord("x", "1", "2", "internal", None, 0, None, 0, 0, "weird"))
