"""Keeps the running modem lines equal to the configured trunks.

`pbx trunk add/del` and the REST bridge write the trunk store from any process; this
watcher notices (one stat every 2 s), starts the new lines and stops the removed ones,
so the daemon uses the change without a restart. In development mode a trunk on the
port `sim` gets a pty modem simulator of its dialect.
"""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

from hardware.modem.line import ModemLine
from hardware.modem.simulator import SimModem
from pbx.calls.trunk import TrunkCalls
from pbx.core import Core
from pbx.store.trunks import Trunk, TrunkStore

log = logging.getLogger(__name__)


class LineManager:
    def __init__(self, store: TrunkStore, calls: TrunkCalls, core: Core, *, simulators_allowed: bool,
                 sim_dir: Path, simulators: dict[str, Any], poll: float = 2.0) -> None:
        self.store, self.calls, self.core = store, calls, core
        self.simulators_allowed = simulators_allowed
        self.sim_dir = sim_dir
        self.simulators = simulators  # shared with the web admin's simulator API
        self.poll = poll
        self.running: dict[str, Trunk] = {}
        self.problems: dict[str, str] = {}  # trunks that cannot run, and why
        self._stamp: object = object()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="trunk-watch", daemon=True)

    def start(self) -> "LineManager":
        self.sync()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for name in list(self.running):
                self._stop_line(name)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.sync()
            except Exception:
                log.exception("trunk configuration could not be applied")

    def sync(self) -> None:
        with self._lock:
            stamp = self.store.stamp()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            wanted = {t.name: t for t in self.store.list()}
            for name, trunk in list(self.running.items()):
                if wanted.get(name) != trunk:
                    self._stop_line(name)
            for name in list(self.problems):
                if name not in wanted:
                    del self.problems[name]
            for name, trunk in wanted.items():
                if name not in self.running:
                    self._start_line(trunk)

    def _start_line(self, trunk: Trunk) -> None:
        port, audio_port = trunk.port, trunk.audio_port or None
        if trunk.simulated:
            if not self.simulators_allowed:
                self.problems[trunk.name] = "port 'sim' is a simulator: development mode only"
                log.error("trunk %s: %s", trunk.name, self.problems[trunk.name])
                return
            sim = SimModem(trunk.dialect, trunk.name, directory=self.sim_dir).start()
            self.simulators[trunk.name] = sim
            port, audio_port = sim.port, sim.audio_port or audio_port  # sim800 may use a sound card
        line = ModemLine(trunk.name, port, trunk.dialect, audio_port=audio_port, on_event=self.calls.on_event,
                         on_audio=functools.partial(self.calls.on_audio, trunk.name), country=trunk.country)
        self.core.call(self.calls.add_line, line, trunk)
        line.start()
        self.running[trunk.name] = trunk
        self.problems.pop(trunk.name, None)
        log.info("trunk %s: %s line on %s started", trunk.name, trunk.dialect, trunk.port)

    def _stop_line(self, name: str) -> None:
        self.running.pop(name, None)
        line = self.core.call(self.calls.remove_line, name)
        if line is not None:
            line.stop()
        sim = self.simulators.pop(name, None)
        if sim is not None:
            sim.stop()
        log.info("trunk %s stopped", name)
