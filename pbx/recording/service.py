"""The recordings' background work in one place: the compressor (thread `recordings`)
and, on the thread `recording-guard` every `interval` seconds, retention (settings
`recording_keep_days`, default 90, and `recording_quota_mb`, default 0 = no quota) and
the disk guard (`recording_min_free_pct`, default 10). The core asks `allowed()` before
it starts a recorder: a cached answer, never a statvfs on the call path."""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable

from pbx.recording.compress import DEFAULT_FORMAT, Compressor
from pbx.recording.diskguard import DiskGuard
from pbx.recording.retention import sweep
from pbx.recording.store import Recording, RecordingStore

log = logging.getLogger(__name__)

KEEP_DAYS, QUOTA_MB, MIN_FREE_PCT = 90.0, 0.0, 10.0


def setting_number(settings: Any, key: str, default: float) -> float:
    """A number setting as `pbx config set` stores it (text), the default when unset or bad."""
    try:
        value = float(settings.get(key, default))
    except (TypeError, ValueError):
        log.warning("setting %s is not a number: %s used", key, default)
        return default
    return value if value >= 0 else default


class RecordingService:
    def __init__(self, store: RecordingStore, settings: Any, *, bus: Any = None, audit: Any = None,
                 interval: float = 60.0, statvfs: Callable[[Any], Any] = os.statvfs,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.settings, self.bus, self.audit = store, settings, bus, audit
        self.interval, self.clock = interval, clock
        self.guard = DiskGuard(store.data_dir, threshold_pct=self._min_free(), statvfs=statvfs,
                               on_change=self._disk_changed)
        self.compressor = Compressor(store, fmt=lambda: str(settings.get("recording_format", DEFAULT_FORMAT)),
                                     on_done=self._ready)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _min_free(self) -> float:
        return min(setting_number(self.settings, "recording_min_free_pct", MIN_FREE_PCT), 90.0)

    def allowed(self) -> bool:
        return self.guard.allowed

    def start(self) -> RecordingService:
        self.guard.check()  # before the first call: a full disk is known at once
        self.compressor.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="recording-guard", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.compressor.stop(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad setting or a locked file: next time
                log.exception("recordings: retention or disk check failed")
            self._stop.wait(self.interval)

    def run_once(self) -> list[str]:
        """One pass: retention, then the guard (the sweep may have freed what it needs)."""
        keep = setting_number(self.settings, "recording_keep_days", KEEP_DAYS)
        quota = int(setting_number(self.settings, "recording_quota_mb", QUOTA_MB) * 1024 * 1024)
        deleted = sweep(self.store, max_age_days=keep, quota_bytes=quota, now=self.clock())
        for call_id in deleted:
            if self.audit is not None:
                self.audit.add("delete", call_id, "retention", "system",
                               detail=f"older than {keep:g} days or over {quota // 1048576} MB")
        if deleted:
            log.info("retention deleted %d recordings", len(deleted))
        self.guard.threshold_pct = self._min_free()
        self.guard.check()
        return deleted

    def _ready(self, rec: Recording) -> None:
        if self.bus is not None:
            self.bus.publish("recording_ready", **rec.public())

    def _disk_changed(self, allowed: bool, free_pct: float) -> None:
        if self.bus is not None:
            self.bus.publish("recording_disk_ok" if allowed else "recording_disk_low",
                             free_pct=round(free_pct, 1), threshold_pct=self.guard.threshold_pct)
