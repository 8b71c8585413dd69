"""Who is calling, answered on the ring path from memory: the contact (through the
contacts store's in-memory index) and whether the number is a repeat caller.

The owner's settings (VIP mark, what blocked callers get, the repeat window) are read
at start and re-read by a background thread, never while a call rings."""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pbx.contacts.model import CallerInfo
from pbx.numbers import ANONYMOUS

log = logging.getLogger(__name__)

BLOCKED_ACTIONS = ("reject", "announce")
BLOCKED_PROMPT = "system-blocked-en"


@dataclass(frozen=True)
class CallerPolicy:
    vip_mark: str = "★ "
    blocked: str = "reject"  # reject: the line is hung up unanswered; announce: a prompt first
    repeat_calls: int = 3  # this many calls (this one included) ...
    repeat_hours: float = 24.0  # ... within this many hours mark a repeat caller

    @classmethod
    def from_settings(cls, get: Callable[[str, Any], Any]) -> CallerPolicy:
        default = cls()
        blocked = str(get("blocked_callers", default.blocked)).lower()
        try:
            calls = max(2, int(get("repeat_calls", default.repeat_calls)))
            hours = min(24 * 30, max(0.1, float(get("repeat_hours", default.repeat_hours))))
        except (TypeError, ValueError):
            log.warning("repeat_calls/repeat_hours are not numbers: using %s in %s h",
                        default.repeat_calls, default.repeat_hours)
            calls, hours = default.repeat_calls, default.repeat_hours
        return cls(vip_mark=str(get("vip_mark", default.vip_mark)),
                   blocked=blocked if blocked in BLOCKED_ACTIONS else default.blocked,
                   repeat_calls=calls, repeat_hours=hours)


@dataclass(frozen=True)
class Caller:
    """One caller as a ringing call knows them."""
    number: str
    info: CallerInfo | None
    repeat: int  # calls from this number in the repeat window, this one included; 0 = no repeat caller
    display: str  # what the phones show as the From display name

    @property
    def tier(self) -> str:
        return self.info.tier if self.info is not None else "unknown"

    @property
    def blocked(self) -> bool:
        return self.info is not None and self.info.tier == "blocked"

    def public(self) -> dict[str, Any]:
        return {"number": self.number, "contact": self.info.public() if self.info else None,
                "repeat": self.repeat, "display": self.display}


class RecentCallers:
    """Times of recent calls per number, in memory (seeded from the journal at start),
    so 'N calls in T hours' costs no query while a call rings. Numbers are kept in the
    order they last called, so the ones whose calls left the window are dropped from the
    front, a few per call: never a scan of every number."""

    MAX_NUMBERS = 50_000  # a flood of one-off numbers must not grow without end

    def __init__(self, hours: float) -> None:
        self.window = hours * 3600
        self._calls: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def seed(self, calls: Iterable[tuple[str, float]]) -> None:
        for number, at in sorted(calls, key=lambda c: c[1]):
            self.note(number, at)

    def note(self, number: str, at: float) -> int:
        """Count this call; the number of calls from `number` in the window, it included."""
        with self._lock:
            times = self._calls.setdefault(number, deque())
            self._calls.move_to_end(number)
            times.append(at)
            while times and times[0] < at - self.window:
                times.popleft()
            while self._calls:
                oldest, its = next(iter(self._calls.items()))
                if its[-1] >= at - self.window and len(self._calls) <= self.MAX_NUMBERS:
                    break
                del self._calls[oldest]
            return len(times)


class CallerDirectory:
    def __init__(self, contacts: Any, settings_get: Callable[[str, Any], Any] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.contacts = contacts  # pbx.contacts.store.ContactStore, or None without contacts
        self.settings_get = settings_get
        self.clock = clock
        self.policy = CallerPolicy.from_settings(settings_get) if settings_get else CallerPolicy()
        self.recent = RecentCallers(self.policy.repeat_hours)
        self._stop = threading.Event()

    def identify(self, number: str, network_name: str = "") -> Caller:
        """The caller of a ringing call (number in E.164 as the line normalised it). Memory
        only. Anonymous callers are neither looked up nor counted."""
        if not number or number == ANONYMOUS:
            return Caller(number, None, 0, network_name or number)
        info = None
        if self.contacts is not None:
            try:
                info = self.contacts.lookup(number)
            except Exception:  # the call rings with the number rather than not at all
                log.exception("contact lookup failed for %s", number)
        count = self.recent.note(number, self.clock())
        repeat = count if count >= self.policy.repeat_calls else 0
        display = info.display(self.policy.vip_mark) if info is not None else (network_name or number)
        return Caller(number, info, repeat, display)

    def seed_from(self, journal: Any) -> None:
        """Calls of the last repeat window from the journal (once, at start)."""
        since = self.clock() - self.recent.window
        try:
            self.recent.seed(journal.callers_since(since))
        except Exception:
            log.exception("recent callers could not be read from the journal")

    def follow_settings(self, every: float = 5.0) -> None:
        """Re-read the owner's settings in the background (pbx config set takes effect)."""
        if self.settings_get is None:
            return

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    policy = CallerPolicy.from_settings(self.settings_get)  # type: ignore[arg-type]
                except Exception:
                    log.exception("settings could not be read")
                    continue
                if policy.repeat_hours != self.policy.repeat_hours:
                    self.recent.window = policy.repeat_hours * 3600
                self.policy = policy

        threading.Thread(target=loop, name="caller-settings", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
