"""The snapshot the core reads per call: immutable, the same object until the file
changes, and the lookups the call path needs (numbers, routes in order, permissions)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from pbx.dialplan.snapshot import PlanSnapshot, thaw
from pbx.dialplan.store import DialPlanStore
from pbx.numbers import ANONYMOUS


@pytest.fixture
def plan(tmp_path: Path) -> DialPlanStore:
    store = DialPlanStore(tmp_path)
    store.save("prompt", {"id": "welcome", "text": "Hello"})
    store.save("ivr", {"id": "main", "number": "500", "prompt": "welcome", "keys": {"1": "ringgroup:everyone"}})
    store.save("timecondition", {"id": "hours", "number": "501", "timezone": "Europe/Moscow",
                                 "schedule": [{"days": "mon-fri", "from": "09:00", "to": "18:00"}],
                                 "matched": "ivr:main", "unmatched": "hangup", "feature_code": "*27"})
    store.save("inbound", {"id": "default", "caller": "any", "destination": "timecondition:hours",
                           "position": 1000})
    store.save("inbound", {"id": "block", "caller": "list", "value": ["+74950000000"], "destination": "hangup",
                           "position": 1})
    store.save("inbound", {"id": "boss", "caller": "number", "value": "+79161234567", "trunk": "gsm1",
                           "destination": "ivr:main", "position": 5})
    store.save("inbound", {"id": "moscow", "caller": "prefix", "value": "+7495", "destination": "ivr:main",
                           "position": 5})
    store.save("inbound", {"id": "hidden", "caller": "anonymous", "destination": "hangup", "position": 5})
    store.save("inbound", {"id": "fxo", "trunk": "fxo1", "caller": "any", "destination": "hangup"})
    store.save("outbound", {"id": "emergency", "patterns": ["112", "911"], "position": 1})
    store.save("outbound", {"id": "mobile", "patterns": ["9|8XXXXXXXXXX"], "prepend": "+7", "trunks": ["gsm1"],
                            "position": 10})
    store.save("outbound", {"id": "mobile-trimmed", "patterns": ["9|89XXXXXXXXX"], "position": 20})
    store.save("permission", {"id": "101", "allow": ["internal", "international"]})
    return store


def test_cached_until_the_file_changes(plan: DialPlanStore, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []
    real = PlanSnapshot.build
    monkeypatch.setattr(PlanSnapshot, "build", classmethod(lambda cls, p: (builds.append(1), real(p))[1]))
    first = plan.snapshot()
    assert plan.snapshot() is first and plan.snapshot() is first and len(builds) == 1
    plan.save("ivr", {"id": "main", "number": "502", "prompt": "welcome"})
    second = plan.snapshot()
    assert second is not first and len(builds) == 2
    assert (first.by_number("500"), second.by_number("500"), second.by_number("502")) == ("ivr:main", None, "ivr:main")


def test_immutable(plan: DialPlanStore) -> None:
    snap = plan.snapshot()
    ivr = snap.get("ivr", "main")
    assert ivr is not None
    with pytest.raises(TypeError):
        ivr["number"] = "999"  # type: ignore[index]
    with pytest.raises(TypeError):
        ivr["keys"]["2"] = "hangup"  # type: ignore[index]
    assert isinstance(snap.get("outbound", "emergency")["patterns"], tuple)  # type: ignore[index]
    with pytest.raises(AttributeError):
        snap._numbers = {}  # type: ignore[misc]
    assert thaw(ivr) == plan.get("ivr", "main")


def test_lookups(plan: DialPlanStore) -> None:
    snap = plan.snapshot()
    assert snap.get("ivr", "nope") is None and snap.get("queue", "x") is None
    assert snap.get("prompt", "system-hold-ru")["system"] is True  # type: ignore[index]
    assert (snap.by_number("500"), snap.by_number("501"), snap.by_number("101")) == (
        "ivr:main", "timecondition:hours", None)
    assert snap.by_feature_code("*27") == "timecondition:hours" and snap.by_feature_code("*28") is None
    assert [r["id"] for r in snap.inbound_routes()] == ["block", "boss", "hidden", "moscow", "fxo", "default"]
    assert [r["id"] for r in snap.outbound_routes()] == ["emergency", "mobile", "mobile-trimmed", "default"]
    assert [r["id"] for r in snap.objects("prompt")][:1] == ["system-blocked-en"]


@pytest.mark.parametrize("trunk, caller, route", [
    ("gsm1", "+74950000000", "block"),       # the block list comes first, by position
    ("gsm1", "+79161234567", "boss"),
    ("gsm2", "+79161234567", "default"),     # boss only on gsm1
    ("gsm2", "+74951112233", "moscow"),
    ("gsm2", ANONYMOUS, "hidden"),
    ("fxo1", "+79160000000", "fxo"),         # the line's own default before every line's
    ("gsm1", "+79160000000", "default"),
])
def test_match_inbound(plan: DialPlanStore, trunk: str, caller: str, route: str) -> None:
    found = plan.snapshot().match_inbound(trunk, caller)
    assert found is not None and found["id"] == route


@pytest.mark.parametrize("dialled, route, number", [
    ("112", "emergency", "112"),
    ("989161234567", "mobile", "+789161234567"),
    ("984951234567", "mobile", "+784951234567"),
    ("9123", "default", "123"),
    ("123", None, None),
    ("9", None, None),
])
def test_match_outbound(plan: DialPlanStore, dialled: str, route: str | None, number: str | None) -> None:
    found = plan.snapshot().match_outbound(dialled)
    assert (found[0]["id"], found[1]) == (route, number) if found else (route, number) == (None, None)


def test_no_route_matches_when_the_plan_has_none(tmp_path: Path) -> None:
    store = DialPlanStore(tmp_path)
    store.delete("outbound", "default")
    store.delete("inbound", "default")
    snap = store.snapshot()
    assert snap.match_outbound("989161234567") is None and snap.match_inbound("gsm1", "+79161234567") is None


def test_permissions(plan: DialPlanStore) -> None:
    snap = plan.snapshot()
    assert snap.permission("101") == {"internal", "international", "emergency"}
    assert snap.permission("102") == {"internal", "local", "national", "mobile", "emergency"}
    plan.save("permission", {"id": "103", "allow": []})
    assert plan.snapshot().permission("103") == {"emergency"}


def test_schedules_are_parsed_once(plan: DialPlanStore) -> None:
    snap = plan.snapshot()
    hours = snap.schedule("hours")
    assert hours is snap.schedule("hours") and snap.schedule("nope") is None
    assert hours is not None
    assert hours.matches(datetime(2026, 12, 2, 7, 0, tzinfo=timezone.utc))       # 10:00 in Moscow
    assert not hours.matches(datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc))  # 19:00


def test_a_hand_edited_bad_pattern_does_not_break_the_snapshot(plan: DialPlanStore) -> None:
    path = plan.docs.path
    path.write_text(path.read_text().replace('"112"', '"11A"'))
    snap = plan.snapshot()
    assert snap.match_outbound("911")[0]["id"] == "emergency"  # type: ignore[index]
    assert snap.match_outbound("112") is None
