"""Leak hunting in the running daemon: `PBX_TRACEMALLOC=25 pbx run`, then `kill -USR1 <pid>`
logs the Python allocations that grew most since the previous signal (or since start),
and the total traced, to compare with the process's RSS. Off unless asked for:
tracing costs time on every allocation.

Tracing made a heap corruption show within a minute (pjsua2 ports freed while the
clock called them back, fixed by pbx.media.directors); a traced 4-minute soak now runs
clean. Traced memory counts towards RSS, so read growth from untraced runs."""
from __future__ import annotations

import logging
import signal
import tracemalloc

log = logging.getLogger(__name__)


def start_memwatch(frames: int, top: int = 25) -> None:
    tracemalloc.start(max(1, frames))
    state = {"last": tracemalloc.take_snapshot()}

    def report(*_: object) -> None:
        now = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
        lines = [f"traced {tracemalloc.get_traced_memory()[0] / 1e6:.1f} MB; grew most since the last report:"]
        for stat in now.compare_to(state["last"], "traceback")[:top]:
            lines.append(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                         + " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback[:6]))
        state["last"] = now
        log.warning("\n".join(lines))

    signal.signal(signal.SIGUSR1, report)
