"""First line of defence: per-source rate limits and temporary bans for brute force."""
from __future__ import annotations

import time
from collections import deque
from typing import Callable


class Guard:
    def __init__(self, *, rate: float = 3000.0, burst: float = 6000.0, max_failures: int = 10,
                 window: float = 60.0, ban_for: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = rate, burst
        self.max_failures, self.window, self.ban_for = max_failures, window, ban_for
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: dict[str, deque[float]] = {}
        self._bans: dict[str, float] = {}

    def banned(self, ip: str) -> bool:
        until = self._bans.get(ip)
        if until is None:
            return False
        if self.clock() >= until:
            del self._bans[ip]
            return False
        return True

    def allow(self, ip: str) -> bool:
        """Token bucket per source address."""
        now = self.clock()
        tokens, last = self._buckets.get(ip, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[ip] = (tokens, now)
            return False
        self._buckets[ip] = (tokens - 1, now)
        if len(self._buckets) > 10000:  # a spoofed-source flood must not grow memory forever
            self._buckets.clear()
        return True

    def failed(self, ip: str) -> bool:
        """Count a failed authentication; True when this source is now banned."""
        now = self.clock()
        times = self._failures.setdefault(ip, deque())
        times.append(now)
        while times and times[0] < now - self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            self._bans[ip] = now + self.ban_for
            times.clear()
            return True
        return False

    def bans(self) -> dict[str, float]:
        now = self.clock()
        return {ip: until - now for ip, until in self._bans.items() if until > now}
