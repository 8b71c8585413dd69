"""Drives the status LEDs from events: power when ready, phones when any is registered,
call while calls are up. Runs in whichever thread publishes (the LED calls are cheap)."""
from __future__ import annotations

import threading
from typing import Any

from hardware.gpio.leds import Pattern, StatusLeds
from pbx.events import EventBus


class LedController:
    def __init__(self, leds: StatusLeds, bus: EventBus) -> None:
        self.leds = leds
        self._lock = threading.Lock()
        self._calls: set[str] = set()
        self._lines: dict[str, bool] = {}  # line name -> up
        bus.subscribe("*", self._on_event)

    def _on_event(self, topic: str, data: dict[str, Any]) -> None:
        with self._lock:
            if topic == "ready":
                self.leds.set("power", Pattern.ON)
            elif topic == "registrations":
                self.leds.set("phones", Pattern.ON if data.get("count") else Pattern.OFF)
            elif topic == "call_started":
                self._calls.add(data["id"])
            elif topic == "call_ended":
                self._calls.discard(data["id"])
            elif topic == "line_state":
                self._lines[data["line"]] = data["state"] == "up"
            elif topic == "line_removed":
                self._lines.pop(data["line"], None)
            if topic in ("call_started", "call_ended"):
                self.leds.set("call", Pattern.ON if self._calls else Pattern.OFF)
            if topic in ("line_state", "line_removed"):
                self._show_lines()

    def _show_lines(self) -> None:
        """line: on when every line is up, slow blink while some are not; fault: fast blink
        while any line is down (an unplugged or dead modem needs a person)."""
        down = [name for name, up in self._lines.items() if not up]
        if not self._lines:
            self.leds.set("line", Pattern.OFF)
        else:
            self.leds.set("line", Pattern.SLOW if down else Pattern.ON)
        self.leds.set("fault", Pattern.FAST if down else Pattern.OFF)
