"""Time condition schedules: day lists and ranges, times up to 24:00, night ranges past
midnight, holidays that never match, and the condition's own time zone."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from pbx.dialplan.schedule import Schedule, ScheduleError, parse_days

MSK = timezone(timedelta(hours=3))
OFFICE = [{"days": "mon-fri", "from": "09:00", "to": "18:00"}, {"days": "sat", "from": "10:00", "to": "14:00"}]


def at(text: str, tz: timezone = timezone.utc) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.mark.parametrize("days, expected", [
    ("mon-fri", {0, 1, 2, 3, 4}),
    ("sat", {5}),
    ("mon,wed,fri", {0, 2, 4}),
    ("Mon - Wed, sat", {0, 1, 2, 5}),
    ("fri-mon", {4, 5, 6, 0}),     # a range may wrap over the week's end
    ("sun-sun", {6}),
])
def test_days(days: str, expected: set[int]) -> None:
    assert parse_days(days) == expected


def test_office_hours_in_the_conditions_zone() -> None:
    office = Schedule.parse(OFFICE, timezone="Europe/Moscow")
    # 2026-12-02 is a Wednesday; Moscow is UTC+3 all year.
    assert not office.matches(at("2026-12-02T05:59"))   # 08:59 in Moscow
    assert office.matches(at("2026-12-02T06:00"))       # 09:00
    assert office.matches(at("2026-12-02T14:59"))       # 17:59
    assert not office.matches(at("2026-12-02T15:00"))   # 18:00: the end is not included
    assert office.matches(at("2026-12-05T08:00"))       # Saturday 11:00
    assert not office.matches(at("2026-12-06T08:00"))   # Sunday
    # The same instant given in another zone is the same answer.
    assert office.matches(at("2026-12-02T09:00", MSK)) and not office.matches(at("2026-12-02T08:59", MSK))


def test_the_day_is_the_day_in_the_zone() -> None:
    # Monday 23:30 UTC is already Tuesday 08:30 in Vladivostok (UTC+10).
    early = Schedule.parse([{"days": "tue", "from": "08:00", "to": "09:00"}], timezone="Asia/Vladivostok")
    assert early.matches(at("2026-11-30T22:30"))
    assert not Schedule.parse([{"days": "tue", "from": "08:00", "to": "09:00"}], timezone="UTC").matches(
        at("2026-11-30T22:30"))


def test_empty_zone_is_the_machines_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    hours = Schedule.parse([{"days": "mon-sun", "from": "09:00", "to": "10:00"}])
    try:
        monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9, no summer time
        time.tzset()
        assert hours.matches(at("2026-12-02T00:30"))
        assert not hours.matches(at("2026-12-02T09:30"))
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert hours.matches(at("2026-12-02T09:30"))
    finally:
        monkeypatch.undo()
        time.tzset()


def test_to_24_00_and_a_night_range_past_midnight() -> None:
    late = Schedule.parse([{"days": "fri", "from": "18:00", "to": "24:00"}], timezone="UTC")
    assert late.matches(at("2026-12-04T23:59")) and not late.matches(at("2026-12-05T00:00"))
    night = Schedule.parse([{"days": "fri", "from": "22:00", "to": "06:00"}], timezone="UTC")
    assert night.matches(at("2026-12-04T22:00"))        # Friday night
    assert night.matches(at("2026-12-05T05:59"))        # into Saturday morning
    assert not night.matches(at("2026-12-05T06:00"))
    assert not night.matches(at("2026-12-04T05:00"))    # Friday morning belongs to Thursday's night
    assert not night.matches(at("2026-12-05T22:30"))    # Saturday night is not listed


def test_whole_day_when_from_and_to_are_left_out() -> None:
    weekend = Schedule.parse([{"days": "sat-sun"}], timezone="UTC")
    assert weekend.matches(at("2026-12-05T00:00")) and weekend.matches(at("2026-12-06T23:59"))
    assert not weekend.matches(at("2026-12-07T00:00"))


def test_holidays_never_match() -> None:
    office = Schedule.parse(OFFICE, ["2026-12-31", "2027-01-01..2027-01-08"], "Europe/Moscow")
    assert office.matches(at("2026-12-30T10:00"))
    assert not office.matches(at("2026-12-31T10:00"))   # Thursday, a holiday
    assert not office.matches(at("2027-01-04T10:00"))   # Monday inside the range
    assert not office.matches(at("2027-01-08T10:00"))   # the range's last day is included
    assert office.matches(at("2027-01-11T10:00"))
    # The holiday's date is the date in the zone: 22:30 UTC on the 30th is the 31st in Moscow.
    night = Schedule.parse([{"days": "mon-sun", "from": "00:00", "to": "24:00"}], ["2026-12-31"], "Europe/Moscow")
    assert not night.matches(at("2026-12-30T22:30")) and night.matches(at("2026-12-30T20:30"))


def test_no_rules_never_match_and_naive_times_are_refused() -> None:
    assert not Schedule.parse([]).matches(at("2026-12-02T10:00"))
    with pytest.raises(ValueError, match="aware"):
        Schedule.parse(OFFICE).matches(datetime(2026, 12, 2, 10, 0))


@pytest.mark.parametrize("rules, holidays, zone, field, words", [
    ([{"days": "mon-fry", "from": "09:00", "to": "18:00"}], [], "", "schedule.0.days", "'fry'"),
    ([{"days": "", "from": "09:00"}], [], "", "schedule.0.days", "days such as"),
    ([{"from": "09:00"}], [], "", "schedule.0.days", "required"),
    ([{"days": "mon", "from": "9:00"}], [], "", "schedule.0.from", "HH:MM"),
    ([{"days": "mon", "from": "24:00"}], [], "", "schedule.0.from", "HH:MM"),
    ([OFFICE[0], {"days": "mon", "to": "25:00"}], [], "", "schedule.1.to", "24:00"),
    ([{"days": "mon", "from": "10:00", "to": "10:00"}], [], "", "schedule.0.to", "empty"),
    ([{"days": "mon", "start": "10:00"}], [], "", "schedule.0.start", "unknown field"),
    (["mon-fri 9-18"], [], "", "schedule.0", "a rule such as"),
    ("mon-fri", [], "", "schedule", "a list"),
    ([], ["2026-12-31", "2026-02-30"], "", "holidays.1", "no date"),
    ([], ["31.12.2026"], "", "holidays.0", "no date"),
    ([], ["2027-01-08..2027-01-01"], "", "holidays.0", "ends before it starts"),
    ([], "2026-12-31", "", "holidays", "a list"),
    ([], [], "Mars/Olympus", "timezone", "no IANA time zone"),
    ([], [], "../../etc/passwd", "timezone", "no IANA time zone"),
])
def test_bad_schedules_name_the_field(rules: object, holidays: object, zone: str, field: str, words: str) -> None:
    with pytest.raises(ScheduleError) as err:
        Schedule.parse(rules, holidays, zone)  # type: ignore[arg-type]
    assert err.value.field == field and words in str(err.value)
    assert isinstance(err.value, ValueError)
