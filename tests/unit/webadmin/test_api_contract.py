"""The REST bridge's contract with a CRM: token scopes (403 naming the scope), one rate
limit per token (429 with Retry-After), errors in one JSON shape, and the OpenAPI
document (YAML and JSON) describing every route with those answers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from tinydb.operations import delete

from pbx.cli import main as pbx
from pbx.errors import ConfigError
from pbx.services import open_services
from pbx.store.tokens import TokenStore
from webadmin.app import create_app
from webadmin.scopes import needed_scope

DOCUMENT = Path(__file__).parents[3] / "webadmin" / "openapi.yaml"


@pytest.fixture
def services(tmp_path: Path):
    services = open_services(tmp_path)
    yield services
    services.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp, status: int, error_id: str) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error_id", "message", "details"} and body["error_id"] == error_id, body
    return body


@pytest.mark.parametrize("method, path, scope", [
    ("GET", "/api/v1/calls", "read"), ("HEAD", "/api/v1/extensions", "read"),
    ("GET", "/api/v1/events", "read"), ("GET", "/api/v1/contacts/c1", "read"),
    ("POST", "/api/v1/extensions", "write"), ("PUT", "/api/v1/ivrs/main", "write"),
    ("DELETE", "/api/v1/contacts/c1", "write"), ("POST", "/api/v1/contacts/import", "write"),
    ("POST", "/api/v1/sim/gsm1/call", "write"),
    ("GET", "/api/v1/bans", "admin"), ("DELETE", "/api/v1/bans/192.0.2.1", "admin"),
    ("GET", "/api/v1/tokens", "admin"), ("GET", "/api/v1/crm/webhooks", "admin"),
    ("PUT", "/api/v1/crm/webhooks/w1", "admin"), ("GET", "/api/v1/crm/outbox?state=dead", "admin"),
    ("POST", "/api/v1/crm/outbox/7/retry", "admin"),
    ("GET", "/api/v1/bansheeview", "read"),  # a prefix is a path segment, not a string start
])
def test_the_scope_each_request_needs(method: str, path: str, scope: str) -> None:
    assert needed_scope(method, path.split("?")[0]) == scope


def test_scopes_are_enforced_on_every_blueprint(services) -> None:
    app = create_app(services, secret_key=b"k" * 32)
    client = app.test_client()
    read, write, admin = (bearer(services.tokens.create(s, s)) for s in ("read", "write", "admin"))
    new_ext = {"number": "101", "name": "Alice", "password": "amber-Falcon-42"}

    assert client.get("/api/v1/extensions", headers=read).status_code == 200
    body = assert_error(client.post("/api/v1/extensions", json=new_ext, headers=read), 403, "insufficient_scope")
    assert body["details"] == {"needed_scope": "write", "token_scope": "read", "token": "read"}
    assert "--scope write" in body["message"]
    assert services.extensions.list() == []  # refused before anything was done
    assert client.post("/api/v1/extensions", json=new_ext, headers=write).status_code == 201

    body = assert_error(client.get("/api/v1/bans", headers=write), 403, "insufficient_scope")
    assert body["details"]["needed_scope"] == "admin"
    assert client.get("/api/v1/bans", headers=admin).status_code == 200
    # the dial plan's and the simulator's blueprints share the guard
    if services.dialplan is not None:
        assert client.get("/api/v1/ivrs", headers=read).status_code == 200
        assert_error(client.post("/api/v1/ivrs", json={"id": "x"}, headers=read), 403, "insufficient_scope")
    assert_error(client.post("/api/v1/sim/gsm1/hangup", headers=read), 403, "insufficient_scope")
    assert_error(client.post("/api/v1/sim/gsm1/hangup", headers=write), 404, "not_found")  # no simulator here
    assert_error(client.get("/api/v1/extensions"), 401, "unauthorized")
    # the document needs no token at all
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_tokens_made_before_scopes_are_admin(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path)
    secret = tokens.create("old-crm")
    with tokens.docs.writing() as db:  # as a file written before scopes existed
        db.update(delete("scope"))
    assert "scope" not in (tmp_path / "tokens.json").read_text()
    assert tokens.verify(secret) == ("old-crm", "admin")
    assert [t["scope"] for t in tokens.list()] == ["admin"]
    with pytest.raises(Exception, match="scope: one of read, write, admin"):
        tokens.create("x", "owner")
    tokens.close()


def test_pbx_token_create_defaults_to_read_and_says_so(tmp_path: Path, capsys) -> None:
    assert pbx(["token", "create", "crm", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    secret = out.split()[0]
    assert "scope read (the default" in out
    assert pbx(["token", "create", "ops", "--scope", "admin", "--data", str(tmp_path)]) == 0
    assert "scope admin;" in capsys.readouterr().out
    assert pbx(["token", "list", "--data", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"^NAME\s+SCOPE\s+CREATED", listed, re.M)
    assert re.search(r"^crm\s+read\s", listed, re.M) and re.search(r"^ops\s+admin\s", listed, re.M)
    tokens = TokenStore(tmp_path)
    assert tokens.verify(secret) == ("crm", "read")
    tokens.close()
    with pytest.raises(SystemExit):  # argparse names the choices
        pbx(["token", "create", "x", "--scope", "root", "--data", str(tmp_path)])


def test_one_rate_limit_per_token_with_429_and_retry_after(services) -> None:
    app = create_app(services, secret_key=b"k" * 32, api_rate_limit="3 per minute")
    client = app.test_client()
    first, second = bearer(services.tokens.create("crm1", "read")), bearer(services.tokens.create("crm2", "read"))
    # one limit over the whole API, whichever blueprint: 3 requests in all
    paths = ["/api/v1/calls", "/api/v1/extensions", "/api/v1/ivrs" if services.dialplan else "/api/v1/sms"]
    assert [client.get(p, headers=first).status_code for p in paths] == [200, 200, 200]
    resp = client.get("/api/v1/calls", headers=first)
    body = assert_error(resp, 429, "rate_limited")
    assert body["details"]["limit"] == "3 per 1 minute"
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    # another token is not limited by the first
    assert [client.get("/api/v1/calls", headers=second).status_code for _ in range(3)] == [200, 200, 200]
    assert client.get("/api/v1/calls", headers=second).status_code == 429
    # without a valid token the address is the key (guessing tokens is limited too)
    assert [client.get("/api/v1/calls", headers=bearer("guess")).status_code for _ in range(4)] == [401] * 3 + [429]
    # the limiter keys on the token's name, never on its secret
    limiter = next(iter(app.extensions["limiter"]))
    keys = " ".join(limiter.storage.events) + " ".join(limiter.storage.storage)
    assert "token:crm1" in keys and first["Authorization"].split()[1] not in keys
    # pages are not under the API's limit
    assert all(client.get("/login").status_code == 200 for _ in range(5))


def test_a_rate_limit_that_is_not_one_is_refused_at_start(services, tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="api_rate_limit"):
        create_app(services, secret_key=b"k" * 32, api_rate_limit="lots")
    assert pbx(["config", "set", "api_rate_limit", "many per hour", "--data", str(tmp_path)]) == 2
    assert "api_rate_limit" in capsys.readouterr().err
    assert pbx(["config", "set", "api_rate_limit", "20/second;5000/hour", "--data", str(tmp_path)]) == 0


def test_errors_of_flask_itself_come_in_the_same_shape(services) -> None:
    client = create_app(services, secret_key=b"k" * 32).test_client()
    admin = bearer(services.tokens.create("ops", "admin"))
    assert_error(client.get("/api/v1/nothing-here", headers=admin), 404, "not_found")
    resp = client.patch("/api/v1/extensions", headers=admin)
    body = assert_error(resp, 405, "method_not_allowed")
    assert "GET" in body["details"]["allowed"] and "GET" in resp.headers["Allow"]
    assert client.get("/no-such-page").mimetype == "text/html"  # pages keep HTML errors


def _document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def test_the_json_document_is_the_yaml_one(services) -> None:
    client = create_app(services, secret_key=b"k" * 32).test_client()
    resp = client.get("/api/v1/openapi.json")
    assert resp.mimetype == "application/json" and resp.get_json() == _document()


def test_the_document_describes_only_routes_that_exist(services) -> None:
    app = create_app(services, secret_key=b"k" * 32)
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    for path, ops in _document()["paths"].items():
        for method in set(ops) - {"parameters", "summary", "description"}:
            assert (path, method) in served, f"{method.upper()} {path} is documented but not served"


def test_every_operation_documents_auth_scope_limit_and_error_shape() -> None:
    doc = _document()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "admin" in doc["components"]["securitySchemes"]["bearer"]["description"]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error_id", "message", "details"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            responses = op["responses"]
            public = op.get("security") == []
            for code in ["429"] + ([] if public else ["401", "403"]):
                assert code in responses, f"{method.upper()} {path}: no {code} answer documented"
            for code, answer in responses.items():
                if int(code) >= 400 and "$ref" not in answer:
                    schema = answer["content"]["application/json"]["schema"]["$ref"]
                    assert schema.rsplit("/", 1)[1] in ("Error", "PlanError"), f"{method} {path} {code}"


def test_what_the_fuzzer_found_stays_fixed(services) -> None:
    client = create_app(services, secret_key=b"k" * 32).test_client()
    admin = bearer(services.tokens.create("ops", "admin"))
    body = assert_error(client.post("/api/v1/extensions", headers=admin,
                                    json={"number": "60", "name": [None, True], "password": "amber-Falcon-42"}),
                        400, "invalid")
    assert body["details"] == {"field": "name"} and services.extensions.list() == []  # was stored as "[None, True]"
    body = assert_error(client.post("/api/v1/trunks", headers=admin, json={"type": "gsm", "port": "sim"}),
                        400, "invalid")  # was a 500 (no name)
    assert body["details"] == {"field": "name"}
    assert_error(client.post("/api/v1/sms", headers=admin, json={"to": "+79161234567", "text": "hi", "trunk": {}}),
                 400, "invalid")
    assert_error(client.get("/api/v1/calls?since=", headers=admin), 400, "invalid")  # was the whole list
