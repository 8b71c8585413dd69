"""Retention, the disk guard (an injected statvfs, then a real 8 MB tmpfs filled up) and
the service that runs both."""
from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pbx.recording.audit import AuditLog
from pbx.recording.diskguard import FULL_BYTES, RESERVE_BYTES, DiskGuard
from pbx.recording.retention import sweep
from pbx.recording.service import RecordingService
from pbx.recording.store import Recording, RecordingStore
from pbx.store.journal import CallJournal, CallRecord

DAY = 86400.0
NOW = 1796256000.0
MB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path):
    journal = CallJournal(tmp_path / "calls.sqlite")
    yield RecordingStore(journal, tmp_path)
    journal.close()


def _rec(store: RecordingStore, call_id: str, age_days: float, size: int, status: str = "ready") -> None:
    started = NOW - age_days * DAY
    path = store.wav_path(call_id, started).with_suffix(".ogg")
    path.write_bytes(b"o" * size)
    store.add(Recording(call_id, store.relative(path), "ogg", status, started, 1.0, size))


def test_sweep_by_age_then_quota_oldest_first(store: RecordingStore) -> None:
    _rec(store, "old2", 100, 10)
    _rec(store, "old1", 120, 10)
    _rec(store, "mid", 30, 400)
    _rec(store, "new", 1, 300)
    _rec(store, "live", 200, 0, status="recording")  # never swept, however old
    assert sweep(store, max_age_days=0, quota_bytes=0, now=NOW) == []
    assert sweep(store, max_age_days=90, quota_bytes=0, now=NOW) == ["old1", "old2"]
    assert not list(store.root.rglob("old*.ogg"))
    assert sweep(store, max_age_days=90, quota_bytes=700, now=NOW) == []
    assert sweep(store, max_age_days=90, quota_bytes=699, now=NOW) == ["mid"]
    assert [r.call_id for r in store.list()] == ["new", "live"]
    assert sweep(store, max_age_days=0, quota_bytes=1, now=NOW) == ["new"]
    assert sweep(store, max_age_days=0, quota_bytes=1, now=NOW) == []  # only the live one is left


