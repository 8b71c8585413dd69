"""A caller's history over the REST bridge and on the owner's page, from a real journal."""
from __future__ import annotations

from pbx.store.journal import CallRecord

T = 1_700_000_000.0


def _calls(services) -> None:  # type: ignore[no-untyped-def]
    journal = services.journal
    journal.add(CallRecord("a1", "+79161234567", "101", "inbound", "gsm1", T, T + 4, T + 64, 60.0, "answered",
                           {"answered_by": "101"}))
    journal.add(CallRecord("a2", "+79161234567", "*", "inbound", "gsm1", T + 100, None, T + 130, 0.0, "no_answer",
                           {"repeat": 2}))


def test_history_over_the_rest_bridge(plan) -> None:  # type: ignore[no-untyped-def]
    _calls(plan.services)
    client = plan.app.test_client()
    assert client.get("/api/v1/callers/+79161234567").status_code == 401
    hist = client.get("/api/v1/callers/8 916 123-45-67", headers=plan.auth).get_json()
    assert hist["number"] == "+79161234567" and [c["id"] for c in hist["calls"]] == ["a2", "a1"]
    assert hist["calls"][1]["answered_by"] == "101" and hist["calls"][0]["missed"]
    assert hist["open_callback"] == {"since": T + 100, "call": "a2"}
    assert client.get("/api/v1/callers/+79161234567?limit=1", headers=plan.auth).get_json()["calls"][0]["id"] == "a2"
    for bad in ("/api/v1/callers/+79161234567?limit=0", "/api/v1/callers/+79161234567?limit=x",
                "/api/v1/callers/hello"):
        resp = client.get(bad, headers=plan.auth)
        assert resp.status_code == 400 and set(resp.get_json()) == {"error_id", "message", "details"}
    assert client.get("/api/v1/callers/+79030000000", headers=plan.auth).get_json()["calls"] == []


def test_the_calls_page_links_a_caller_to_their_history(plan) -> None:  # type: ignore[no-untyped-def]
    _calls(plan.services)
    owner = plan.owner()
    calls = owner.get("/calls").get_data(as_text=True)
    assert 'href="/callers/%2B79161234567"' in calls or 'href="/callers/+79161234567"' in calls
    page = owner.get("/callers/+79161234567").get_data(as_text=True)
    assert "Waiting for a callback" in page and "2 calls, 1 missed" in page and "No contact" in page
    assert plan.app.test_client().get("/callers/+79161234567").status_code == 302  # login first
