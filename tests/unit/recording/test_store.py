"""The recordings table and files, the audit log, and the journal's set_detail/delete."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pbx.errors import ValidationError
from pbx.recording.audit import AuditLog
from pbx.recording.store import Recording, RecordingStore
from pbx.services import open_services
from pbx.store.journal import CallJournal, CallRecord

DAY = 1796256000.0  # 2026-12-03 00:00 UTC


def _call(call_id: str, caller: str = "+79161234567", start: float = DAY + 3600) -> CallRecord:
    return CallRecord(call_id, caller, "101", "inbound", "gsm1", start, start + 2, start + 30, 28.0, "answered",
                      {"path": ["101"]})


@pytest.fixture
def store(tmp_path: Path):
    journal = CallJournal(tmp_path / "calls.sqlite")
    yield RecordingStore(journal, tmp_path)
    journal.close()


def _made(store: RecordingStore, call_id: str, started: float, caller: str = "+79161234567",
          size: int = 1000, status: str = "ready") -> Recording:
    wav = store.wav_path(call_id, started)
    ogg = wav.with_suffix(".ogg")
    ogg.write_bytes(b"x" * size)
    rec = Recording(call_id, store.relative(ogg), "ogg", status, started, 12.5, size, caller, "101")
    store.add(rec)
    return rec


def test_wav_path_dirs_private_and_dated(store: RecordingStore, tmp_path: Path) -> None:
    path = store.wav_path("c1", DAY + 5)
    assert path == tmp_path / "recordings/2026/12/03/c1.wav"
    assert store.wav_path("c1", DAY + 5, "a").name == "c1.a.wav"
    for folder in (tmp_path / "recordings", tmp_path / "recordings/2026", tmp_path / "recordings/2026/12",
                   path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    with pytest.raises(ValidationError):
        store.wav_path("../etc", DAY)
    with pytest.raises(ValidationError):
        store.wav_path("c1", DAY, "c")


def test_add_get_update_list_and_call_record_link(store: RecordingStore) -> None:
    store.journal.add(_call("c1"))
    rec = _made(store, "c1", DAY + 3602)
    assert store.get("c1") == rec
    assert store.journal.get("c1").details["recording"]["status"] == "ready"
    assert store.journal.get("c1").details["path"] == ["101"]  # other keys kept
    updated = store.update("c1", note="disk full after 12.3 s", duration=12.3)
    assert updated is not None and updated.note == "disk full after 12.3 s"
    assert store.get("c1").duration == 12.3
    assert store.journal.get("c1").details["recording"]["note"] == "disk full after 12.3 s"
    assert store.update("nope", note="x") is None
    with pytest.raises(ValueError):
        store.update("c1", bogus=1)
    with pytest.raises(ValidationError):
        store.update("c1", status="lost")
    _made(store, "c2", DAY + 7200, caller="+74951234567")
    _made(store, "c3", DAY + 100)
    assert [r.call_id for r in store.list()] == ["c2", "c1", "c3"]
    assert [r.call_id for r in store.list(number="+79161234567")] == ["c1", "c3"]
    assert [r.call_id for r in store.list(since=DAY + 3000, limit=1)] == ["c2"]
    assert store.total_size() == 3000
    public = rec.public()
    assert public["url"] == "/api/v1/recordings/c1" and public["caller"] == "+79161234567"


def test_delete_removes_files_row_and_link(store: RecordingStore) -> None:
    store.journal.add(_call("c1"))
    rec = _made(store, "c1", DAY + 3602)
    leftover = store.wav_path("c1", rec.started)  # a WAV the compressor had not removed yet
    leftover.write_bytes(b"RIFF")
    assert store.delete("c1") is True
    assert not store.absolute(rec).exists() and not leftover.exists()
    assert store.get("c1") is None and store.delete("c1") is False
    assert "recording" not in store.journal.get("c1").details


def test_delete_number_oldest_and_journal_hook(tmp_path: Path) -> None:
    services = open_services(tmp_path)
    try:
        store = services.recordings
        assert store is not None and services.audit is not None
        for i, start in enumerate((DAY + 10, DAY + 20, DAY + 30)):
            services.journal.add(_call(f"c{i}", start=start))
            _made(store, f"c{i}", start, caller="+79161234567" if i < 2 else "+74951234567")
        _made(store, "live", DAY + 5, caller="+74957654321", status="recording")
        assert [r.call_id for r in store.oldest(2)] == ["c0", "c1"]  # never one being written
        assert store.delete_number("+79161234567") == ["c0", "c1"]
        assert [r.call_id for r in store.list()] == ["c2", "live"]
        assert services.journal.delete("c2") is True  # the call record takes its recording along
        assert store.get("c2") is None and services.journal.get("c2") is None
        assert services.journal.delete("c2") is False
    finally:
        services.close()


def test_set_detail(tmp_path: Path) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    try:
        journal.add(_call("c1"))
        assert journal.set_detail("c1", "recording", {"path": "x.ogg", "size": 3}) is True
        assert journal.set_detail("c1", "a.b", [1, "два"]) is True
        details = journal.get("c1").details
        assert details == {"path": ["101"], "recording": {"path": "x.ogg", "size": 3}, "a.b": [1, "два"]}
        assert journal.set_detail("c1", "a.b", None) is True
        assert "a.b" not in journal.get("c1").details
        assert journal.set_detail("missing", "k", 1) is False
        with pytest.raises(ValueError):
            journal.set_detail("c1", 'x"y', 1)
    finally:
        journal.close()


def test_audit_log(tmp_path: Path) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    try:
        audit = AuditLog(journal)
        audit.add("listen", "c1", "admin", "192.168.1.5")
        audit.add("refused", "c1", "tok_1", "10.0.0.2", ok=False, detail="scope")
        audit.add("export", "c2", "cli", "cli")
        with pytest.raises(ValueError):
            audit.add("peek", "c1", "x", "y")
        rows = audit.list()
        assert [r["action"] for r in rows] == ["export", "refused", "listen"]
        assert [r["action"] for r in audit.list(call_id="c1", limit=1)] == ["refused"]
        assert rows[1]["ok"] is False and rows[0]["ok"] is True and rows[1]["detail"] == "scope"
    finally:
        journal.close()