class FakeDisk:
    def __init__(self, total: int, free: int) -> None:
        self.total, self.free = total, free

    def __call__(self, path) -> SimpleNamespace:
        return SimpleNamespace(f_frsize=4096, f_blocks=self.total // 4096, f_bavail=self.free // 4096)


def test_guard_threshold_hysteresis_and_reserve_with_a_fake_disk(tmp_path: Path) -> None:
    disk = FakeDisk(1000 * MB, 500 * MB)
    changes: list[tuple[bool, float]] = []
    guard = DiskGuard(tmp_path, threshold_pct=10.0, statvfs=disk, on_change=lambda a, p: changes.append((a, p)))
    assert guard.check() is True and changes == []
    assert guard.reserve.stat().st_size == RESERVE_BYTES  # written while space allows
    disk.free = 95 * MB
    assert guard.check() is False and changes == [(False, pytest.approx(9.5))]
    disk.free = 110 * MB  # above the threshold, below threshold + 2 %
    assert guard.check() is False and len(changes) == 1
    disk.free = 125 * MB
    assert guard.check() is True and changes[-1] == (True, pytest.approx(12.5))
    disk.free = FULL_BYTES - 4096  # full: the reserve goes, and that is no reason to resume
    assert guard.check() is False and not guard.reserve.exists()
    disk.free += RESERVE_BYTES  # what the unlink gave back, as the fake disk sees it
    assert guard.check() is False and not guard.reserve.exists()  # not refilled into the journal's space
    disk.free = 200 * MB
    assert guard.check() is True and guard.reserve.exists()
    assert [a for a, _ in changes] == [False, True, False, True]
    assert guard.status()["reserve"] is True


def _fill(path: Path, leave: int | None = None) -> None:
    """Write a file until `leave` bytes are free (None: until the disk refuses)."""
    block = b"r" * 65536
    with open(path, "ab") as f:
        while True:
            free = os.statvfs(path.parent).f_bavail * 4096
            if leave is not None and free - len(block) < leave:
                chunk = block[:max(0, free - leave)]
            else:
                chunk = block
            if not chunk:
                return
            try:
                f.write(chunk)
                f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return
            if leave is not None and len(chunk) < len(block):
                return


@pytest.fixture
def tmpfs(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_guard_on_a_real_small_disk_keeps_the_journal_writable(tmpfs: Path) -> None:
    journal = CallJournal(tmpfs / "calls.sqlite")
    try:
        store = RecordingStore(journal, tmpfs)
        changes: list[tuple[bool, float]] = []
        guard = DiskGuard(tmpfs, threshold_pct=20.0, on_change=lambda a, p: changes.append((a, p)))
        assert guard.check() is True and guard.reserve.stat().st_size == RESERVE_BYTES
        recording = store.wav_path("big", NOW)
        _fill(recording, leave=int(1.3 * MB))  # below 20 % of 8 MB, not yet full
        assert guard.check() is False and guard.check() is False
        assert len(changes) == 1 and changes[0][0] is False and changes[0][1] < 20.0
        assert guard.reserve.exists()
        _fill(recording)  # a recording that started in time runs the disk full
        assert os.statvfs(tmpfs).f_bavail * 4096 < FULL_BYTES
        assert guard.check() is False and not guard.reserve.exists() and len(changes) == 1
        for i in range(50):  # the call records still go in
            journal.add(CallRecord(f"call{i}", "+79161234567", "101", "inbound", "gsm1", NOW + i, NOW + i + 1,
                                   NOW + i + 30, 29.0, "answered", {"note": "x" * 200}))
        AuditLog(journal).add("stop", "big", "core", "system", detail="disk full after 12.3 s")
        assert journal.count() == 50
        recording.unlink()
        assert guard.check() is True and guard.reserve.exists() and [a for a, _ in changes] == [False, True]
    finally:
        journal.close()


class Settings(dict):
    def get(self, key, default=None):  # type: ignore[override]
        return super().get(key, default)


class Bus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def publish(self, topic: str, **data) -> None:
        self.events.append((topic, data))


def test_service_sweeps_audits_and_alerts(store: RecordingStore) -> None:
    _rec(store, "old", 10, 100)
    _rec(store, "new", 1, 100)
    disk, bus, audit = FakeDisk(1000 * MB, 500 * MB), Bus(), AuditLog(store.journal)
    settings = Settings(recording_keep_days="7", recording_quota_mb="bad", recording_min_free_pct="15")
    service = RecordingService(store, settings, bus=bus, audit=audit, statvfs=disk, clock=lambda: NOW)
    assert service.run_once() == ["old"] and service.allowed()
    assert [(r["action"], r["call_id"], r["who"]) for r in audit.list()] == [("delete", "old", "retention")]
    disk.free = 140 * MB  # under the owner's 15 %
    service.run_once()
    assert not service.allowed()
    assert bus.events == [("recording_disk_low", {"free_pct": 14.0, "threshold_pct": 15.0})]
    settings["recording_min_free_pct"] = "10"
    service.run_once()
    assert service.allowed() and bus.events[-1][0] == "recording_disk_ok"


def test_service_threads_compress_and_announce(store: RecordingStore) -> None:
    wav = store.wav_path("c1", NOW)
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(wav), "synth", "1", "sine", "440"],
                   check=True)
    store.add(Recording("c1", store.relative(wav), "wav", "processing", NOW))
    bus = Bus()
    service = RecordingService(store, Settings(recording_format="ogg"), bus=bus, statvfs=FakeDisk(1000 * MB, 500 * MB),
                               interval=0.05, clock=lambda: NOW).start()
    try:
        deadline = time.monotonic() + 10
        while not bus.events and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        service.stop(5)
    assert bus.events and bus.events[0][0] == "recording_ready"
    assert bus.events[0][1]["format"] == "ogg" and bus.events[0][1]["url"] == "/api/v1/recordings/c1"


def test_disk_alerts_are_crm_events() -> None:
    from pbx.crm.events import EVENT_TYPES, event_type

    assert event_type("recording_disk_low", {"free_pct": 9.0}) == "recording.disk_low"
    assert event_type("recording_disk_ok", {"free_pct": 12.0}) == "recording.disk_ok"
    assert {"recording.ready", "recording.disk_low", "recording.disk_ok"} <= set(EVENT_TYPES)
