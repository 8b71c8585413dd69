"""The dial plan over the REST bridge: every kind's collection, errors that name the field
(and leave the store file as it was), deletes refused while referred to, prompts with
their audio, and the time condition override."""
from __future__ import annotations

import pytest

from tests.support.plan import ivr, ring_group, tone_wav
from webadmin.dialplan_api import COLLECTIONS


def test_create_list_read_replace_delete(plan) -> None:
    client, auth = plan.app.test_client(), plan.auth
    resp = client.post("/api/v1/ringgroups", json=ring_group(), headers=auth)
    assert resp.status_code == 201 and resp.get_json()["members"] == ["101", "102"]
    listed = client.get("/api/v1/ringgroups", headers=auth).get_json()
    assert "sales" in [g["id"] for g in listed] and "everyone" in [g["id"] for g in listed]  # the default too
    assert client.get("/api/v1/ringgroups/sales", headers=auth).get_json()["strategy"] == "hunt"
    assert client.post("/api/v1/ringgroups", json=ring_group(), headers=auth).status_code == 409
    resp = client.put("/api/v1/ringgroups/sales", json=ring_group(strategy="ringall"), headers=auth)
    assert resp.status_code == 200 and plan.services.dialplan.get("ringgroup", "sales")["strategy"] == "ringall"
    assert client.put("/api/v1/ringgroups/nope", json=ring_group("nope"), headers=auth).status_code == 404
    resp = client.put("/api/v1/ringgroups/sales", json=ring_group("other"), headers=auth)
    assert resp.status_code == 400 and resp.get_json()["details"]["field"] == "id"
    assert client.delete("/api/v1/ringgroups/sales", headers=auth).status_code == 204
    assert client.get("/api/v1/ringgroups/sales", headers=auth).status_code == 404
    assert client.delete("/api/v1/ringgroups/sales", headers=auth).status_code == 404


def test_every_collection_lists_and_needs_a_token(plan) -> None:
    client = plan.app.test_client()
    for collection in COLLECTIONS:
        assert client.get(f"/api/v1/{collection}").status_code == 401
        resp = client.get(f"/api/v1/{collection}", headers=plan.auth)
        assert resp.status_code == 200 and isinstance(resp.get_json(), list), collection
    assert [r["id"] for r in client.get("/api/v1/routes/inbound", headers=plan.auth).get_json()] == ["default"]
    assert [r["id"] for r in client.get("/api/v1/routes/outbound", headers=plan.auth).get_json()] == ["default"]


@pytest.mark.parametrize("body, field", [
    (ivr(keys={"2": "ivr:nowhere"}), "keys.2"),
    (ivr(prompt="no-such-prompt"), "prompt"),
    (ivr(timeout_destination="ringgroup:nope"), "timeout_destination"),
    (ivr(id="Not An Id"), "id"),
])
def test_bad_input_names_the_field_and_saves_nothing(plan, body, field) -> None:
    client = plan.app.test_client()
    assert client.post("/api/v1/ringgroups", json=ring_group(), headers=plan.auth).status_code == 201
    before = plan.plan_file()
    resp = client.post("/api/v1/ivrs", json=body, headers=plan.auth)
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()
    assert error["error_id"] == "invalid" and error["details"]["field"] == field, error
    assert plan.plan_file() == before
    resp = client.post("/api/v1/ivrs", data="not json", headers={**plan.auth, "Content-Type": "application/json"})
    assert resp.status_code == 400 and plan.plan_file() == before


def test_delete_of_a_destination_in_use_is_refused_naming_who_uses_it(plan) -> None:
    client, auth = plan.app.test_client(), plan.auth
    client.post("/api/v1/ringgroups", json=ring_group(), headers=auth)
    assert client.post("/api/v1/ivrs", json=ivr(), headers=auth).status_code == 201
    before = plan.plan_file()
    resp = client.delete("/api/v1/ringgroups/sales", headers=auth)
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["error_id"] == "conflict" and "ivr:main" in resp.get_json()["details"]["referrers"]
    assert plan.plan_file() == before
    assert client.delete("/api/v1/ivrs/main", headers=auth).status_code == 204
    assert client.delete("/api/v1/ringgroups/sales", headers=auth).status_code == 204


