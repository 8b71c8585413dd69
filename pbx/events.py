"""A small in-process publish/subscribe bus: LEDs, dashboard and CRM outbox listen here."""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any, Callable

log = logging.getLogger(__name__)
Handler = Callable[[str, dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        """topic "*" receives every event."""
        with self._lock:
            self._handlers[topic].append(handler)

    def publish(self, topic: str, **data: Any) -> None:
        with self._lock:
            handlers = list(self._handlers.get(topic, ())) + list(self._handlers.get("*", ()))
        for handler in handlers:
            try:
                handler(topic, data)
            except Exception:  # a broken listener must not break the publisher (e.g. the core)
                log.exception("event handler failed for %s", topic)
