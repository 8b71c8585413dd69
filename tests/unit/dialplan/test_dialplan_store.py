"""The dial plan store: defaults on a fresh open, every validation rule naming its field,
nothing written by a refused save, deletes refused while something refers to the object,
and one file shared by processes like the other stores."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pbx.dialplan import checks
from pbx.dialplan.defaults import SYSTEM_PROMPTS
from pbx.dialplan.store import DialPlanStore
from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.extensions import ExtensionStore
from pbx.store.trunks import TrunkStore, new_trunk

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "Strong-pass-77"


@pytest.fixture
def plan(tmp_path: Path) -> DialPlanStore:
    """A plan with a prompt, an IVR on number 500, extensions 101/102 and line gsm1."""
    exts = ExtensionStore(tmp_path)
    exts.add("101", "Reception", PASSWORD)
    exts.add("102", "Sales", PASSWORD)
    trunks = TrunkStore(tmp_path)
    trunks.add(new_trunk("gsm1", "gsm", "", "sim"))
    store = DialPlanStore(tmp_path, extensions=exts, trunks=trunks)
    store.save("prompt", {"id": "welcome", "name": "Welcome", "text": "Hello"})
    store.save("ivr", {"id": "main", "name": "Main menu", "number": "500", "prompt": "welcome",
                       "keys": {"1": "extension:101", "2": "ringgroup:everyone", "0": "ivr:repeat"}})
    return store


def file_bytes(store: DialPlanStore) -> bytes:
    return store.docs.path.read_bytes()


def test_fresh_open_creates_the_defaults(tmp_path: Path) -> None:
    store = DialPlanStore(tmp_path)
    assert store.list("ringgroup") == [{
        "id": "everyone", "name": "Everyone", "number": "", "strategy": "ringall", "members": ["*"],
        "ring_time": 20, "total_time": 60, "name_prefix": "", "no_answer": "hangup",
        "recording": "", "recording_force": False}]
    inbound = store.get("inbound", "default")
    assert inbound is not None
    assert (inbound["trunk"], inbound["caller"], inbound["destination"]) == ("", "any", "ringgroup:everyone")
    outbound = store.get("outbound", "default")
    assert outbound is not None and (outbound["patterns"], outbound["trunks"]) == (["9|."], [])
    prompts = {p["id"]: p for p in store.list("prompt")}
    kinds = ("hold", "invalid", "closed", "goodbye", "blocked", "recorded")
    assert sorted(prompts) == sorted(f"system-{w}-{lang}" for w in kinds for lang in ("en", "ru"))
    assert all(p["system"] and p["text"] for p in prompts.values())
    assert prompts["system-closed-ru"]["language"] == "ru"
    assert store.list("ivr") == [] and store.list("permission") == []
    # In the file, as TinyDB tables of the kind's name.
    data = json.loads(store.docs.path.read_text())
    assert set(data) == {"prompt", "ringgroup", "inbound", "outbound"}
    assert len(data["prompt"]) == 12


def test_opening_again_writes_nothing_and_deleted_defaults_stay_deleted(tmp_path: Path) -> None:
    store = DialPlanStore(tmp_path)
    store.delete("inbound", "default")
    store.delete("ringgroup", "everyone")
    stamp = store.docs.stamp()
    again = DialPlanStore(tmp_path)
    assert again.docs.stamp() == stamp, "an open that finds everything in place must not write"
    assert again.get("ringgroup", "everyone") is None and again.get("inbound", "default") is None
    assert again.get("prompt", "system-hold-en") is not None


def test_system_prompts_come_back_and_are_read_only(tmp_path: Path) -> None:
    store = DialPlanStore(tmp_path)
    data = json.loads(store.docs.path.read_text())
    data["prompt"] = {k: v for k, v in data["prompt"].items() if v["id"] != "system-goodbye-en"}
    store.docs.path.write_text(json.dumps(data))  # a hand edit lost one
    assert DialPlanStore(tmp_path).get("prompt", "system-goodbye-en") == SYSTEM_PROMPTS["system-goodbye-en"]
    assert "system-goodbye-en" in store.docs.path.read_text()
    before = file_bytes(store)
    with pytest.raises(Conflict):
        store.save("prompt", {"id": "system-hold-en", "name": "Mine", "text": "Wait"})
    with pytest.raises(Conflict):
        store.delete("prompt", "system-hold-en")
    assert file_bytes(store) == before


def test_save_fills_defaults_returns_a_copy_and_replaces(plan: DialPlanStore) -> None:
    ivr = plan.get("ivr", "main")
    assert ivr == {
        "id": "main", "name": "Main menu", "number": "500", "prompt": "welcome",
        "keys": {"1": "extension:101", "2": "ringgroup:everyone", "0": "ivr:repeat"},
        "direct_dial": False, "first_digit_timeout": 5.0, "inter_digit_timeout": 2.0, "retries": 3,
        "invalid_prompt": "system-invalid-en", "timeout_prompt": "", "invalid_destination": "hangup",
        "timeout_destination": "hangup"}
    saved = plan.save("announcement", {"id": "closed", "prompt": "system-closed-en"})
    assert saved == {"id": "closed", "name": "closed", "number": "", "prompt": "system-closed-en", "then": "hangup"}
    saved["then"] = "ivr:main"
    assert plan.get("announcement", "closed")["then"] == "hangup"  # type: ignore[index]
    plan.save("ivr", {"id": "main", "prompt": "welcome", "retries": 5})
    assert plan.get("ivr", "main")["retries"] == 5 and plan.get("ivr", "main")["keys"] == {}  # type: ignore[index]
    assert len(json.loads(plan.docs.path.read_text())["ivr"]) == 1


def test_one_write_per_save_and_none_for_a_refused_one(plan: DialPlanStore, monkeypatch: pytest.MonkeyPatch) -> None:
    writes = []
    real = plan.docs.storage.write
    monkeypatch.setattr(plan.docs.storage, "write", lambda data: (writes.append(1), real(data)))
    plan.save("ringgroup", {"id": "sales", "members": ["101", "102"]})
    assert len(writes) == 1
    with pytest.raises(ValidationError):
        plan.save("ringgroup", {"id": "sales2", "members": ["101"], "no_answer": "ivr:nowhere"})
    assert len(writes) == 1


def test_list_is_by_position_then_id(plan: DialPlanStore) -> None:
    plan.save("outbound", {"id": "mobile", "patterns": ["9|8XXXXXXXXXX"], "position": 10})
    plan.save("outbound", {"id": "abroad", "patterns": ["9|810."], "position": 10})
    plan.save("outbound", {"id": "emergency", "patterns": ["112"], "position": 1})
    assert [r["id"] for r in plan.list("outbound")] == ["emergency", "abroad", "mobile", "default"]
    assert [r["id"] for r in plan.list("ivr")] == ["main"]


# (kind, object, field): each is refused with ValidationError naming `field`.
BAD = [
    ("ivr", {"id": "Main", "prompt": "welcome"}, "id"),
    ("ivr", {"prompt": "welcome"}, "id"),
    ("ivr", {"id": "x" * 33, "prompt": "welcome"}, "id"),
    ("ivr", {"id": "return", "prompt": "welcome"}, "id"),
    ("prompt", {"id": "system-mine"}, "id"),
    ("permission", {"id": "reception"}, "id"),
    ("ivr", {"id": "b", "prompt": "welcome", "colour": "red"}, "colour"),
    ("ivr", {"id": "b", "name": " ", "prompt": "welcome"}, "name"),
    ("ivr", {"id": "b", "name": "n" * 65, "prompt": "welcome"}, "name"),
    ("prompt", {"id": "p", "language": "de"}, "language"),
    ("prompt", {"id": "p", "text": 5}, "text"),
    ("prompt", {"id": "p", "system": True}, "system"),
    ("ivr", {"id": "b"}, "prompt"),
    ("ivr", {"id": "b", "prompt": "welcome", "keys": ["1"]}, "keys"),
    ("ivr", {"id": "b", "prompt": "welcome", "keys": {"a": "hangup"}}, "keys.a"),
    ("ivr", {"id": "b", "prompt": "welcome", "keys": {"1": "sales"}}, "keys.1"),
    ("ivr", {"id": "b", "prompt": "welcome", "keys": {"#": "queue:support"}}, "keys.#"),
    ("ivr", {"id": "b", "prompt": "welcome", "keys": {"2": "extension:1"}}, "keys.2"),
    ("ivr", {"id": "b", "prompt": "welcome", "first_digit_timeout": 0}, "first_digit_timeout"),
    ("ivr", {"id": "b", "prompt": "welcome", "inter_digit_timeout": "2"}, "inter_digit_timeout"),
    ("ivr", {"id": "b", "prompt": "welcome", "retries": True}, "retries"),
    ("ivr", {"id": "b", "prompt": "welcome", "retries": 0}, "retries"),
    ("ivr", {"id": "b", "prompt": "welcome", "direct_dial": "yes"}, "direct_dial"),
    ("ivr", {"id": "b", "prompt": "welcome", "invalid_destination": "ivr:return"}, "invalid_destination"),
    ("ivr", {"id": "b", "prompt": "welcome", "invalid_prompt": "Bad Prompt"}, "invalid_prompt"),
    ("ivr", {"id": "b", "prompt": "welcome", "number": "1"}, "number"),
    ("ivr", {"id": "b", "prompt": "welcome", "number": "1234567"}, "number"),
    ("ringgroup", {"id": "g", "members": ["101"], "strategy": "all"}, "strategy"),
    ("ringgroup", {"id": "g"}, "members"),
    ("ringgroup", {"id": "g", "members": []}, "members"),
    ("ringgroup", {"id": "g", "members": ["1"]}, "members.0"),
    ("ringgroup", {"id": "g", "members": ["101", "101"]}, "members.1"),
    ("ringgroup", {"id": "g", "members": ["101"], "ring_time": 2}, "ring_time"),
    ("ringgroup", {"id": "g", "members": ["101"], "ring_time": 30, "total_time": 20}, "total_time"),
    ("ringgroup", {"id": "g", "members": ["101"], "name_prefix": "p" * 17}, "name_prefix"),
    ("ringgroup", {"id": "g", "members": ["101"], "no_answer": "voicemail:101"}, "no_answer"),
    ("timecondition", {"id": "t", "unmatched": "hangup"}, "matched"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup",
                       "schedule": [{"days": "mon-fry"}]}, "schedule.0.days"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup",
                       "schedule": [{"days": "mon", "from": "18:00", "to": "18:00"}]}, "schedule.0.to"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup", "holidays": ["2026-13-01"]},
     "holidays.0"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup", "timezone": "Moscow"}, "timezone"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup", "timezone": 3}, "timezone"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup", "override": "yes"}, "override"),
    ("timecondition", {"id": "t", "matched": "hangup", "unmatched": "hangup", "feature_code": "27"},
     "feature_code"),
    ("announcement", {"id": "a", "prompt": ""}, "prompt"),
    ("announcement", {"id": "a", "prompt": "welcome", "then": "bogus"}, "then"),
    ("inbound", {"id": "r", "trunk": "GSM 1", "caller": "number", "value": "+79161234567",
                 "destination": "hangup"}, "trunk"),
    ("inbound", {"id": "r", "caller": "vip", "destination": "hangup"}, "caller"),
    ("inbound", {"id": "r", "trunk": "gsm1", "caller": "any", "value": "+7916", "destination": "hangup"}, "value"),
    ("inbound", {"id": "r", "caller": "number", "value": "boss", "destination": "hangup"}, "value"),
    ("inbound", {"id": "r", "caller": "prefix", "value": "", "destination": "hangup"}, "value"),
    ("inbound", {"id": "r", "caller": "list", "value": [], "destination": "hangup"}, "value"),
    ("inbound", {"id": "r", "caller": "list", "value": ["+79161234567", "x"], "destination": "hangup"}, "value.1"),
    ("inbound", {"id": "r", "caller": "anonymous"}, "destination"),
    ("inbound", {"id": "r", "caller": "anonymous", "destination": "hangup", "position": -1}, "position"),
    ("inbound", {"id": "r", "caller": "anonymous", "destination": "hangup", "position": "1"}, "position"),
    ("outbound", {"id": "o", "patterns": []}, "patterns"),
    ("outbound", {"id": "o", "patterns": ["9|.", "9|8XXXA"]}, "patterns.1"),
    ("outbound", {"id": "o", "patterns": "9|."}, "patterns"),
    ("outbound", {"id": "o", "patterns": ["9|."], "prepend": "x"}, "prepend"),
    ("outbound", {"id": "o", "patterns": ["9|."], "trunks": ["GSM"]}, "trunks.0"),
    ("outbound", {"id": "o", "patterns": ["9|."], "trunks": ["gsm1", "gsm1"]}, "trunks.1"),
    ("permission", {"id": "101", "allow": ["abroad"]}, "allow.0"),
    ("permission", {"id": "101", "allow": "national"}, "allow"),
    # The whole plan: references, numbers, routes, loops.
    ("ivr", {"id": "b", "prompt": "welcome", "timeout_destination": "ivr:nowhere"}, "timeout_destination"),
    ("ivr", {"id": "b", "prompt": "missing"}, "prompt"),
    ("ivr", {"id": "b", "prompt": "welcome", "timeout_prompt": "missing"}, "timeout_prompt"),
    ("ivr", {"id": "b", "prompt": "welcome", "keys": {"5": "timecondition:hours"}}, "keys.5"),
    ("inbound", {"id": "r", "caller": "anonymous", "destination": "announcement:closed"}, "destination"),
    ("ringgroup", {"id": "g", "members": ["101"], "number": "500"}, "number"),
    ("announcement", {"id": "a", "prompt": "welcome", "number": "500"}, "number"),
    ("inbound", {"id": "r", "trunk": "", "caller": "any", "destination": "hangup"}, "caller"),
    ("ivr", {"id": "b", "prompt": "welcome", "timeout_destination": "ivr:b"}, "timeout_destination"),
    ("ringgroup", {"id": "g", "members": ["101"], "no_answer": "ringgroup:g"}, "no_answer"),
    ("ivr", {"id": "main", "prompt": "welcome", "invalid_destination": "ivr:main"}, "invalid_destination"),
    # Outside the plan: extensions and lines that do not exist.
    ("ivr", {"id": "b", "prompt": "welcome", "keys": {"1": "extension:199"}}, "keys.1"),
    ("ringgroup", {"id": "g", "members": ["101", "199"]}, "members.1"),
    ("ringgroup", {"id": "g", "members": ["101"], "number": "102"}, "number"),
    ("inbound", {"id": "r", "caller": "anonymous", "destination": "extension:199"}, "destination"),
    ("permission", {"id": "199"}, "id"),
    ("inbound", {"id": "r", "trunk": "gsm9", "caller": "any", "destination": "hangup"}, "trunk"),
    ("outbound", {"id": "o", "patterns": ["9|."], "trunks": ["gsm1", "fxo1"]}, "trunks.1"),
]


@pytest.mark.parametrize("kind, obj, field", BAD, ids=[f"{k}-{f}-{i}" for i, (k, _, f) in enumerate(BAD)])
def test_refused_saves_name_the_field_and_write_nothing(plan: DialPlanStore, kind: str, obj: dict,
                                                        field: str) -> None:
    before, existing = file_bytes(plan), plan.get(kind, obj.get("id", ""))
    with pytest.raises(ValidationError) as err:
        plan.save(kind, obj)
    assert err.value.details["field"] == field, err.value.message
    assert file_bytes(plan) == before, "a refused save must leave the file as it was"
    assert plan.get(kind, obj.get("id", "")) == existing


def test_unknown_kind_and_not_an_object(plan: DialPlanStore) -> None:
    for call in (lambda: plan.save("queue", {"id": "q"}), lambda: plan.list("queue"),
                 lambda: plan.get("queue", "q"), lambda: plan.delete("queue", "q")):
        with pytest.raises(ValidationError) as err:
            call()
        assert err.value.details["field"] == "kind"
    with pytest.raises(ValidationError):
        plan.save("ivr", ["main"])  # type: ignore[arg-type]


def test_plan_problems_name_the_object_and_what_is_in_the_way(plan: DialPlanStore) -> None:
    with pytest.raises(ValidationError) as err:
        plan.save("ringgroup", {"id": "g", "members": ["101"], "number": "500"})
    assert err.value.details == {"field": "number", "object": "ringgroup:g", "conflicts_with": "ivr:main"}
    assert "500" in err.value.message and "ivr:main" in err.value.message


def test_only_one_any_route_per_trunk(plan: DialPlanStore) -> None:
    plan.save("inbound", {"id": "gsm1-all", "trunk": "gsm1", "caller": "any", "destination": "ivr:main"})
    plan.save("inbound", {"id": "vip", "trunk": "gsm1", "caller": "list", "value": ["+79161234567"],
                          "destination": "extension:101", "position": 5})
    with pytest.raises(ValidationError) as err:
        plan.save("inbound", {"id": "gsm1-other", "trunk": "gsm1", "caller": "any", "destination": "hangup"})
    assert err.value.details["conflicts_with"] == "inbound:gsm1-all"
    plan.save("inbound", {"id": "gsm1-all", "trunk": "gsm1", "caller": "any", "destination": "hangup"})  # itself


def test_feature_codes_are_unique(plan: DialPlanStore) -> None:
    plan.save("timecondition", {"id": "hours", "matched": "ivr:main", "unmatched": "hangup", "feature_code": "*27"})
    with pytest.raises(ValidationError) as err:
        plan.save("timecondition", {"id": "lunch", "matched": "hangup", "unmatched": "hangup",
                                    "feature_code": "*27"})
    assert err.value.details["field"] == "feature_code"


def test_loops_without_a_way_out_are_refused_but_keys_may_go_back(plan: DialPlanStore) -> None:
    plan.save("ivr", {"id": "sub", "prompt": "welcome", "keys": {"9": "ivr:main", "*": "ivr:return"}})
    plan.save("ivr", {"id": "main", "prompt": "welcome", "keys": {"1": "ivr:sub"}})  # keys both ways: fine
    plan.save("ivr", {"id": "sub", "prompt": "welcome", "timeout_destination": "ivr:main"})
    with pytest.raises(ValidationError) as err:
        plan.save("ivr", {"id": "main", "prompt": "welcome", "timeout_destination": "ivr:sub"})
    assert err.value.details["field"] == "timeout_destination"
    assert err.value.details["cycle"] == ["ivr:main", "ivr:sub", "ivr:main"]
    # Through a time condition and an announcement: either outcome counts.
    plan.save("announcement", {"id": "closed", "prompt": "system-closed-en"})
    plan.save("timecondition", {"id": "hours", "matched": "ivr:main", "unmatched": "announcement:closed"})
    with pytest.raises(ValidationError) as err:
        plan.save("announcement", {"id": "closed", "prompt": "system-closed-en", "then": "timecondition:hours"})
    assert err.value.details["cycle"] == ["announcement:closed", "timecondition:hours", "announcement:closed"]
    # A ring group nobody answers, back to the menu that leads to it by timeout.
    plan.save("ringgroup", {"id": "sales", "members": ["101"], "no_answer": "ivr:main"})
    with pytest.raises(ValidationError) as err:
        plan.save("ivr", {"id": "main", "prompt": "welcome", "invalid_destination": "ringgroup:sales"})
    assert err.value.details == {"field": "invalid_destination", "object": "ivr:main",
                                 "cycle": ["ivr:main", "ringgroup:sales", "ivr:main"]}


def test_a_long_chain_is_checked_without_recursion() -> None:
    chain = {f"a{i}": {"id": f"a{i}", "prompt": "p", "then": f"announcement:a{i - 1}" if i else "hangup"}
             for i in range(5000)}
    plan = {"prompt": {"p": {"id": "p"}}, "announcement": chain}
    checks.validate_plan(plan, "announcement:a0")
    chain["a0"]["then"] = "announcement:a4999"
    with pytest.raises(ValidationError) as err:
        checks.validate_plan(plan, "announcement:a0")
    assert len(err.value.details["cycle"]) == 5001 and err.value.details["field"] == "then"


def test_delete(plan: DialPlanStore) -> None:
    with pytest.raises(NotFound):
        plan.delete("ivr", "nope")
    before = file_bytes(plan)
    with pytest.raises(Conflict) as err:
        plan.delete("ringgroup", "everyone")
    assert err.value.details["referrers"] == ["inbound:default", "ivr:main"]
    assert file_bytes(plan) == before
    plan.save("announcement", {"id": "closed", "prompt": "welcome"})
    before = file_bytes(plan)
    with pytest.raises(Conflict) as err:
        plan.delete("prompt", "welcome")
    assert err.value.details["referrers"] == ["announcement:closed", "ivr:main"]
    assert file_bytes(plan) == before and plan.get("prompt", "welcome") is not None
    plan.save("inbound", {"id": "default", "caller": "any", "destination": "ivr:main", "position": 1000})
    plan.save("ivr", {"id": "main", "prompt": "welcome", "keys": {"1": "extension:101"}})
    plan.delete("ringgroup", "everyone")
    assert plan.get("ringgroup", "everyone") is None
    assert "everyone" not in plan.docs.path.read_text()
    plan.delete("announcement", "closed")
    with pytest.raises(Conflict) as err:
        plan.delete("prompt", "welcome")
    assert err.value.details["referrers"] == ["ivr:main"]


def test_extensions_deleted_later_do_not_block_other_saves(tmp_path: Path) -> None:
    exts = ExtensionStore(tmp_path)
    exts.add("101", "Reception", PASSWORD)
    plan = DialPlanStore(tmp_path, extensions=exts)
    plan.save("ringgroup", {"id": "desk", "members": ["101"]})
    exts.delete("101")
    plan.save("ringgroup", {"id": "other", "members": ["*"]})  # the plan as a whole is still fine
    with pytest.raises(ValidationError):
        plan.save("ringgroup", {"id": "desk", "members": ["101"], "ring_time": 30})  # but not this one


def test_a_second_store_on_the_same_directory_sees_saves(tmp_path: Path) -> None:
    web = DialPlanStore(tmp_path)
    core = DialPlanStore(tmp_path)
    snap = core.snapshot()
    assert not core.changed()
    web.save("prompt", {"id": "welcome", "text": "Hello"})
    web.save("ivr", {"id": "main", "prompt": "welcome", "number": "500"})
    assert core.changed()
    assert core.get("ivr", "main")["number"] == "500"  # type: ignore[index]
    assert snap.by_number("500") is None, "a snapshot taken before stays as it was"
    assert core.snapshot().by_number("500") == "ivr:main" and not core.changed()
    core.delete("ivr", "main")
    assert web.get("ivr", "main") is None


def test_another_process_saves_and_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = DialPlanStore(tmp_path)
    core_view = store.snapshot()
    script = ("import sys; from pbx.dialplan.store import DialPlanStore\n"
              "s = DialPlanStore(sys.argv[1])\n"
              "for i in range(8): s.save('prompt', {'id': sys.argv[2] + str(i), 'text': 'x'})\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), who], cwd=ROOT, env=env)
             for who in ("a", "b")]
    for i in range(8):
        store.save("prompt", {"id": f"c{i}", "text": "y"})
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    ids = {p["id"] for p in store.list("prompt")}
    assert {f"{who}{i}" for who in "abc" for i in range(8)} <= ids
    assert store.changed() and core_view.get("prompt", "a0") is None
    assert store.snapshot().get("prompt", "b7") is not None
