"""Opening hours of a time condition: weekly rules, holidays and a time zone.

Parsed once (when the plan is saved, and into the snapshot) so a call only compares
minutes. A rule's `days` name the day a range starts on: `fri 22:00-06:00` is Friday
night into Saturday morning, which is how an owner reads a night shift. Holidays are
dates in the condition's zone and never match, whatever the rules say.
"""
from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Iterable

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RULE_FIELDS = frozenset(("days", "from", "to"))
DAY_MINUTES = 24 * 60


class ScheduleError(ValueError):
    """A rule, holiday or zone that does not parse; `field` is its dotted path
    (`schedule.0.from`, `holidays.1`, `timezone`) in the time condition."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def parse_days(text: Any, field: str = "days") -> frozenset[int]:
    """"mon-fri", "sat", "mon,wed,fri", "mon-wed,sat", "fri-mon" (a range may wrap)."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(field, "days such as mon-fri, sat or mon,wed,fri")
    days: set[int] = set()
    for item in text.lower().split(","):
        first, dash, last = (part.strip() for part in item.partition("-"))
        for name in (first, last) if dash else (first,):
            if name not in DAYS:
                raise ScheduleError(field, f"{name or 'an empty day'!r} is no day (mon, tue, ... sun)")
        lo = DAYS.index(first)
        hi = DAYS.index(last) if dash else lo
        days.update((lo + k) % 7 for k in range((hi - lo) % 7 + 1))
    return frozenset(days)


def parse_time(text: Any, field: str, end: bool = False) -> int:
    """Minutes after midnight of "HH:MM"; "24:00" only as the end of a range."""
    if end and text == "24:00":
        return DAY_MINUTES
    m = TIME.match(text) if isinstance(text, str) else None
    if not m:
        raise ScheduleError(field, "a time HH:MM from 00:00 to 23:59" + (" (or 24:00)" if end else ""))
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_holiday(text: Any, field: str) -> tuple[date, date]:
    """"YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD" (both days included)."""
    if not isinstance(text, str):
        raise ScheduleError(field, "a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD")
    first, dots, last = (part.strip() for part in text.partition(".."))
    try:
        if not DATE.match(first) or (dots and not DATE.match(last)):
            raise ValueError
        lo = date.fromisoformat(first)
        hi = date.fromisoformat(last) if dots else lo
    except ValueError:
        raise ScheduleError(field, f"{text!r} is no date YYYY-MM-DD or range YYYY-MM-DD..YYYY-MM-DD") from None
    if hi < lo:
        raise ScheduleError(field, f"{text!r}: the range ends before it starts")
    return lo, hi


def parse_zone(name: Any, field: str = "timezone") -> tzinfo | None:
    """None for "" (the machine's local time), else the IANA zone."""
    if name == "":
        return None
    if not isinstance(name, str):
        raise ScheduleError(field, "an IANA time zone such as Europe/Moscow, or empty for the appliance's")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(field, f"{name!r} is no IANA time zone (e.g. Europe/Moscow)") from None


@dataclass(frozen=True)
class Rule:
    days: frozenset[int]
    start: int  # minutes after midnight
    end: int    # exclusive; less than start for a range past midnight

    @classmethod
    def parse(cls, rule: Any, field: str) -> Rule:
        if not isinstance(rule, dict):
            raise ScheduleError(field, 'a rule such as {"days": "mon-fri", "from": "09:00", "to": "18:00"}')
        unknown = sorted(set(rule) - RULE_FIELDS)
        if unknown:
            raise ScheduleError(f"{field}.{unknown[0]}", "unknown field (a rule has days, from and to)")
        if "days" not in rule:
            raise ScheduleError(f"{field}.days", "required, e.g. mon-fri")
        days = parse_days(rule["days"], f"{field}.days")
        start = parse_time(rule.get("from", "00:00"), f"{field}.from")
        end = parse_time(rule.get("to", "24:00"), f"{field}.to", end=True)
        if start == end:
            raise ScheduleError(f"{field}.to", "the range is empty (from equals to)")
        return cls(days, start, end)

    def matches(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # Past midnight: the evening of a listed day, or the morning after one.
        return (weekday in self.days and minute >= self.start) or \
            ((weekday - 1) % 7 in self.days and minute < self.end)


@dataclass(frozen=True)
class Schedule:
    rules: tuple[Rule, ...]
    holidays: tuple[tuple[date, date], ...]
    zone: tzinfo | None

    @classmethod
    def parse(cls, rules: Iterable[Any], holidays: Iterable[Any] = (), timezone: Any = "") -> Schedule:
        """Raises ScheduleError (a ValueError) naming the field and the problem."""
        if not isinstance(rules, (list, tuple)):
            raise ScheduleError("schedule", "a list of rules")
        if not isinstance(holidays, (list, tuple)):
            raise ScheduleError("holidays", "a list of dates")
        return cls(tuple(Rule.parse(r, f"schedule.{i}") for i, r in enumerate(rules)),
                   tuple(parse_holiday(h, f"holidays.{i}") for i, h in enumerate(holidays)),
                   parse_zone(timezone))

    def is_holiday(self, day: date) -> bool:
        return any(lo <= day <= hi for lo, hi in self.holidays)

    def matches(self, dt: datetime) -> bool:
        """Whether the aware `dt`, seen in the condition's zone, is inside the hours."""
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("Schedule.matches needs an aware datetime (e.g. datetime.now(timezone.utc))")
        local = dt.astimezone(self.zone) if self.zone is not None else dt.astimezone()
        if self.is_holiday(local.date()):
            return False
        weekday, minute = local.weekday(), local.hour * 60 + local.minute
        return any(rule.matches(weekday, minute) for rule in self.rules)