def test_a_spoken_prompt_and_an_uploaded_one(prompts) -> None:
    client, auth = prompts.app.test_client(), prompts.auth
    resp = client.post("/api/v1/prompts", headers=auth,
                       json={"id": "welcome", "name": "Welcome", "language": "ru", "text": "Добрый день"})
    assert resp.status_code == 201, resp.get_json()
    audio = client.get("/api/v1/prompts/welcome/audio", headers=auth)
    assert audio.status_code == 200 and audio.mimetype == "audio/wav" and audio.data[:4] == b"RIFF"
    assert prompts.services.prompts.duration("welcome") > 0.3

    client.post("/api/v1/prompts", json={"id": "hold", "name": "Hold music", "language": "en"}, headers=auth)
    assert client.get("/api/v1/prompts/hold/audio", headers=auth).status_code == 404  # nothing uploaded yet
    resp = client.put("/api/v1/prompts/hold/audio?filename=tone.wav", data=tone_wav(1.0), headers=auth)
    assert resp.status_code == 200, resp.get_json()
    assert client.get("/api/v1/prompts/hold/audio", headers=auth).data[:4] == b"RIFF"
    resp = client.put("/api/v1/prompts/hold/audio", headers=auth, content_type="multipart/form-data",
                      data={"file": (__import__("io").BytesIO(tone_wav(0.5)), "short.wav")})
    assert resp.status_code == 200
    assert 0.3 < prompts.services.prompts.duration("hold") < 0.8
    assert client.put("/api/v1/prompts/nope/audio", data=tone_wav(), headers=auth).status_code == 404

    # a recording replaces the speech: the text goes, and a rename does not speak it again
    resp = client.put("/api/v1/prompts/welcome/audio?filename=tone.wav", data=tone_wav(3.0), headers=auth)
    assert resp.status_code == 200 and resp.get_json()["text"] == ""
    renamed = {**client.get("/api/v1/prompts/welcome", headers=auth).get_json(), "name": "Greeting"}
    assert client.put("/api/v1/prompts/welcome", json=renamed, headers=auth).status_code == 200
    assert prompts.services.prompts.duration("welcome") == pytest.approx(3.0, abs=0.05)
    # new words are spoken
    resp = client.put("/api/v1/prompts/welcome", json={**renamed, "text": "Hello"}, headers=auth)
    assert resp.status_code == 200 and prompts.services.prompts.duration("welcome") < 2.5


def test_uploading_what_is_no_audio_is_refused_on_the_file_field(prompts, monkeypatch) -> None:
    client, auth = prompts.app.test_client(), prompts.auth
    client.post("/api/v1/prompts", json={"id": "hold", "name": "Hold music", "language": "en"}, headers=auth)
    before = prompts.plan_file()
    for body in (b"%PDF-1.4 not a recording at all", b""):
        resp = client.put("/api/v1/prompts/hold/audio?filename=notes.pdf", data=body, headers=auth)
        assert resp.status_code == 400 and resp.get_json()["details"]["field"] == "file", resp.get_json()
    monkeypatch.setattr("pbx.planedit.MAX_UPLOAD", 1000)
    resp = client.put("/api/v1/prompts/hold/audio?filename=tone.wav", data=tone_wav(), headers=auth)
    assert resp.status_code == 400 and "larger than" in resp.get_json()["message"]
    assert prompts.plan_file() == before
    assert not (prompts.data / "prompts" / "hold.wav").exists()


def test_the_override_of_a_time_condition(plan) -> None:
    client, auth = plan.app.test_client(), plan.auth
    hours = {"id": "hours", "name": "Office hours", "schedule": [{"days": "mon-fri", "from": "09:00", "to": "18:00"}],
             "holidays": ["2026-12-31"], "matched": "extension:101", "unmatched": "hangup"}
    assert client.post("/api/v1/timeconditions", json=hours, headers=auth).status_code == 201
    resp = client.post("/api/v1/timeconditions/hours/override", json={"override": "unmatched"}, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["override"] == "unmatched"
    assert plan.services.dialplan.get("timecondition", "hours")["override"] == "unmatched"
    resp = client.post("/api/v1/timeconditions/hours/override", json={"override": "closed"}, headers=auth)
    assert resp.status_code == 400 and resp.get_json()["details"]["field"] == "override"
    assert client.post("/api/v1/timeconditions/hours/override", json={"override": ""}, headers=auth).status_code == 200
    assert plan.services.dialplan.get("timecondition", "hours")["override"] == ""
    assert client.post("/api/v1/timeconditions/nope/override", json={"override": ""}, headers=auth).status_code == 404


def test_without_the_dial_plan_store_the_bridge_says_so(plan) -> None:
    plan.services.dialplan = None
    resp = plan.app.test_client().get("/api/v1/ivrs", headers=plan.auth)
    assert resp.status_code == 503 and "not installed" in resp.get_json()["message"]
