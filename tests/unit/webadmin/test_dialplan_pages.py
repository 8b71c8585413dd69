"""The dial plan pages with Flask's test client: login and CSRF on every one, destination
selects, a refused form shown again with its field marked and nothing saved, the IVR
tree with its loops, the override buttons, prompts spoken, uploaded and previewed."""
from __future__ import annotations

import io
import re

import pytest

from tests.support.plan import ivr, ring_group, tone_wav
from tests.unit.webadmin.conftest import csrf
from webadmin.dialplan_forms import from_form, to_form
from webadmin.dialplan_pages import SECTIONS


def marked_inputs(page: str) -> list[str]:
    """The names of the inputs and selects a page marks as wrong."""
    return re.findall(r'<(?:input|select|textarea)[^>]* name="([^"]+)"[^>]*class="error"', page)


def test_every_page_needs_the_login_and_every_form_a_csrf_token(plan) -> None:
    anonymous = plan.app.test_client()
    for section in SECTIONS:
        resp = anonymous.get(f"/{section}")
        assert resp.status_code == 302 and "/login" in resp.location
        assert anonymous.post(f"/{section}/{SECTIONS[section][0]}").status_code in (302, 400)
    owner = plan.owner()
    for section in SECTIONS:
        page = owner.get(f"/{section}").get_data(as_text=True)
        forms = page.count("<form")
        assert forms and page.count('name="csrf_token"') == forms, section
        assert f'href="/{section}"' in page  # in the menu
    before = plan.plan_file()
    assert owner.post("/ringgroups/ringgroup", data=to_form("ringgroup", ring_group())).status_code == 400
    assert plan.plan_file() == before


