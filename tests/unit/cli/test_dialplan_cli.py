"""`pbx ivr|ringgroup|timecondition|prompt|route|permission ...` against a data directory:
set by options and by JSON, errors naming the field with exit 2 and the store file as it
was, deletes refused while referred to, prompts spoken and uploaded, the override."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pbx.cli import main
from pbx.services import open_services
from tests.support.plan import tone_wav


@pytest.fixture
def pbx(tmp_path: Path, capsys):
    """Run `pbx ARGS --data tmp`; returns (exit code, stdout, stderr)."""
    pytest.importorskip("pbx.dialplan.store")
    data = tmp_path / "data"
    services = open_services(data)
    services.extensions.add("101", "Alice", "amber-Falcon-42")
    services.extensions.add("102", "Bob", "quiet-Harbor-77")
    services.close()

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--data", str(data)])
        out, err = capsys.readouterr()
        return code, out, err
    run.plan_file = lambda: (data / "dialplan.json").read_bytes()  # type: ignore[attr-defined]
    return run


def test_ring_group_by_options_then_changed_by_json(pbx) -> None:
    code, out, _ = pbx("ringgroup", "set", "sales", "--name", "Sales", "--strategy", "hunt",
                       "--members", "101,102", "--number", "600")
    assert code == 0 and "created" in out
    code, out, _ = pbx("ringgroup", "show", "sales")
    shown = json.loads(out)
    assert (shown["strategy"], shown["members"], shown["number"]) == ("hunt", ["101", "102"], "600")
    assert pbx("ringgroup", "set", "sales", "--json", '{"ring_time": 12, "number": null}')[0] == 0
    shown = json.loads(pbx("ringgroup", "show", "sales")[1])
    assert shown["ring_time"] == 12 and not shown.get("number") and shown["strategy"] == "hunt"  # the rest stays
    code, out, _ = pbx("ringgroup", "list")
    assert code == 0 and "sales" in out and "everyone" in out and "hunt: 101, 102" in out
    assert json.loads(pbx("ringgroup", "list", "--json")[1])[-1]["id"] == "sales"


def test_errors_name_the_field_exit_2_and_change_nothing(pbx) -> None:
    pbx("ringgroup", "set", "sales", "--name", "Sales", "--members", "101")
    before = pbx.plan_file()
    code, _, err = pbx("ivr", "set", "main", "--name", "Main", "--prompt", "system-hold-en",
                       "--key", "1=ringgroup:sales", "--key", "2=ivr:nowhere")
    assert code == 2 and "keys.2" in err
    code, _, err = pbx("ringgroup", "set", "sales", "--no-answer", "ivr:nowhere")
    assert code == 2 and "no_answer" in err
    code, _, err = pbx("ringgroup", "set", "sales", "--json", "{not json")
    assert code == 2 and "--json" in err
    assert pbx.plan_file() == before
    assert pbx("ringgroup", "show", "nope")[0] == 2


def test_delete_refused_while_an_ivr_points_there(pbx) -> None:
    pbx("ringgroup", "set", "sales", "--name", "Sales", "--members", "101")
    code, _, err = pbx("ivr", "set", "main", "--name", "Main", "--prompt", "system-hold-en",
                       "--key", "1=ringgroup:sales")
    assert code == 0, err
    code, _, err = pbx("ringgroup", "delete", "sales")
    assert code == 2 and "ivr:main" in err
    assert pbx("ivr", "set", "main", "--key", "1=")[0] == 0  # KEY= takes the key away
    assert json.loads(pbx("ivr", "show", "main")[1]).get("keys", {}) == {}
    assert pbx("ringgroup", "delete", "sales")[0] == 0


def test_time_condition_schedule_and_override(pbx) -> None:
    code, _, err = pbx("timecondition", "set", "hours", "--name", "Office hours", "--schedule", "mon-fri 09:00-18:00",
                       "--schedule", "sat 10:00-14:00", "--holidays", "2026-12-31", "--matched", "extension:101",
                       "--unmatched", "hangup")
    assert code == 0, err
    assert pbx("timecondition", "override", "hours", "unmatched")[0] == 0
    shown = json.loads(pbx("timecondition", "show", "hours")[1])
    assert shown["override"] == "unmatched" and shown["schedule"][1] == {"days": "sat", "from": "10:00", "to": "14:00"}
    assert "forced unmatched" in pbx("timecondition", "list")[1]
    assert pbx("timecondition", "override", "hours", "none")[0] == 0
    assert json.loads(pbx("timecondition", "show", "hours")[1])["override"] == ""


def test_routes_and_permissions(pbx) -> None:
    code, out, _ = pbx("route", "inbound", "list")
    assert code == 0 and "default" in out and "ringgroup:everyone" in out
    code, _, err = pbx("route", "inbound", "set", "vip", "--name", "VIP", "--caller", "list",
                       "--value", "+79161234567,+79031112233", "--destination", "extension:101", "--position", "5")
    assert code == 0, err
    assert json.loads(pbx("route", "inbound", "show", "vip")[1])["value"] == ["+79161234567", "+79031112233"]
    code, _, err = pbx("route", "outbound", "set", "default", "--patterns", "9|8XXXXXXXXXX,9|+7.")
    assert code == 0, err
    assert json.loads(pbx("route", "outbound", "show", "default")[1])["patterns"] == ["9|8XXXXXXXXXX", "9|+7."]
    assert pbx("permission", "set", "101", "--allow", "internal,international")[0] == 0
    assert "internal, international" in pbx("permission", "list")[1]


def test_prompt_tts_and_upload(pbx, tmp_path: Path) -> None:
    pytest.importorskip("pbx.dialplan.prompts")
    code, out, err = pbx("prompt", "tts", "welcome", "--text", "Здравствуйте", "--lang", "ru")
    assert code == 0 and "speech made" in out, err
    assert json.loads(pbx("prompt", "show", "welcome")[1])["language"] == "ru"
    (tmp_path / "notes.txt").write_text("no sound here")
    before = pbx.plan_file()
    code, _, err = pbx("prompt", "upload", "hold", str(tmp_path / "notes.txt"))
    assert code == 2 and "file" in err and pbx.plan_file() == before
    (tmp_path / "hold.wav").write_bytes(tone_wav(1.0))
    code, out, err = pbx("prompt", "upload", "hold", str(tmp_path / "hold.wav"), "--name", "Hold")
    assert code == 0 and "1.0 s" in out, err
    assert pbx("prompt", "delete", "hold")[0] == 0
    assert pbx("prompt", "delete", "system-hold-en")[0] == 2  # the system's own stay
