"""First line of defence: per-source rate limits and temporary bans.

Three rules ban a source: failed passwords (always, allow list or not), and, for sources
outside the owner's allow list, scanners: a known scanner User-Agent at its first
request, or many challenges in a row that are never answered with a good password.
Each ban is logged once, with its reason.

The edge thread does the counting; the web threads list and lift bans. The ban table
is only ever changed by single dict operations, which the GIL keeps whole.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Iterable

log = logging.getLogger(__name__)

# User-Agents of SIP scanners and war-dialers seen in the wild (SIPVicious and its
# "friendly-scanner" disguise, sipcli, sundayddr, VaxSIPUserAgent, sip-scan, ...).
SCANNER_AGENTS = re.compile(r"friendly-scanner|sipvicious|sipcli|vaxsipuseragent|sundayddr|"
                            r"sip-scan|sipsak-scan|iWar|smap|pplsip|eyeBeam-scanner|cirpack",
                            re.IGNORECASE)


MAX_SOURCES = 10_000  # addresses tracked (and banned) at once


@dataclass
class Ban:
    address: str
    reason: str
    since: float
    until: float

    def to_dict(self, now: float) -> dict:
        return {"address": self.address, "reason": self.reason, "since": self.since,
                "expires_in": max(0, int(self.until - now))}


def parse_networks(text: str | Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The allow list: CIDR networks or addresses, comma-separated (ValueError if one is bad)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]


class Guard:
    def __init__(self, *, rate: float = 3000.0, burst: float = 6000.0, max_failures: int = 10,
                 window: float = 60.0, ban_for: float = 600.0, max_challenges: int = 100,
                 ban_scanners: bool = True, allow: str | Iterable[str] = "",
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.rate, self.burst = rate, burst
        self.max_failures, self.window, self.ban_for = max_failures, window, ban_for
        self.max_challenges, self.ban_scanners = max_challenges, ban_scanners
        self.allowed = parse_networks(allow)
        self.clock, self.wall_clock = clock, wall_clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._challenges: OrderedDict[str, deque[float]] = OrderedDict()
        self._bans: dict[str, Ban] = {}

    # ---- the edge asks ------------------------------------------------------------------
    def banned(self, ip: str) -> bool:
        ban = self._bans.get(ip)
        if ban is None:
            return False
        if self.clock() >= ban.until:
            self._bans.pop(ip, None)
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

    def user_agent(self, ip: str, agent: str) -> bool:
        """A request's User-Agent; True when it is a known scanner's and the source is now banned."""
        if not self.ban_scanners or not agent or SCANNER_AGENTS.search(agent) is None:
            return False
        if self.is_allowed(ip):
            return False
        self._ban(ip, f"scanner User-Agent {agent[:40]!r}")
        return True

    def failed(self, ip: str) -> bool:
        """Count a failed authentication; True when this source is now banned."""
        if self._count(self._failures, ip) >= self.max_failures:
            self._failures.pop(ip, None)
            self._ban(ip, f"{self.max_failures} failed passwords in {self.window:.0f} s")
            return True
        return False

    def challenged(self, ip: str) -> bool:
        """Count a challenge sent; True when this source is now banned as a scanner."""
        if self._count(self._challenges, ip) >= self.max_challenges:
            self._challenges.pop(ip, None)
            if self.is_allowed(ip):
                return False
            self._ban(ip, f"{self.max_challenges} challenges in {self.window:.0f} s without a login")
            return True
        return False

    def succeeded(self, ip: str) -> None:
        """A good password: this source is a phone, not a scanner."""
        self._challenges.pop(ip, None)

    def is_allowed(self, ip: str) -> bool:
        if not self.allowed:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.allowed)

    # ---- the owner asks -----------------------------------------------------------------
    def bans(self) -> list[dict]:
        now = self.clock()
        return [b.to_dict(now) for b in list(self._bans.values()) if b.until > now]

    def clear(self, ip: str | None = None) -> int:
        """Lift one ban or all of them; the number lifted."""
        if ip is None:
            count = len(self._bans)
            self._bans = {}
        else:
            count = 1 if self._bans.pop(ip, None) is not None else 0
        if count:
            log.warning("SIP edge: %s lifted by the owner", f"the ban of {ip}" if ip else f"{count} ban(s)")
        return count

    # ---- inside -------------------------------------------------------------------------
    def _count(self, table: OrderedDict[str, deque[float]], ip: str) -> int:
        """Count an event of this source in the window. The table is bounded under a spoofed
        flood by forgetting the sources quiet the longest, never by a wholesale clear (that
        would also forget the guesser who is still guessing)."""
        now = self.clock()
        times = table.get(ip)
        if times is None:
            while len(table) >= MAX_SOURCES:
                table.popitem(last=False)
            times = table[ip] = deque()
        else:
            table.move_to_end(ip)
        times.append(now)
        while times and times[0] < now - self.window:
            times.popleft()
        return len(times)

    def _ban(self, ip: str, reason: str) -> None:
        if ip in self._bans:
            return
        if len(self._bans) >= MAX_SOURCES:  # a spoofed flood: expired bans go, then the oldest
            now = self.clock()
            self._bans = {k: b for k, b in self._bans.items() if b.until > now}
            while len(self._bans) >= MAX_SOURCES:
                self._bans.pop(next(iter(self._bans)))
        self._bans[ip] = Ban(ip, reason, self.wall_clock(), self.clock() + self.ban_for)
        log.warning("SIP edge: %s banned for %.0f s: %s", ip, self.ban_for, reason)