def test_a_refused_ring_group_form_comes_back_marked_and_saves_nothing(plan) -> None:
    owner = plan.owner()
    token = csrf(owner, "/ringgroups")
    before = plan.plan_file()
    form = {**to_form("ringgroup", ring_group()), "original": "", "ring_time": "soon", "csrf_token": token}
    resp = owner.post("/ringgroups/ringgroup", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "ring_time" in page and marked_inputs(page) == ["ring_time"]
    assert 'value="Sales: "' in page  # the rest as typed
    form["ring_time"], form["no_answer"] = "15", "ivr:nowhere"
    page = owner.post("/ringgroups/ringgroup", data=form).get_data(as_text=True)
    assert "no_answer" in page and marked_inputs(page) == ["no_answer"]
    assert plan.plan_file() == before and plan.services.dialplan.get("ringgroup", "sales") is None

    form["no_answer"] = "extension:101"
    resp = owner.post("/ringgroups/ringgroup", data=form)
    assert resp.status_code == 302
    assert plan.services.dialplan.get("ringgroup", "sales")["members"] == ["101", "102"]
    page = owner.get("/ringgroups").get_data(as_text=True)
    assert "Ring group sales saved" in page and "hunt" in page
    # editing: the form is filled in, the id cannot change
    page = owner.get("/ringgroups?edit=ringgroup:sales").get_data(as_text=True)
    assert re.search(r'name="id" value="sales"[^>]* readonly', page) and 'value="101, 102"' in page
    resp = owner.post("/ringgroups/ringgroup", data={**form, "original": "sales", "strategy": "ringall"})
    assert resp.status_code == 302 and plan.services.dialplan.get("ringgroup", "sales")["strategy"] == "ringall"
    # a second "new" one with the same id does not replace it
    page = owner.post("/ringgroups/ringgroup", data={**form, "name": "Other"}).get_data(as_text=True)
    assert "exists already" in page and plan.services.dialplan.get("ringgroup", "sales")["name"] == "Sales"


def test_destination_selects_offer_every_destination_and_hangup(plan) -> None:
    plan.services.dialplan.save("ringgroup", ring_group())
    page = plan.owner().get("/ringgroups").get_data(as_text=True)
    select = page[page.index('<select name="no_answer"'):]
    select = select[:select.index("</select>")]
    values = re.findall(r'<option value="([^"]*)"', select)
    assert {"extension:101", "extension:102", "ringgroup:sales", "ringgroup:everyone", "hangup"} <= set(values)
    assert "extension:101 (Alice)" in select and "ringgroup:sales (Sales, 600)" in select


def test_the_ivr_page_shows_keys_as_a_tree_and_marks_loops(plan) -> None:
    store = plan.services.dialplan
    store.save("ringgroup", ring_group())
    store.save("ivr", ivr("sub", name="Sub menu", keys={"1": "extension:101"}))
    store.save("ivr", ivr(keys={"1": "ringgroup:sales", "2": "ivr:sub", "0": "extension:102"}))
    store.save("ivr", ivr("sub", name="Sub menu", keys={"1": "extension:101", "9": "ivr:main"}))
    page = plan.owner().get("/ivrs").get_data(as_text=True)
    tree = page[page.index('id="tree-main"'):]
    tree = tree[:tree.index("</td>")]
    text = " ".join(re.sub(r"<[^>]+>", " ", tree).split())
    assert re.search(r"2 → ivr:sub \(Sub menu\) 1 → extension:101", text), text  # nested
    assert "loop back to ivr:main" in text and tree.count("<ul") == 1
    assert text.index("1 → ringgroup") < text.index("2 →") < text.index("0 → extension:102")  # keypad order


def test_an_ivr_by_form_with_its_key_table(plan) -> None:
    plan.services.dialplan.save("ringgroup", ring_group())
    owner = plan.owner()
    page = owner.get("/ivrs").get_data(as_text=True)
    assert all(f'name="keys.{k}"' in page for k in "0123456789*#")
    form = {**to_form("ivr", ivr()), "original": "", "keys.#": "ivr:nowhere", "csrf_token": csrf(owner, "/ivrs")}
    resp = owner.post("/ivrs/ivr", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and marked_inputs(page) == ["keys.#"] and "keys.#" in page
    assert plan.services.dialplan.get("ivr", "main") is None
    form["keys.#"] = "ivr:repeat"
    assert owner.post("/ivrs/ivr", data=form).status_code == 302
    assert plan.services.dialplan.get("ivr", "main")["keys"] == {"1": "ringgroup:sales", "#": "ivr:repeat"}


def test_time_condition_schedule_rows_and_override_buttons(plan) -> None:
    owner = plan.owner()
    token = csrf(owner, "/timeconditions")
    form = {"original": "", "id": "hours", "name": "Office hours", "timezone": "", "schedule.0.days": "mon-fri",
            "schedule.0.from": "09:00", "schedule.0.to": "18:00", "schedule.1.days": "sat",
            "schedule.1.from": "10", "schedule.1.to": "14:00", "holidays": "2026-12-31, 2027-01-01..2027-01-08",
            "matched": "extension:101", "unmatched": "hangup", "csrf_token": token}
    page = owner.post("/timeconditions/timecondition", data=form).get_data(as_text=True)
    assert marked_inputs(page) == ["schedule.1.from"] and plan.services.dialplan.get("timecondition", "hours") is None
    form["schedule.1.from"] = "10:00"
    assert owner.post("/timeconditions/timecondition", data=form).status_code == 302
    saved = plan.services.dialplan.get("timecondition", "hours")
    assert saved["schedule"][1] == {"days": "sat", "from": "10:00", "to": "14:00"}
    assert saved["holidays"] == ["2026-12-31", "2027-01-01..2027-01-08"]
    owner.post("/timeconditions/hours/override", data={"override": "matched", "csrf_token": token})
    assert plan.services.dialplan.get("timecondition", "hours")["override"] == "matched"
    page = owner.get("/timeconditions").get_data(as_text=True)
    assert re.search(r'id="override-hours-matched"\s*disabled', page)
    # saving the form again keeps the override (the form has no input for it)
    assert owner.post("/timeconditions/timecondition", data={**form, "original": "hours"}).status_code == 302
    assert plan.services.dialplan.get("timecondition", "hours")["override"] == "matched"


def test_routes_page_edits_the_default_inbound_route(plan) -> None:
    plan.services.dialplan.save("ringgroup", ring_group())
    owner = plan.owner()
    page = owner.get("/routes?edit=inbound:default").get_data(as_text=True)
    assert "Edit inbound route default" in page and 'value="ringgroup:everyone" selected' in page
    form = {**to_form("inbound", plan.services.dialplan.get("inbound", "default")),
            "destination": "ringgroup:sales", "csrf_token": csrf(owner, "/routes")}
    assert owner.post("/routes/inbound", data=form).status_code == 302
    assert plan.services.dialplan.get("inbound", "default")["destination"] == "ringgroup:sales"
    assert owner.post("/routes/ivr", data=form).status_code == 404  # not a kind of this page


def test_deleting_from_a_page_names_who_refers(plan) -> None:
    store = plan.services.dialplan
    store.save("ringgroup", ring_group())
    store.save("ivr", ivr())
    owner = plan.owner()
    token = csrf(owner, "/ringgroups")
    owner.post("/ringgroups/ringgroup/sales/delete", data={"csrf_token": token})
    assert "ivr:main" in owner.get("/ringgroups").get_data(as_text=True)
    assert store.get("ringgroup", "sales") is not None


def test_prompts_spoken_uploaded_and_previewed(prompts) -> None:
    owner = prompts.owner()
    token = csrf(owner, "/prompts")
    resp = owner.post("/prompts/prompt", data={"original": "", "id": "welcome", "name": "Welcome",
                                              "language": "en", "text": "Welcome to the office", "csrf_token": token})
    assert resp.status_code == 302
    page = owner.get("/prompts").get_data(as_text=True)
    assert '<audio controls preload="none" src="/prompts/welcome/audio">' in page
    audio = owner.get("/prompts/welcome/audio")
    assert audio.mimetype == "audio/wav" and audio.data[:4] == b"RIFF"

    before = prompts.plan_file()
    resp = owner.post("/prompts/upload", content_type="multipart/form-data", data={
        "id": "hold", "name": "Hold", "language": "en", "csrf_token": token,
        "file": (io.BytesIO(b"just some text, no sound"), "notes.txt")})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and marked_inputs(page) == ["file"] and "file" in page
    assert prompts.plan_file() == before and prompts.services.dialplan.get("prompt", "hold") is None
    resp = owner.post("/prompts/upload", content_type="multipart/form-data", data={
        "id": "hold", "name": "Hold", "language": "en", "csrf_token": token,
        "file": (io.BytesIO(tone_wav(1.0)), "tone.wav")})
    assert resp.status_code == 302 and prompts.services.prompts.duration("hold") == pytest.approx(1.0, abs=0.1)
    assert 'src="/prompts/hold/audio"' in owner.get("/prompts").get_data(as_text=True)


def test_forms_round_trip_every_field() -> None:
    from werkzeug.datastructures import MultiDict

    objs = {"ringgroup": {**ring_group(), "recording": "always", "recording_force": True},
            "ivr": {**ivr(), "direct_dial": True, "retries": 2, "first_digit_timeout": 4.5, "invalid_prompt": "x",
                    "timeout_prompt": "", "invalid_destination": "hangup"},
            "inbound": {"id": "vip", "name": "VIP", "trunk": "gsm1", "caller": "list", "value": ["+7916", "+7903"],
                        "destination": "ivr:main", "position": 5, "recording": "never", "recording_force": False},
            "permission": {"id": "101", "allow": ["internal", "international"], "recording": "on_demand"}}
    for kind, obj in objs.items():
        form = MultiDict()
        for name, value in to_form(kind, obj).items():
            for v in value if isinstance(value, list) else [value]:
                form.add(name, v)
        assert from_form(kind, form) == obj, kind


def test_the_dashboard_shows_business_hours_and_flips_the_override(plan) -> None:
    import datetime as dt

    today = dt.date.today().isoformat()
    plan.services.dialplan.save("timecondition", {
        "id": "hours", "name": "Office hours", "schedule": [{"days": "mon-sun"}], "holidays": [today],
        "matched": "ringgroup:everyone", "unmatched": "hangup", "feature_code": "*27"})
    owner = plan.owner()
    page = owner.get("/").get_data(as_text=True)
    row = re.search(r'<tr class="hours-(\w+)"><td>Office hours</td>\s*<td>(\w+)</td><td>([^<]+)</td>', page)
    assert row and row.groups() == ("unmatched", "closed", "hangup"), page  # a holiday: closed
    assert "or dial *27" in page
    resp = owner.post("/timeconditions/hours/override",
                      data={"override": "matched", "back": "dashboard", "csrf_token": csrf(owner, "/")})
    assert resp.status_code == 302 and resp.location.endswith("/")
    page = owner.get("/").get_data(as_text=True)
    assert 'class="hours-matched"' in page and "forced matched" in page and "ringgroup:everyone" in page
    assert plan.services.dialplan.get("timecondition", "hours")["override"] == "matched"
