"""Caller ID on the ring path: the contact's name and VIP mark from memory, repeat
callers counted in memory, tier routes and the responsible extension first, and the
caller's history read from a real journal."""
from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from pbx.contacts.callers import CallerDirectory, CallerPolicy
from pbx.contacts.history import caller_history
from pbx.contacts.model import contact_from
from pbx.dialplan.engine import DialPlan
from pbx.dialplan.store import DialPlanStore
from pbx.numbers import ANONYMOUS
from pbx.store.journal import CallJournal, CallRecord


class MemoryContacts:
    """The lookup half of the contacts store (its own tests cover the store itself)."""

    country, area_code = "RU", ""

    def __init__(self, *contacts: dict) -> None:
        self.by_id = {}
        self.index = {}
        for data in contacts:
            c = contact_from(data)
            self.by_id[c.id] = c
            for p in c.phones:
                self.index[p.number] = c.caller_info()
        self.lookups = 0

    def lookup(self, number: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return self.index.get(number)

    def get(self, cid: str):  # type: ignore[no-untyped-def]
        return self.by_id[cid]


IVAN = {"name": "Ivan Petrov", "company": "Acme", "tier": "vip", "responsible": "102",
        "phones": [{"type": "mobile", "number": "8 916 123-45-67"}, {"type": "work", "number": "+74951112233"}]}
SPAM = {"name": "Spam Co", "tier": "blocked", "phones": ["+74990000000"]}


def test_a_contact_rings_with_name_company_and_vip_mark_unknown_with_the_number() -> None:
    callers = CallerDirectory(MemoryContacts(IVAN, SPAM))
    who = callers.identify("+79161234567", "NETWORK NAME")
    assert who.display == "★ Ivan Petrov (Acme)" and who.tier == "vip" and not who.blocked
    assert callers.identify("+74990000000").blocked
    stranger = callers.identify("+79031234567")
    assert stranger.info is None and stranger.display == "+79031234567" and stranger.tier == "unknown"
    assert callers.identify("+79031234568", "Operator CNAM").display == "Operator CNAM"
    assert callers.identify(ANONYMOUS).display == ANONYMOUS


def test_the_vip_mark_is_the_owners_setting() -> None:
    settings = {"vip_mark": "VIP "}
    callers = CallerDirectory(MemoryContacts(IVAN), lambda k, d: settings.get(k, d))
    assert callers.identify("+79161234567").display == "VIP Ivan Petrov (Acme)"
    assert CallerPolicy.from_settings(lambda k, d: {"vip_mark": ""}.get(k, d)).vip_mark == ""


def test_repeat_callers_are_n_calls_in_t_hours_counted_in_memory() -> None:
    now = [1_000_000.0]
    settings = {"repeat_calls": 3, "repeat_hours": 1}
    callers = CallerDirectory(None, lambda k, d: settings.get(k, d), clock=lambda: now[0])
    callers.recent.seed([("+79161234567", now[0] - 7200)])  # outside the window
    assert [callers.identify("+79161234567").repeat for _ in range(2)] == [0, 0]
    assert callers.identify("+79161234567").repeat == 3
    now[0] += 3601  # an hour later the earlier calls no longer count
    assert callers.identify("+79161234567").repeat == 0
    assert callers.identify(ANONYMOUS).repeat == 0


def test_bad_settings_fall_back_to_the_defaults() -> None:
    policy = CallerPolicy.from_settings(lambda k, d: {"repeat_calls": "many", "blocked_callers": "shout"}.get(k, d))
    assert policy == CallerPolicy()


class RingB2bua:
    ring_timeout = 20

    def __init__(self) -> None:
        self.directory = NS(get=lambda n: NS(number=n) if n in ("101", "102") else None,
                            list=lambda: [NS(number="101"), NS(number="102")])
        self.location = NS(contacts=lambda ext: [NS(ext=ext, uri=f"sip:{ext}@192.0.2.1")])
        self.core = NS(call_later=lambda s, fn: NS(cancel=lambda: None))
        self.calls: dict = {}
        self.rung: list[tuple[list[str], str, float]] = []
        self.hangups: list[str] = []
        self.trunks = None

    def busy(self, number: str) -> bool:
        return False

    def plan_hangup(self, call, disposition: str) -> None:  # type: ignore[no-untyped-def]
        self.hangups.append(disposition)

    def ring_flow(self, call, contacts, display, timeout):  # type: ignore[no-untyped-def]
        self.rung.append(([c.ext for c in contacts], display, round(timeout)))
        return True


@pytest.fixture
def routed(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = DialPlanStore(tmp_path)
    store.save("ringgroup", {"id": "sales", "members": ["101"]})
    store.save("ringgroup", {"id": "vips", "members": ["101", "102"], "name_prefix": "VIP line: "})
    store.save("inbound", {"id": "vip", "tier": "vip", "destination": "ringgroup:vips", "position": 1,
                           "responsible_first": 15})
    store.save("inbound", {"id": "known", "tier": "known", "destination": "ringgroup:sales", "position": 2})
    return store


def _inbound(store: DialPlanStore, contacts: MemoryContacts, number: str):  # type: ignore[no-untyped-def]
    b = RingB2bua()
    plan = DialPlan(b, store, prompts=None, players=None, rng=random.Random(1))
    who = CallerDirectory(contacts).identify(number)
    call = NS(id="c1", caller=number, caller_name=who.display, identity=who, start=plan.clock(), path=[],
              flow=None)
    plan.inbound(call, "gsm1")
    call.flow.listener = NS(stop=lambda: None)  # no hold music here
    return b, call


def test_a_vip_rings_their_responsible_manager_first_then_the_vip_group(routed: DialPlanStore) -> None:
    b, call = _inbound(routed, MemoryContacts(IVAN), "+79161234567")
    assert b.rung == [(["102"], "★ Ivan Petrov (Acme)", 15)]
    call.flow.rang_out({408})  # the manager did not answer
    assert b.rung[1][0] == ["101", "102"] and b.rung[1][1] == "VIP line: ★ Ivan Petrov (Acme)"
    assert [s["step"] for s in call.path][:3] == ["route", "responsible", "ring"]


def test_tiers_pick_the_route_and_unknown_callers_take_the_default(routed: DialPlanStore) -> None:
    normal = dict(IVAN, tier="normal", responsible="")
    b, _ = _inbound(routed, MemoryContacts(normal), "+79161234567")
    assert b.rung == [(["101"], "Ivan Petrov (Acme)", 20)]  # "known" route
    b, _ = _inbound(routed, MemoryContacts(normal), "+79031234567")
    assert b.rung == [(["101", "102"], "+79031234567", 20)]  # the fresh plan's default route: everyone


def test_a_route_refuses_an_unknown_tier(routed: DialPlanStore) -> None:
    from pbx.errors import ValidationError
    with pytest.raises(ValidationError, match="tier"):
        routed.save("inbound", {"id": "x", "tier": "gold", "destination": "hangup"})
    with pytest.raises(ValidationError, match="responsible_first"):
        routed.save("inbound", {"id": "x", "destination": "hangup", "responsible_first": 1000})


def _record(journal: CallJournal, cid: str, start: float, disposition: str, *, caller: str = "+79161234567",
            callee: str = "*", direction: str = "inbound", details: dict | None = None) -> None:
    answered = disposition == "answered"
    journal.add(CallRecord(id=cid, caller=caller, callee=callee, direction=direction, trunk="gsm1",
                           start=start, answer=start + 5 if answered else None, end=start + 65,
                           duration=60.0 if answered else 0.0, disposition=disposition, details=details or {}))


def test_history_names_who_answered_talk_time_missed_calls_and_the_open_callback(tmp_path: Path) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    t = 1_000_000.0
    _record(journal, "a", t, "answered", callee="101", details={"answered_by": "101"})
    _record(journal, "b", t + 100, "no_answer")
    _record(journal, "c", t + 200, "cancelled")  # the caller gave up while it rang
    _record(journal, "x", t + 250, "answered", caller="+79039999999", callee="102")  # someone else
    _record(journal, "d", t + 300, "answered", caller="+74951112233", callee="101")  # the same contact's office
    contacts = MemoryContacts(IVAN)
    hist = caller_history(journal, contacts, "8 (916) 123-45-67", now=t + 400)
    assert hist["number"] == "+79161234567" and hist["contact"]["name"] == "Ivan Petrov"
    assert [c["id"] for c in hist["calls"]] == ["d", "c", "b", "a"]
    assert hist["calls"][3]["answered_by"] == "101" and hist["calls"][3]["talk_seconds"] == 60.0
    assert [c["missed"] for c in hist["calls"]] == [False, True, True, False]
    assert hist["open_callback"] is None  # the office number was answered since
    assert hist["total_calls"] == 4 and hist["missed"] == 2 and hist["repeat"]["is_repeat"]
    _record(journal, "e", t + 500, "no_answer")
    _record(journal, "f", t + 600, "blocked")  # not missed: turned away on purpose
    hist = caller_history(journal, contacts, "+79161234567", now=t + 700)
    assert hist["open_callback"] == {"since": t + 500, "call": "e"} and hist["missed"] == 3
    # an outbound call back closes it
    _record(journal, "g", t + 800, "answered", caller="101", callee="+79161234567", direction="outbound")
    assert caller_history(journal, contacts, "+79161234567", now=t + 900)["open_callback"] is None
    assert caller_history(journal, None, ANONYMOUS)["calls"] == []
    journal.close()


def test_recent_callers_forget_old_numbers_and_stay_bounded_without_scanning() -> None:
    from pbx.contacts.callers import RecentCallers

    recent = RecentCallers(hours=1)
    recent.MAX_NUMBERS = 100
    for i in range(1000):  # one-off numbers, one a second
        recent.note(f"+7903{i:07d}", 1000.0 + i)
    assert len(recent._calls) == 100  # the bound holds
    assert recent.note("+79030000999", 2000.0) == 2  # the newest are the ones kept
    recent.note("+79161234567", 10_000.0)  # hours later: everything older left the window
    assert list(recent._calls) == ["+79161234567"]
