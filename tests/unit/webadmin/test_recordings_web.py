"""Recordings through Flask's client on a real data directory with real audio made by
sox: the REST bridge's list, audio (Range 206 with the right bytes, 416, content types)
and delete with their scopes, the web admin's player and pages with the session and
CSRF, and the audit log of every access and every refusal."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pbx.recording.store import Recording
from pbx.store.journal import CallRecord
from tests.unit.webadmin.conftest import Plan, csrf

pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
CALLER, CALLEE = "+79161234567", "101"


def seed(plan: Plan, call_id: str, fmt: str = "ogg", status: str = "ready", seconds: float = 1.0,
         caller: str = CALLER) -> Path:
    """A recording made by sox where the store keeps it, its row, and the call record."""
    store = plan.services.recordings
    started = time.time() - 60
    path = store.wav_path(call_id, started).with_suffix(f".{fmt}")
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(path), "synth", str(seconds), "sine", "440"],
                   check=True)
    path.chmod(0o600)
    plan.services.journal.add(CallRecord(call_id, caller, CALLEE, "inbound", "gsm1", started, started + 2,
                                         started + 2 + seconds, seconds, "answered"))
    store.add(Recording(call_id, store.relative(path), fmt, status, started, duration=seconds,
                        size=path.stat().st_size, caller=caller, callee=CALLEE))
    return path


def bearer(plan: Plan, scope: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + plan.services.tokens.create(f"t-{scope}", scope)}


def actions(plan: Plan) -> list[tuple[str, str, str, bool]]:
    return [(e["action"], e["call_id"], e["who"], e["ok"]) for e in plan.services.audit.list()]


def test_the_list_needs_read_and_filters_by_number(plan: Plan) -> None:
    seed(plan, "c1")
    seed(plan, "c2", caller="+79031112233")
    client, read = plan.app.test_client(), bearer(plan, "read")
    listed = client.get("/api/v1/recordings", headers=read).get_json()
    assert {r["call_id"] for r in listed} == {"c1", "c2"}
    assert listed[0]["url"] == f"/api/v1/recordings/{listed[0]['call_id']}"
    one = client.get("/api/v1/recordings?number=8 916 123-45-67", headers=read).get_json()
    assert [r["call_id"] for r in one] == ["c1"] and one[0]["format"] == "ogg" and one[0]["status"] == "ready"
    assert client.get("/api/v1/recordings?limit=0", headers=read).status_code == 400


@pytest.mark.parametrize("fmt, mimetype", [("ogg", "audio/ogg"), ("mp3", "audio/mpeg"), ("wav", "audio/wav")])
def test_the_audio_with_its_type_and_ranges(plan: Plan, fmt: str, mimetype: str) -> None:
    if fmt == "mp3" and b"mp3" not in subprocess.run(["sox", "-h"], capture_output=True).stdout:
        pytest.skip("this sox writes no mp3")
    data = seed(plan, "c1", fmt).read_bytes()
    client, admin = plan.app.test_client(), bearer(plan, "admin")
    whole = client.get("/api/v1/recordings/c1", headers=admin)
    assert whole.status_code == 200 and whole.mimetype == mimetype and whole.data == data
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.headers["Cache-Control"] == "no-store"
    part = client.get("/api/v1/recordings/c1", headers={**admin, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = client.get("/api/v1/recordings/c1", headers={**admin, "Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == data[-50:]
    beyond = client.get("/api/v1/recordings/c1", headers={**admin, "Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416 and beyond.get_json()["error_id"] == "http_416"
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    # the three served answers are audited, the 416 is not
    assert actions(plan) == [("download", "c1", "t-admin", True)] * 3
    assert plan.services.audit.list()[0]["detail"] == f"bytes {len(data) - 50}-{len(data) - 1}/{len(data)}"


def test_too_small_a_scope_or_no_token_is_refused_and_audited(plan: Plan) -> None:
    seed(plan, "c1")
    client = plan.app.test_client()
    resp = client.get("/api/v1/recordings/c1", headers=bearer(plan, "write"))
    assert resp.status_code == 403 and resp.get_json()["details"]["needed_scope"] == "admin"
    assert client.delete("/api/v1/recordings/c1", headers=bearer(plan, "read")).status_code == 403
    assert client.get("/api/v1/recordings/c1").status_code == 401
    assert client.get("/api/v1/recordings/c1", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert client.get("/api/v1/recordings").status_code == 401
    assert actions(plan) == [("refused", "", "", False), ("refused", "c1", "", False), ("refused", "c1", "", False),
                             ("refused", "c1", "t-read", False), ("refused", "c1", "t-write", False)]
    details = [e["detail"] for e in plan.services.audit.list()]
    assert details[-1] == "GET /api/v1/recordings/c1: token scope write, needs admin"
    assert details[0] == "GET /api/v1/recordings: no valid bearer token"
    # elsewhere on the API a refusal is no recordings matter
    assert client.get("/api/v1/calls").status_code == 401 and len(plan.services.audit.list()) == 5


def test_not_ready_missing_and_deleted(plan: Plan) -> None:
    seed(plan, "busy", status="processing")
    path = seed(plan, "c1")
    client, admin = plan.app.test_client(), bearer(plan, "admin")
    resp = client.get("/api/v1/recordings/busy", headers=admin)
    assert resp.status_code == 409 and "not ready yet" in resp.get_json()["message"]
    assert client.delete("/api/v1/recordings/busy", headers=admin).status_code == 409
    assert client.get("/api/v1/recordings/nope", headers=admin).get_json()["error_id"] == "not_found"
    assert client.delete("/api/v1/recordings/c1", headers=admin).status_code == 204
    assert not path.exists() and plan.services.recordings.get("c1") is None
    assert "recording" not in plan.services.journal.get("c1").details
    assert client.get("/api/v1/recordings/c1", headers=admin).status_code == 404
    assert ("delete", "c1", "t-admin", True) in actions(plan)


def test_start_and_stop_go_to_the_daemon(plan: Plan) -> None:
    from pbx.errors import NotFound, ValidationError

    client, write = plan.app.test_client(), bearer(plan, "write")
    resp = client.post("/api/v1/calls/c9/recording", json={"action": "start"}, headers=write)
    assert resp.status_code == 503 and resp.get_json()["message"] == "the daemon is not running"
    asked = []

    def control(call_id: str, action: str) -> dict:
        asked.append((call_id, action))
        if call_id == "gone":
            raise NotFound("no such call")
        if call_id == "ringing":
            raise ValidationError("the call is not answered yet")
        return {"call_id": call_id, "status": "recording"}

    plan.services.record_control = control  # type: ignore[attr-defined]
    assert client.post("/api/v1/calls/c9/recording", json={"action": "start"}, headers=write).status_code == 200
    assert client.post("/api/v1/calls/c9/recording", json={"action": "stop"}, headers=write).status_code == 200
    assert client.post("/api/v1/calls/gone/recording", json={"action": "stop"}, headers=write).status_code == 404
    assert client.post("/api/v1/calls/ringing/recording", json={"action": "start"}, headers=write).status_code == 409
    assert client.post("/api/v1/calls/c9/recording", json={"action": "pause"}, headers=write).status_code == 400
    assert client.post("/api/v1/calls/c9/recording", json={"action": "start"},
                       headers=bearer(plan, "read")).status_code == 403
    assert asked == [("c9", "start"), ("c9", "stop"), ("gone", "stop"), ("ringing", "start")]
    assert actions(plan)[::-1] == [("start", "c9", "t-write", True), ("stop", "c9", "t-write", True),
                                   ("stop", "gone", "t-write", False), ("start", "ringing", "t-write", False)]


def test_the_player_needs_a_session_and_is_audited(plan: Plan) -> None:
    data = seed(plan, "c1").read_bytes()
    anonymous = plan.app.test_client()
    resp = anonymous.get("/recordings/c1/audio")
    assert resp.status_code == 401 and resp.location is None
    assert actions(plan) == [("refused", "c1", "", False)]

    owner = plan.owner()
    page = owner.get("/calls").get_data(as_text=True)
    assert '<audio controls preload="none" id="audio-c1" src="/recordings/c1/audio">' in page
    assert 'href="/recordings/c1/audio?download=1"' in page
    listen = owner.get("/recordings/c1/audio", headers={"Range": "bytes=0-99"})
    assert listen.status_code == 206 and listen.data == data[:100] and listen.mimetype == "audio/ogg"
    assert "attachment" not in listen.headers.get("Content-Disposition", "")
    download = owner.get("/recordings/c1/audio?download=1")
    assert download.status_code == 200 and download.data == data
    assert download.headers["Content-Disposition"].startswith("attachment") and "c1.ogg" in download.headers[
        "Content-Disposition"]
    assert owner.get("/recordings/c1/audio", headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    assert actions(plan)[:2] == [("download", "c1", "admin", True), ("listen", "c1", "admin", True)]
    assert plan.services.audit.list()[0]["source"] == "127.0.0.1"


def test_the_recordings_page_deletes_with_csrf_and_shows_the_audit(plan: Plan) -> None:
    one = seed(plan, "c1")
    two = seed(plan, "c2", caller="+79031112233")
    three = seed(plan, "c3", caller="+79031112233")
    anonymous = plan.app.test_client()
    assert anonymous.get("/recordings").status_code == 302
    assert anonymous.get("/recordings/c1/audio").status_code == 401
    resp = anonymous.post("/recordings/c1/delete", data={"csrf_token": csrf(anonymous, "/login")})
    assert resp.status_code == 302 and "/login" in resp.location and one.exists()

    owner = plan.owner()
    page = owner.get("/recordings").get_data(as_text=True)
    assert 'href="/recordings">Recordings</a>' in page and 'id="recording-c1"' in page and "+79031112233" in page
    filtered = owner.get("/recordings?number=8 903 111 22 33").get_data(as_text=True)
    assert 'id="recording-c2"' in filtered and 'id="recording-c1"' not in filtered
    assert owner.post("/recordings/c1/delete").status_code == 400 and one.exists()  # no CSRF token
    resp = owner.post("/recordings/c1/delete", data={"csrf_token": csrf(owner, "/recordings")})
    assert resp.status_code == 302 and not one.exists()
    resp = owner.post("/recordings/delete-number", data={"number": "+7 903 111-22-33",
                                                        "csrf_token": csrf(owner, "/recordings")},
                      follow_redirects=True)
    assert "2 recording(s) of +79031112233 deleted." in resp.get_data(as_text=True)
    assert not two.exists() and not three.exists() and plan.services.recordings.list() == []
    page = owner.get("/recordings").get_data(as_text=True)
    assert "No recordings yet." in page
    audit = page[page.index('id="audit"'):]
    assert audit.index("delete_number") < audit.index(">delete<") < audit.index("refused")  # newest first
    assert {a for a in actions(plan)} >= {("delete", "c1", "admin", True), ("delete_number", "c2", "admin", True),
                                          ("delete_number", "c3", "admin", True)}


def test_the_recording_settings_on_the_rest_bridge_and_the_page(plan: Plan) -> None:
    """Defaults at first; a change is what `pbx config set` and the daemon then read, and
    is audited; a bad value in a change writes none of it; a retention or a quota can
    delete recordings, so the settings need admin."""
    from pbx.store.settings import Settings

    client, write, admin = plan.app.test_client(), bearer(plan, "write"), bearer(plan, "admin")
    first = client.get("/api/v1/recording-settings", headers=admin).get_json()
    assert first["recording_default"] == "on_demand" and first["recording_keep_days"] == 90.0
    assert client.get("/api/v1/recording-settings", headers=write).status_code == 403
    assert client.patch("/api/v1/recording-settings", json={"recording_keep_days": 0.001},
                        headers=write).status_code == 403
    changed = client.patch("/api/v1/recording-settings", headers=admin,
                           json={"recording_default": "always", "recording_announcement": "ru",
                                 "recording_keep_days": 30})
    assert changed.status_code == 200 and changed.get_json()["recording_announcement"] == "ru"
    on_disk = Settings(plan.data)
    assert (on_disk.get("recording_default"), on_disk.get("recording_keep_days")) == ("always", "30")
    entry = plan.services.audit.list()[0]
    assert entry["action"] == "settings" and "recording_keep_days=30" in entry["detail"], entry
    for key, value in (("recording_min_free_pct", 91), ("recording_quota_mb", "inf"), ("recording_keep_days", 1e300),
                       ("recording_keep_days", "nan"), ("recording_channels", True), ("recording_format", None)):
        bad = client.patch("/api/v1/recording-settings", headers=admin, json={"recording_default": "never", key: value})
        assert bad.status_code == 400 and bad.get_json()["details"]["field"] == key, (key, value, bad.get_json())
    assert client.patch("/api/v1/recording-settings", headers=admin, json={"colour": "red"}).status_code == 400
    assert Settings(plan.data).get("recording_default") == "always"  # nothing of the bad changes

    owner = plan.owner()
    page = owner.get("/recordings").get_data(as_text=True)
    assert 'id="setting-recording_announcement"' in page and '<option value="ru" selected>' in page
    assert 'id="setting-recording_keep_days" value="30"' in page  # the stored text, not a rounding of it
    assert owner.post("/recordings/settings", data={"recording_format": "mp3"}).status_code == 400  # no CSRF
    saved = owner.post("/recordings/settings", follow_redirects=True,
                       data={"recording_format": "mp3", "recording_quota_mb": "-1",
                             "csrf_token": csrf(owner, "/recordings")}).get_data(as_text=True)
    assert "Not saved: recording_quota_mb" in saved and Settings(plan.data).get("recording_format") is None
    saved = owner.post("/recordings/settings", follow_redirects=True,
                       data={"recording_format": "mp3", "recording_quota_mb": "1048576", "recording_keep_days": "30",
                             "csrf_token": csrf(owner, "/recordings")}).get_data(as_text=True)
    assert "Recording settings saved." in saved and Settings(plan.data).get("recording_quota_mb") == "1048576"
    entry = plan.services.audit.list()[0]
    assert (entry["action"], entry["who"]) == ("settings", "admin") and "keep_days" not in entry["detail"], entry
