"""Bus events into the outbox. The bus handler only puts the event on a queue (it runs on
the publisher's thread, often the core's, which must never wait for the disk); the
recorder's own thread writes the events, a burst in one transaction."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

from pbx.crm.events import event_type
from pbx.crm.outbox import Outbox

log = logging.getLogger(__name__)
BATCH = 500


class Recorder:
    def __init__(self, bus: Any, outbox: Outbox,
                 ringing_extra: Callable[[dict], dict] | None = None) -> None:
        self.outbox = outbox
        # called here, on the recorder's thread, with the call_started payload; its result
        # is merged into call.ringing (the caller's history)
        self.ringing_extra = ringing_extra
        self._queue: queue.SimpleQueue[tuple[str, dict, float] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="crm-recorder", daemon=True)
        bus.subscribe("*", self._on_bus)

    def start(self) -> "Recorder":
        self._thread.start()
        return self

    def _on_bus(self, topic: str, data: dict[str, Any]) -> None:
        kind = event_type(topic, data)
        if kind is not None:
            self._queue.put((kind, dict(data), time.time()))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._write(batch)
                    return
                batch.append(more)
            self._write(batch)

    def _data(self, kind: str, data: dict) -> dict:
        if kind == "call.ringing" and self.ringing_extra is not None:
            try:
                data = {**data, **(self.ringing_extra(data) or {})}
            except Exception:
                log.exception("call %s: no history for the ringing event", data.get("id"))
        return data

    def _write(self, batch: list[tuple[str, dict, float]]) -> None:
        items = [(kind, self._data(kind, data), at) for kind, data, at in batch]
        for attempt in range(5):  # a busy or briefly failing disk: the events wait, not vanish
            try:
                self.outbox.append_many(items)
                return
            except Exception:
                log.exception("cannot write %d event(s) to the outbox (attempt %d)", len(items), attempt + 1)
                time.sleep(0.5 * (attempt + 1))
        log.error("%d event(s) lost: the outbox cannot be written", len(items))

    def stop(self, timeout: float = 3.0) -> None:
        """Writes what is queued, then ends."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
