"""Bus events and call records into the outbox. The bus handler only puts the event on a
queue (it runs on the publisher's thread, often the core's, which must never wait for the
disk); so does add(record), which the B2BUA calls as its journal. The recorder's own
thread writes them in the order they came: a burst of events in one transaction, a call
record with its call.ended (and call.missed) in one, after that call's ringing event, so
an endpoint never hears a call end before it rang."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

from pbx.crm.events import event_type
from pbx.crm.outbox import Outbox
from pbx.store.journal import CallRecord

log = logging.getLogger(__name__)
BATCH = 500
RECORD = "record"  # a queued call record (the other items are event types)


class Recorder:
    def __init__(self, bus: Any, outbox: Outbox,
                 ringing_extra: Callable[[dict], dict] | None = None) -> None:
        self.outbox = outbox
        # called here, on the recorder's thread, with the call_started payload; its result
        # is merged into call.ringing (the caller's history)
        self.ringing_extra = ringing_extra
        self._queue: queue.SimpleQueue[tuple[str, Any, float] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="crm-recorder", daemon=True)
        bus.subscribe("*", self._on_bus)

    def start(self) -> "Recorder":
        self._thread.start()
        return self

    def _on_bus(self, topic: str, data: dict[str, Any]) -> None:
        kind = event_type(topic, data)
        if kind is not None:
            self._queue.put((kind, dict(data), time.time()))

    def add(self, record: CallRecord) -> None:
        """The B2BUA's journal: the record is written on this thread, in its turn."""
        self._queue.put((RECORD, record, time.time()))

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

    def _write(self, batch: list[tuple[str, Any, float]]) -> None:
        """In queue order: each run of events as one write, each call record as its own."""
        events: list[tuple[str, dict, float]] = []
        for kind, data, at in batch:
            if kind != RECORD:
                events.append((kind, self._data(kind, data), at))
                continue
            if events:
                self._retry(self.outbox.append_many, events, f"{len(events)} event(s)")
                events = []
            self._retry(self.outbox.add_record, data, f"the record of call {data.id}")
        if events:
            self._retry(self.outbox.append_many, events, f"{len(events)} event(s)")

    @staticmethod
    def _retry(write: Callable[[Any], Any], what: Any, name: str) -> None:
        for attempt in range(5):  # a busy or briefly failing disk: they wait, not vanish
            try:
                write(what)
                return
            except Exception:
                log.exception("cannot write %s (attempt %d)", name, attempt + 1)
                time.sleep(0.5 * (attempt + 1))
        log.error("%s lost: the journal cannot be written", name)

    def stop(self, timeout: float = 3.0) -> None:
        """Writes what is queued, then ends."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
