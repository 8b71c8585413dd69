"""Free space for recordings, and a reserve for the call journal.

Recordings stop when the data filesystem's free space falls below `threshold_pct` and
resume only at threshold + 2 % (without the gap each finished call's compression, which
frees the WAV, would switch recording back on for the next). `on_change` hears each
switch once.

The ballast: `recordings/.reserve`, 4 MB of real blocks (written, not a sparse file),
kept while space allows. When the disk is full anyway (free below 1 MB: a recording that
started above the threshold, logs, another program) it is deleted, and those 4 MB are
where SQLite writes the call records and the audit rows, which must never be lost; the
recordings can be. Free space is counted as if the reserve were always there, so
dropping it does not read as "space again" and let recordings resume into it; it is
written again once 4 MB plus 2 MB are free.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

RESERVE = "recordings/.reserve"
RESERVE_BYTES = 4 * 1024 * 1024
FULL_BYTES = 1024 * 1024  # below this the reserve goes
REFILL_MARGIN = 2 * 1024 * 1024  # the reserve comes back with this much free besides
HYSTERESIS_PCT = 2.0


def _nothing(allowed: bool, free_pct: float) -> None:
    pass


class DiskGuard:
    def __init__(self, data_dir: Path, *, threshold_pct: float = 10.0, statvfs: Callable[[Any], Any] = os.statvfs,
                 on_change: Callable[[bool, float], None] = _nothing) -> None:
        self.data_dir = Path(data_dir)
        self.reserve = self.data_dir / RESERVE
        self.threshold_pct = threshold_pct
        self.statvfs, self.on_change = statvfs, on_change
        self.allowed = True
        self.free_pct = 100.0
        self.free_bytes = 0
        self._lock = threading.Lock()

    def _space(self) -> tuple[int, int]:
        st = self.statvfs(self.data_dir)
        return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize

    def check(self) -> bool:
        """True: new recordings are allowed. Looks after the reserve too."""
        with self._lock:
            free, total = self._space()
            held = self.reserve.exists()
            if held and free < FULL_BYTES:
                self._drop()
                held = False
                free, total = self._space()
            elif not held and free >= RESERVE_BYTES + REFILL_MARGIN:
                held = self._fill()
                free, total = self._space()
            usable = free - (0 if held else RESERVE_BYTES)  # as if the reserve were there
            self.free_bytes = max(0, usable)
            self.free_pct = 100.0 * self.free_bytes / total if total else 0.0
            was = self.allowed
            if was and self.free_pct < self.threshold_pct:
                self.allowed = False
            elif not was and self.free_pct >= self.threshold_pct + HYSTERESIS_PCT:
                self.allowed = True
            changed = self.allowed != was
            allowed, pct = self.allowed, self.free_pct
        if changed:
            log.warning("recordings %s: %.1f %% free (threshold %.1f %%)", "resume" if allowed else "stop",
                        pct, self.threshold_pct)
            self.on_change(allowed, pct)
        return allowed

    def status(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "free_pct": round(self.free_pct, 1), "free_bytes": self.free_bytes,
                "threshold_pct": self.threshold_pct, "reserve": self.reserve.exists()}

    def _drop(self) -> None:
        try:
            self.reserve.unlink()
            log.error("the disk is full: the journal's reserve is released")
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("cannot release the journal's reserve: %s", exc)

    def _fill(self) -> bool:
        """Write the reserve out (real zeros: a sparse file would hold no blocks)."""
        self.reserve.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.reserve.with_name(".reserve.tmp")
        block = b"\0" * 65536
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for _ in range(RESERVE_BYTES // len(block)):
                    os.write(fd, block)
                if os.fstat(fd).st_size != RESERVE_BYTES:  # a short write on a filling disk
                    raise OSError("the disk took less than the reserve")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.reserve)
            return True
        except OSError as exc:
            temp.unlink(missing_ok=True)
            log.warning("cannot write the journal's reserve: %s", exc)
            return False
