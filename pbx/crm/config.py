"""The outbox's timing: owner settings (`pbx config set crm_...`) over defaults, and
PBX_CRM_* environment variables over both (tests run a simulated hour in seconds with
PBX_CRM_CLOCK_SPEED=600: every retry delay, Retry-After and dead-letter age then passes
600 times faster)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

from pbx.errors import ConfigError

# setting key -> help, for `pbx config show|set`
SETTINGS = {
    "crm_dead_letter_after": "seconds an event is retried before it is a dead letter (86400)",
    "crm_retry_base": "first retry delay in seconds, doubled on each failure (5)",
    "crm_retry_max": "longest retry delay in seconds (3600)",
    "crm_request_timeout": "seconds a webhook endpoint has to answer (10)",
    "crm_sse_clients": "most live-event (SSE) clients at once (4)",
}


@dataclass
class CrmConfig:
    dead_letter_after: float = 86400.0  # delivery-clock seconds
    retry_base: float = 5.0
    retry_max: float = 3600.0
    request_timeout: float = 10.0  # real seconds
    sse_clients: int = 4
    sse_keepalive: float = 15.0  # real seconds between comments on an idle stream
    clock_speed: float = 1.0  # delivery-clock seconds per real second (tests only)
    resync: float = 5.0  # real seconds: how often workers look again (endpoints, CLI retries)

    @classmethod
    def load(cls, setting: Callable[[str], Any] = lambda key: None,
             env: Mapping[str, str] = os.environ) -> "CrmConfig":
        cfg = cls()
        for f in fields(cls):
            value = env.get(f"PBX_CRM_{f.name.upper()}")
            if value is None:
                value = setting(f"crm_{f.name}")
            if value is None or value == "":
                continue
            setattr(cfg, f.name, check(f"crm_{f.name}", value))
        return cfg


def check(key: str, value: Any) -> float:
    """A positive number, or a ConfigError naming the setting."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError("settings", key, f"not a number: {value!r}") from None
    if number <= 0:
        raise ConfigError("settings", key, "must be positive")
    return int(number) if key == "crm_sse_clients" else number


class Clock:
    """Delivery time: real time, or faster for tests. Timestamps stay real epoch seconds;
    only durations (delays, ages) are on the delivery clock."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed

    @staticmethod
    def now() -> float:
        return time.time()

    def age(self, since: float) -> float:
        return (time.time() - since) * self.speed

    def after(self, delay: float) -> float:
        """The real epoch time at which `delay` delivery-clock seconds have passed."""
        return time.time() + delay / self.speed
