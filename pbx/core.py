"""The core thread: owns pjsua2 and all call state (docs/architecture.md, "Process and threads").

Other threads never touch pjsua2 objects; they submit() a job and, if they need an
answer, wait on the returned future with a timeout.
"""
from __future__ import annotations

import gc
import heapq
import itertools
import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Protocol

from pbx import heap
from pbx.errors import PbxError

log = logging.getLogger(__name__)


class EventPump(Protocol):
    """What the core loop drives: the media engine in production, a stub in unit tests."""

    def start(self) -> None: ...
    def poll(self, timeout_ms: int) -> None: ...
    def stop(self) -> None: ...


class Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], Any]) -> None:
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self) -> None:
        self.cancelled = True
        self.fn = _nothing  # drop the closure: it often holds the call that holds this timer


def _nothing() -> None:
    return None


class CoreCollector:
    """Python's cyclic garbage collection, moved onto the core thread.

    A collection runs on whichever thread happens to allocate when a threshold is crossed;
    a pjsua2 object caught in a reference cycle (a call and its leg, a job's traceback
    holding its arguments) would then be destroyed on a web or modem thread, under the
    core's feet: the daemon died of SIGSEGV inside a web request that way. With automatic
    collection off, the core collects the young generation every half second and the
    whole heap every minute, so every such destructor runs where pjsua2 allows it (and
trims glibc's heap after it: pbx/heap.py)."""

    SCHEDULE = ((0.5, 0), (5.0, 1), (60.0, 2))  # every N seconds, collect generation G

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.due = [0.0] * len(self.SCHEDULE)
        self.slowest = 0.0

    def start(self) -> None:
        gc.disable()
        now = self.clock()
        self.due = [now + every for every, _ in self.SCHEDULE]

    def tick(self) -> None:
        now = self.clock()
        for i in reversed(range(len(self.SCHEDULE))):  # the oldest due generation covers the younger
            if now >= self.due[i]:
                started = time.perf_counter()
                gc.collect(self.SCHEDULE[i][1])
                if self.SCHEDULE[i][1] == 2:
                    self._trim()
                took = time.perf_counter() - started
                self.slowest = max(self.slowest, took)
                if took > 0.1:
                    log.warning("garbage collection of generation %d took %.0f ms", self.SCHEDULE[i][1], took * 1000)
                for j in range(i + 1):
                    self.due[j] = now + self.SCHEDULE[j][0]
                return

    def _trim(self) -> None:
        """What a minute of calls freed goes back to the system (pbx/heap.py). A trim holds
        each malloc arena's lock while it walks it; said in the log when it took long."""
        started = time.perf_counter()
        heap.trim()
        took = time.perf_counter() - started
        if took > 0.005:
            log.info("heap trim took %.1f ms", took * 1000)


class Core:
    def __init__(
        self,
        pump: EventPump,
        *,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: Callable[[], object] | None = None,
        heartbeat_every: float = 5.0,
        collect_garbage: bool = False,
    ) -> None:
        self._pump = pump
        self._clock = clock
        self._heartbeat = heartbeat
        self._heartbeat_every = heartbeat_every
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple, Future]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.loop_count = 0
        self.collector = CoreCollector(clock) if collect_garbage else None

    # ---- API for any thread -------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        fut: Future = Future()
        self._jobs.put((fn, args, fut))
        return fut

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 5.0) -> Any:
        """Run fn on the core thread and wait for its result (or run it inline there)."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        return self.submit(fn, *args).result(timeout=timeout)

    def in_core(self) -> bool:
        return threading.current_thread() is self._thread

    # ---- API for the core thread itself ---------------------------------------------
    def call_later(self, delay: float, fn: Callable[[], Any]) -> Timer:
        timer = Timer(self._clock() + delay, fn)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    def clear_timers(self) -> None:
        """Drop pending timers (at shutdown: their closures may hold pjsua2 objects)."""
        self._timers.clear()

    # ---- life cycle -----------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="core", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise PbxError("core thread did not start in time")
        if self._start_error is not None:
            raise PbxError(f"media engine failed to start: {self._start_error}") from self._start_error

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the loop and wait for the engine's teardown; False if it did not finish."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        try:
            self._pump.start()
        except BaseException as exc:  # reported to start()'s caller
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        last_beat = 0.0
        if self.collector is not None:
            self.collector.start()
        try:
            while self._running.is_set():
                self._pump.poll(10)
                self._run_jobs()
                self._run_timers()
                if self.collector is not None:
                    self.collector.tick()
                self.loop_count += 1
                now = self._clock()
                if self._heartbeat is not None and now - last_beat >= self._heartbeat_every:
                    self._heartbeat()
                    last_beat = now
            self._run_jobs()  # jobs queued by stop() callers (hang-ups) still run
        finally:
            try:
                self._pump.stop()
            except Exception:
                log.exception("media engine stop failed")
            self._fail_pending()

    def _run_jobs(self) -> None:
        while True:
            try:
                fn, args, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:
                log.exception("core job %r failed", fn)
                fut.set_exception(exc)

    def _run_timers(self) -> None:
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:
                log.exception("core timer %r failed", timer.fn)

    def _fail_pending(self) -> None:
        while True:
            try:
                _, _, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                fut.set_exception(PbxError("core stopped"))
