"""The core loop: jobs run on the core thread, timers fire in order, a failing start is
reported, stop() drains queued jobs. A stub pump stands in for pjsua2 here."""
from __future__ import annotations

import threading
import time

import pytest

from pbx.core import Core
from pbx.errors import PbxError


class StubPump:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.polls, self.stopped, self.thread = fail, 0, False, None

    def start(self) -> None:
        if self.fail:
            raise RuntimeError("no transport")
        self.thread = threading.current_thread()

    def poll(self, timeout_ms: int) -> None:
        self.polls += 1
        time.sleep(timeout_ms / 1000)

    def stop(self) -> None:
        self.stopped = True


def test_jobs_run_on_the_core_thread_and_return_results() -> None:
    pump = StubPump()
    core = Core(pump)
    core.start()
    try:
        seen = core.call(lambda: threading.current_thread())
        assert seen is pump.thread and seen is not threading.current_thread()
        assert core.call(lambda x: x * 2, 21) == 42
        with pytest.raises(ZeroDivisionError):
            core.call(lambda: 1 / 0)
    finally:
        core.stop()
    assert pump.stopped


def test_timers_fire_in_order_and_can_be_cancelled() -> None:
    core = Core(StubPump())
    core.start()
    fired: list[str] = []
    done = threading.Event()

    def schedule() -> None:
        core.call_later(0.06, lambda: (fired.append("late"), done.set()))
        core.call_later(0.02, lambda: fired.append("early"))
        core.call_later(0.04, lambda: fired.append("cancelled")).cancel()

    core.call(schedule)
    assert done.wait(2)
    core.stop()
    assert fired == ["early", "late"]


def test_failing_engine_start_is_reported() -> None:
    core = Core(StubPump(fail=True))
    with pytest.raises(PbxError, match="no transport"):
        core.start()


def test_heartbeat_is_called_from_the_loop() -> None:
    beats = threading.Event()
    core = Core(StubPump(), heartbeat=beats.set, heartbeat_every=0.01)
    core.start()
    try:
        assert beats.wait(2)
    finally:
        core.stop()


def test_cyclic_garbage_is_collected_on_the_core_thread_only() -> None:
    """pjsua2 objects in reference cycles must be destroyed on the core thread: with the
    collector on, a cycle made on another thread is freed by the core, never by a
    collection that allocation elsewhere sets off."""
    import gc
    import threading

    freed_on: list[str] = []

    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic collector frees it

        def __del__(self) -> None:
            freed_on.append(threading.current_thread().name)

    core = Core(StubPump(), collect_garbage=True)
    core.start()
    try:
        assert not gc.isenabled()
        worker = threading.Thread(target=lambda: [Node() for _ in range(200)] and [[] for _ in range(100000)],
                                  name="web-worker")
        worker.start()
        worker.join()
        deadline = time.monotonic() + 5
        while len(freed_on) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(freed_on) == 200 and set(freed_on) == {"core"}, set(freed_on)
    finally:
        core.stop()
        gc.enable()
