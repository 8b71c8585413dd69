"""Status LEDs on GPIO (gpiozero). In development the pins are gpiozero's mock pins, so
the same code runs without a board and tests can read the pin states."""
from __future__ import annotations

import enum
import logging

from gpiozero import LED
from gpiozero.pins.mock import MockFactory

log = logging.getLogger(__name__)

# Board pin map (BCM numbering) for the reference Raspberry Pi carrier board.
DEFAULT_PINS = {"power": 17, "phones": 27, "call": 22, "line": 23, "fault": 24}


class Pattern(enum.Enum):
    OFF = "off"
    ON = "on"
    SLOW = "slow"  # 1 Hz: working on it (line coming up)
    FAST = "fast"  # 4 Hz: needs attention (fault)


class StatusLeds:
    def __init__(self, pins: dict[str, int] | None = None, *, simulated: bool = True) -> None:
        factory = MockFactory() if simulated else None
        self.patterns: dict[str, Pattern] = {}
        self._leds: dict[str, LED] = {}
        for name, pin in (pins or DEFAULT_PINS).items():
            try:
                self._leds[name] = LED(pin, pin_factory=factory)
            except Exception as exc:  # a missing GPIO chip degrades to no LEDs, never a crash
                log.warning("LED %s on pin %s unavailable: %s", name, pin, exc)
            self.patterns[name] = Pattern.OFF

    def set(self, name: str, pattern: Pattern) -> None:
        if self.patterns.get(name) is pattern:
            return
        self.patterns[name] = pattern
        led = self._leds.get(name)
        if led is None:
            return
        if pattern is Pattern.ON:
            led.on()
        elif pattern is Pattern.OFF:
            led.off()
        else:
            period = 0.5 if pattern is Pattern.SLOW else 0.125
            led.blink(on_time=period, off_time=period)

    def is_lit(self, name: str) -> bool:
        led = self._leds.get(name)
        return bool(led and led.is_lit)

    def close(self) -> None:
        for led in self._leds.values():
            led.close()
