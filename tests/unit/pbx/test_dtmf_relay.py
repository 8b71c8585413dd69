"""The key collector: pjsua2's start/update/end events and SIP INFO become one key each,
with its duration; a key whose end was lost still goes, once."""
from __future__ import annotations

from typing import Callable

from pbx.calls.dtmf_relay import DEFAULT_MS, END_WAIT, IS_END, IS_UPDATE, DtmfEvent, DtmfRelay, KeyCollector, KeyPress


def rtp(digit: str, flags: int, ts: int, ms: int) -> DtmfEvent:
    return DtmfEvent(digit, True, flags, ts, ms)


def press(digit: str, ts: int, ms: int) -> list[DtmfEvent]:
    """What pjsua2 reports for one RFC 4733 key: a start, updates, one end."""
    updates = [rtp(digit, IS_UPDATE, ts, d) for d in range(40, ms, 20)]
    return [rtp(digit, 0, ts, 20), *updates, rtp(digit, IS_UPDATE | IS_END, ts, ms)]


def feed_all(keys: KeyCollector, events: list[DtmfEvent], now: float = 0.0) -> list[KeyPress]:
    return [k for e in events for k in keys.feed(e, now)]


def test_each_rfc4733_key_once_at_its_end_with_its_duration() -> None:
    keys = KeyCollector()
    events = press("1", 1000, 120) + press("#", 1200, 300) + press("1", 1600, 100)
    assert feed_all(keys, events) == [KeyPress("1", 120), KeyPress("#", 300), KeyPress("1", 100)]


def test_a_late_end_or_update_of_a_closed_key_is_ignored() -> None:
    keys = KeyCollector()
    assert feed_all(keys, press("5", 40, 100)) == [KeyPress("5", 100)]
    assert keys.feed(rtp("5", IS_UPDATE | IS_END, 40, 100), 0.1) == []
    assert keys.feed(rtp("5", IS_UPDATE, 40, 100), 0.1) == []


def test_sip_info_is_one_key_each_even_with_equal_timestamps() -> None:
    keys = KeyCollector()
    info = [DtmfEvent(d, False, IS_END, 777, 250) for d in "77"]
    assert feed_all(keys, info) == [KeyPress("7", 250), KeyPress("7", 250)]


def test_info_without_duration_gets_a_default_and_odd_signals_are_dropped() -> None:
    keys = KeyCollector()
    assert keys.feed(DtmfEvent("9", False, IS_END, 0, 0xFFFFFFFF), 0) == [KeyPress("9", DEFAULT_MS)]
    assert keys.feed(DtmfEvent("9", False, IS_END, 0, 0), 0) == [KeyPress("9", DEFAULT_MS)]
    assert keys.feed(DtmfEvent("!", False, IS_END, 0, 100), 0) == []
    assert keys.feed(DtmfEvent("a", False, IS_END, 0, 100), 0) == [KeyPress("A", 100)]


def test_a_new_key_closes_one_whose_end_was_lost() -> None:
    keys = KeyCollector()
    lost_end = press("3", 100, 160)[:-1]
    assert feed_all(keys, lost_end + press("4", 400, 100)) == [KeyPress("3", 140), KeyPress("4", 100)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, fn))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, fn in due:
            fn()


class FakeLeg:
    def __init__(self) -> None:
        self.keys = KeyCollector()


def test_the_relay_sends_a_key_whose_end_never_came_after_a_silence() -> None:
    clock, sent = Clock(), []
    relay = DtmfRelay(clock.later, lambda leg, key: sent.append(key), clock=lambda: clock.now)
    leg = FakeLeg()
    relay.event(leg, rtp("8", 0, 10, 20))
    clock.advance(0.3)
    relay.event(leg, rtp("8", IS_UPDATE, 10, 320))
    clock.advance(END_WAIT - 0.1)  # 0.4 s after the update: not yet
    assert sent == []
    clock.advance(0.2)
    assert sent == [KeyPress("8", 320)]
    relay.event(leg, rtp("8", IS_UPDATE | IS_END, 10, 340))  # the end, too late: already sent
    clock.advance(END_WAIT * 2)
    assert sent == [KeyPress("8", 320)] and clock.timers == []


def test_the_relay_holds_no_leg_in_its_timers() -> None:
    clock, sent = Clock(), []
    relay = DtmfRelay(clock.later, lambda leg, key: sent.append(key), clock=lambda: clock.now)
    leg = FakeLeg()
    relay.event(leg, rtp("2", 0, 10, 20))
    del leg  # released at its DISCONNECTED callback: the timer finds nothing to send
    clock.advance(END_WAIT * 2)
    assert sent == []
