"""Live events for the local dashboard and screen-pops over server-sent events: the newest
events in a ring buffer (older ones read back from the outbox's events table for a client
resuming with Last-Event-ID), a bounded number of clients (each holds a web thread), and a
keep-alive comment on idle streams, which is also how a client that went away is noticed
and its slot freed."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Iterator

from pbx.crm.outbox import Outbox, StoredEvent
from pbx.errors import PbxError

PAGE = 500  # events read from the disk at a time for a client catching up


class TooManyClients(PbxError):
    status = 503
    error_id = "busy"


def frame(event: StoredEvent) -> str:
    return f"id: {event.seq}\nevent: {event.type}\ndata: {event.payload}\n\n"


class EventHub:
    def __init__(self, outbox: Outbox, size: int = 2000, max_clients: int = 4, keepalive: float = 15.0) -> None:
        self.outbox, self.max_clients, self.keepalive = outbox, max_clients, keepalive
        self._ring: deque[StoredEvent] = deque(maxlen=size)
        self._cond = threading.Condition()
        self.clients = 0
        self._closed = False
        self._newest_seq = outbox.last_seq()  # what a client resuming after a restart can catch up to
        outbox.listeners.append(self.publish)

    def publish(self, event: StoredEvent) -> None:
        with self._cond:
            self._ring.append(event)
            self._newest_seq = max(self._newest_seq, event.seq)
            self._cond.notify_all()

    def _after(self, seq: int) -> list[StoredEvent]:
        """What comes after `seq`: from the ring when it reaches back that far, else the
        next page from the disk (the stream asks again from the page's end, so a client far
        behind, or resuming after a restart, gets every event)."""
        with self._cond:
            newest, ring = self._newest_seq, list(self._ring)
        if seq >= newest:
            return []
        if ring and ring[0].seq <= seq + 1:
            return [e for e in ring if e.seq > seq]
        return self.outbox.events_after(seq, limit=PAGE)

    def _newest(self) -> int:
        with self._cond:
            return self._newest_seq

    def open(self, last_event_id: str | None,
             gone: Callable[[], bool] = lambda: False) -> Iterator[str]:
        """A client's stream; raises TooManyClients when every slot is taken. The slot is
        freed when the stream is closed: the client went away (`gone`, the web server's
        check, is asked every second; a failed write tells too) or the server stops."""
        with self._cond:
            if self.clients >= self.max_clients:
                raise TooManyClients(f"too many live-event clients (at most {self.max_clients}); try again later",
                                     details={"max_clients": self.max_clients})
            self.clients += 1
        try:
            cursor = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else self._newest()
        except Exception:
            self._release()
            raise
        return _Stream(self, self._stream(cursor, gone))

    def _release(self) -> None:
        with self._cond:
            self.clients -= 1

    def _stream(self, cursor: int, gone: Callable[[], bool]) -> Iterator[str]:
        yield f"retry: 3000\n: connected, events after {cursor}\n\n"
        quiet_since = time.monotonic()
        while not self._closed and not gone():
            events = self._after(cursor)
            if events:
                for event in events:
                    cursor = event.seq
                    yield frame(event)
                quiet_since = time.monotonic()
                continue
            with self._cond:
                if self._newest_seq <= cursor and not self._closed:
                    self._cond.wait(min(1.0, self.keepalive))
            if time.monotonic() - quiet_since >= self.keepalive:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"

    def close(self, wait: float = 2.0) -> None:
        """Ends every stream (the daemon stops), waiting a moment for them to finish."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        deadline = time.monotonic() + wait
        while self.clients and time.monotonic() < deadline:
            time.sleep(0.05)


class _Stream:
    """The response body: the WSGI server calls close() when the client is gone (noticed
    at the next write) or the response ends, even if it never started iterating."""

    def __init__(self, hub: EventHub, frames: Iterator[str]) -> None:
        self._hub, self._frames, self._open = hub, frames, True

    def __iter__(self) -> "_Stream":
        return self

    def __next__(self) -> str:
        return next(self._frames)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._frames.close()  # type: ignore[attr-defined]
            self._hub._release()
