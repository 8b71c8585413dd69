"""A ModemLine under test with its events queued and its audio frames kept, on the pty
simulator (SimHarness) or on a scripted modem (tests.support.scripted_modem.Rig)."""
from __future__ import annotations

import queue
import time
from typing import Any, Callable

from hardware.modem.events import CallConnected, CallerId
from hardware.modem.line import ModemLine
from hardware.modem.simulator import SimModem


class LineWatcher:
    line: ModemLine

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.seen: list = []
        self.frames: list[bytes] = []

    def wait(self, kind: type, timeout: float = 10.0) -> Any:
        """The next event of this kind (the ones before it are kept in seen)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(event)
            if isinstance(event, kind):
                return event
        raise AssertionError(f"no {kind.__name__}; saw {self.seen}")

    def collect(self, seconds: float) -> list:
        """Every event of the next few seconds."""
        time.sleep(seconds)
        got = []
        while not self.events.empty():
            got.append(self.events.get())
        self.seen += got
        return got

    @staticmethod
    def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)


class SimHarness(LineWatcher):
    """A line on the pty simulator, with quick recovery for the fault tests."""

    def __init__(self, dialect: str, name: str = "gsm1", **sim_options: Any) -> None:
        super().__init__()
        self.sim = SimModem(dialect, name, **sim_options).start()
        self.line = ModemLine(name, self.sim.port, dialect, audio_port=self.sim.audio_port,
                              on_event=self.events.put, on_audio=self.frames.append,
                              backoff=(0.2, 1.0), keepalive=0.5).start()

    def answered_call(self, number: str) -> None:
        """A call from number rings; the line answers it."""
        self.sim.incoming_call(number)
        self.wait(CallerId)
        self.line.answer()
        self.wait(CallConnected)

    def close(self) -> None:
        self.line.stop()
        self.sim.stop()
