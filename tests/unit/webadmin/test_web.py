"""The web admin with Flask's test client: login required, CSRF on forms, the forced
password change, brute-force limit, extensions via form and REST with bearer tokens."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pbx.services import open_services
from pbx.store.trunks import new_trunk
from webadmin.app import create_app


@pytest.fixture
def setup(tmp_path: Path):
    services = open_services(tmp_path)
    password = services.admin.ensure_admin()
    app = create_app(services, secret_key=b"k" * 32)
    yield app, services, password
    services.close()


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client: FlaskClient, password: str) -> None:
    token = csrf(client, "/login")
    resp = client.post("/login", data={"user": "admin", "password": password, "csrf_token": token})
    assert resp.status_code == 302


def test_pages_need_login_and_forms_need_csrf(setup) -> None:
    app, services, password = setup
    client = app.test_client()
    assert client.get("/").status_code == 302 and "/login" in client.get("/").location
    assert client.post("/login", data={"user": "admin", "password": password}).status_code == 400
    login(client, password)
    # The one-time password must be replaced before anything else.
    assert client.get("/").location.endswith("/password")
    token = csrf(client, "/password")
    client.post("/password", data={"new": "Owner-chosen-pass", "again": "Owner-chosen-pass",
                                   "csrf_token": token})
    assert client.get("/").status_code == 200
    assert services.admin.check("admin", "Owner-chosen-pass")
    assert not services.admin.check("admin", password)


def test_wrong_password_and_brute_force_limit(setup) -> None:
    app, _, password = setup
    client = app.test_client()
    codes = []
    for i in range(12):
        token = csrf(client, "/login")
        codes.append(client.post("/login", data={"user": "admin", "password": f"guess{i}",
                                                 "csrf_token": token}).status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


def test_extensions_by_form(setup) -> None:
    app, services, password = setup
    services.admin.set_password("admin", "Owner-chosen-pass")
    client = app.test_client()
    login(client, "Owner-chosen-pass")
    token = csrf(client, "/extensions")
    page = client.post("/extensions", data={"number": "101", "name": "Alice", "password": "short",
                                            "csrf_token": token}).get_data(as_text=True)
    assert "at least 10 characters" in page
    client.post("/extensions", data={"number": "101", "name": "Alice",
                                     "password": "amber-Falcon-42", "csrf_token": token})
    assert [e.number for e in services.extensions.list()] == ["101"]
    assert client.post("/extensions/101/delete").status_code == 400  # no CSRF token
    client.post("/extensions/101/delete", data={"csrf_token": token})
    assert services.extensions.list() == []


def test_rest_bridge_with_bearer_tokens(setup) -> None:
    app, services, _ = setup
    client = app.test_client()
    assert client.get("/api/v1/extensions").status_code == 401
    assert client.get("/api/v1/extensions", headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": "Bearer " + services.tokens.create("crm")}
    resp = client.post("/api/v1/extensions", json={"number": "102", "name": "Bob",
                                                   "password": "quiet-Harbor-77"}, headers=auth)
    assert resp.status_code == 201 and "password" not in resp.get_json()
    resp = client.post("/api/v1/extensions", json={"number": "102", "name": "Bob",
                                                   "password": "quiet-Harbor-77"}, headers=auth)
    assert resp.status_code == 409 and resp.get_json()["error_id"] == "conflict"
    resp = client.post("/api/v1/extensions", json={"number": "103", "name": "C", "password": ""},
                       headers=auth)
    assert resp.status_code == 400 and "empty" in resp.get_json()["message"]
    assert [e["number"] for e in client.get("/api/v1/extensions", headers=auth).get_json()] == ["102"]
    assert client.delete("/api/v1/extensions/102", headers=auth).status_code == 204
    assert client.delete("/api/v1/extensions/102", headers=auth).status_code == 404
    assert client.get("/api/v1/calls?limit=x", headers=auth).status_code == 400
    assert client.get("/api/v1/calls", headers=auth).get_json() == []
    services.tokens.revoke("crm")
    assert client.get("/api/v1/calls", headers=auth).status_code == 401
    assert b"openapi: 3" in client.get("/api/v1/openapi.yaml").data


def test_trunks_and_sms_over_rest(setup) -> None:
    app, services, _ = setup
    client = app.test_client()
    auth = {"Authorization": "Bearer " + services.tokens.create("crm")}
    assert client.get("/api/v1/trunks").status_code == 401
    resp = client.post("/api/v1/trunks", headers=auth, json={"name": "gsm1", "type": "gsm", "port": "/dev/ttyUSB2"})
    assert resp.status_code == 201 and resp.get_json()["dialect"] == "sim7600"
    bad = client.post("/api/v1/trunks", headers=auth, json={"name": "fxo1", "type": "fxo", "port": "/dev/x",
                                                             "dialect": "ec25"})
    assert bad.status_code == 400 and bad.get_json()["details"]["field"] == "dialect"
    assert client.post("/api/v1/trunks", headers=auth, json={"name": "x1", "port": "/dev/y", "baud": 9600}
                       ).status_code == 400
    assert client.post("/api/v1/trunks", headers=auth, json={"name": "gsm1", "port": "/dev/z"}).status_code == 409
    listed = client.get("/api/v1/trunks", headers=auth).get_json()
    assert [(t["name"], t["state"]) for t in listed] == [("gsm1", "stopped")]  # no daemon behind this app
    assert client.get("/api/v1/trunks/nope", headers=auth).status_code == 404
    assert client.delete("/api/v1/trunks/gsm1", headers=auth).status_code == 204
    assert client.get("/api/v1/trunks", headers=auth).get_json() == []
    # without a running daemon a message cannot go out, and says so
    resp = client.post("/api/v1/sms", headers=auth, json={"to": "+79161234567", "text": "hi"})
    assert resp.status_code == 503 and "not running" in resp.get_json()["message"]
    assert client.get("/api/v1/sms", headers=auth).get_json() == []


def test_security_headers_and_a_secure_session_cookie_over_https(setup) -> None:
    app, _, password = setup
    for path in ("/login", "/api/v1/extensions"):
        resp = app.test_client().get(path)
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"

    def session_cookie(base: str) -> str:
        client = app.test_client()
        token = csrf(client, f"{base}/login")
        resp = client.post(f"{base}/login", data={"user": "admin", "password": password, "csrf_token": token},
                           headers={"Referer": f"{base}/login"})  # same-origin: sent by the browser
        assert resp.status_code == 302
        return next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "; Secure" in session_cookie("https://localhost") and "; HttpOnly" in session_cookie("https://localhost")
    assert "; Secure" not in session_cookie("http://localhost")  # plain HTTP in development


def test_bans_on_the_dashboard_and_lifted_from_it(setup) -> None:
    app, services, password = setup
    bans = [{"address": "192.0.2.66", "reason": "scanner User-Agent 'friendly-scanner'",
             "since": 1_700_000_000.0, "expires_in": 590}]
    lifted: list[str | None] = []
    services.bans = lambda: list(bans)
    services.clear_bans = lambda address: (lifted.append(address), bans.clear(), 1)[2]
    client = app.test_client()
    login(client, password)
    token = csrf(client, "/password")
    client.post("/password", data={"new": "Owner-chosen-pass", "again": "Owner-chosen-pass", "csrf_token": token})
    page = client.get("/").get_data(as_text=True)
    assert "192.0.2.66" in page and "friendly-scanner" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/bans/lift", data={"address": "192.0.2.66"}).status_code == 400  # no CSRF token
    resp = client.post("/bans/lift", data={"address": "192.0.2.66", "csrf_token": token})
    assert resp.status_code == 302 and lifted == ["192.0.2.66"]
    assert "No source is banned" in client.get("/").get_data(as_text=True)


def test_a_degraded_line_shows_what_it_is_without(setup) -> None:
    app, services, _ = setup
    services.trunks.add(new_trunk("gsm1", "gsm", "sim7600", "/dev/ttyUSB2", "/dev/ttyUSB4", "RU", ""))
    services.trunks.add(new_trunk("gsm2", "gsm", "ec25", "/dev/ttyUSB6", "", "RU", ""))
    services.lines = lambda: {  # what the daemon's lines say: gsm1 up without ^DSCI, gsm2 all fine
        "gsm1": {"state": "idle", "operator": "MegaFon", "signal_dbm": -71, "in_call": False,
                 "degraded": ["call-state URC"]},
        "gsm2": {"state": "idle", "operator": "MTS", "signal_dbm": -81, "in_call": False, "degraded": []}}
    client = app.test_client()
    auth = {"Authorization": "Bearer " + services.tokens.create("crm")}
    listed = {t["name"]: t["degraded"] for t in client.get("/api/v1/trunks", headers=auth).get_json()}
    assert listed == {"gsm1": ["call-state URC"], "gsm2": []}
    assert client.get("/api/v1/trunks/gsm1", headers=auth).get_json()["degraded"] == ["call-state URC"]
    spec = client.get("/api/v1/openapi.yaml").get_data(as_text=True)
    assert "degraded:" in spec[spec.index("    Trunk:"):spec.index("    NewTrunk:")]
    services.admin.set_password("admin", "Owner-chosen-pass")
    login(client, "Owner-chosen-pass")
    page = client.get("/lines").get_data(as_text=True)
    assert page.count("degraded, without") == 1 and "without call-state URC" in page


def test_the_openapi_document_parses_and_documents_every_route(setup) -> None:
    import yaml

    app, _, _ = setup
    spec = yaml.safe_load(app.test_client().get("/api/v1/openapi.yaml").get_data(as_text=True))
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.startswith("/api/v1/sim/"):
            continue  # the simulator's API is development mode's, for `pbx sim`
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not in the OpenAPI document"
