"""Contacts over the REST bridge (paged search, CRUD with the JSON errors, import of a
CSV or vCard body with its report, streamed export) and on the owner's page (CSRF-
protected forms, the import report shown)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from pbx.services import open_services
from tests.unit.webadmin.conftest import OWNER_PASSWORD, csrf
from webadmin.app import create_app
from webadmin.contacts_api import MAX_IMPORT


@pytest.fixture
def web(tmp_path: Path):
    services = open_services(tmp_path)
    services.admin.ensure_admin()
    services.admin.set_password("admin", OWNER_PASSWORD)
    services.extensions.add("101", "Alice", "amber-Falcon-42")
    app = create_app(services, secret_key=b"k" * 32)
    yield app, services, {"Authorization": "Bearer " + services.tokens.create("crm")}
    services.close()


def ivan(**extra) -> dict:
    return {"name": "Иван Петров", "company": "Ромашка", "tier": "vip", "responsible": "101",
            "phones": [{"type": "mobile", "number": "8 916 123-45-67"}], **extra}


def test_crud_paging_and_search(web) -> None:
    app, services, auth = web
    client = app.test_client()
    assert client.get("/api/v1/contacts").status_code == 401
    resp = client.post("/api/v1/contacts", json=ivan(), headers=auth)
    assert resp.status_code == 201, resp.get_json()
    cid = resp.get_json()["id"]
    assert resp.get_json()["phones"] == [{"type": "mobile", "number": "+79161234567"}]
    assert services.contacts.lookup("+79161234567").name == "Иван Петров"
    for n in range(12):
        assert client.post("/api/v1/contacts", json={"name": f"Client {n:02d}", "phones": [f"+7903000{n:04d}"]},
                           headers=auth).status_code == 201
    page = client.get("/api/v1/contacts?q=client&offset=5&limit=5", headers=auth).get_json()
    assert (page["total"], page["offset"], page["limit"]) == (12, 5, 5)
    assert [c["name"] for c in page["items"]] == [f"Client {n:02d}" for n in range(5, 10)]
    found = client.get("/api/v1/contacts", query_string={"q": "+7 (916) 123 45 67"}, headers=auth).get_json()
    assert [c["id"] for c in found["items"]] == [cid]
    assert client.get("/api/v1/contacts?q=иван", headers=auth).get_json()["total"] == 1
    assert client.get(f"/api/v1/contacts/{cid}", headers=auth).get_json()["tier"] == "vip"
    resp = client.put(f"/api/v1/contacts/{cid}", json=ivan(tier="blocked"), headers=auth)
    assert resp.status_code == 200 and services.contacts.lookup("+79161234567").tier == "blocked"
    assert client.delete(f"/api/v1/contacts/{cid}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/contacts/{cid}", headers=auth).status_code == 404
    assert services.contacts.lookup("+79161234567") is None


@pytest.mark.parametrize("method, path, body, status, field", [
    ("post", "/api/v1/contacts", {"phones": ["+79161234567"]}, 400, "name"),
    ("post", "/api/v1/contacts", {"name": "X", "phones": ["not a number"]}, 400, "phones"),
    ("post", "/api/v1/contacts", {"name": "X", "tier": "gold"}, 400, "tier"),
    ("post", "/api/v1/contacts", {"name": "X", "colour": "red"}, 400, "colour"),
    ("post", "/api/v1/contacts", {"name": "Copy", "phones": ["+79161234567"]}, 409, "phones"),
    ("put", "/api/v1/contacts/c_0000000000000000", {"name": "X"}, 404, None),
    ("get", "/api/v1/contacts?limit=0", None, 400, "limit"),
    ("get", "/api/v1/contacts?offset=x", None, 400, "offset"),
    ("get", "/api/v1/contacts/export?format=xls", None, 400, "format"),
])
def test_errors_have_the_documented_shape_and_change_nothing(web, method, path, body, status, field) -> None:
    app, services, auth = web
    client = app.test_client()
    client.post("/api/v1/contacts", json=ivan(), headers=auth)
    resp = getattr(client, method)(path, json=body, headers=auth)
    assert resp.status_code == status, resp.get_json()
    error = resp.get_json()
    assert set(error) == {"error_id", "message", "details"}
    if field:
        assert error["details"]["field"] == field, error
    assert services.contacts.count() == 1


def test_import_of_a_csv_body_with_a_bad_row_and_export(web) -> None:
    app, services, auth = web
    client = app.test_client()
    body = "name;mobile;tier\nАнна;8 916 000 00 01;vip\nBad;no number;\nБорис;+7 916 000 00 02;\n"
    resp = client.post("/api/v1/contacts/import", data=body.encode(), headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["imported"] == 2 and report["refused"] == [
        {"row": 3, "reason": "phones: 'no number' is not a phone number", "field": "phones"}]
    assert services.contacts.lookup("+79160000001").tier == "vip"
    exported = client.get("/api/v1/contacts/export?format=vcard&version=4.0", headers=auth)
    assert exported.mimetype == "text/vcard" and exported.is_streamed
    text = exported.get_data(as_text=True)
    assert text.count("BEGIN:VCARD") == 2 and "VERSION:4.0" in text and "tel:+79160000001" in text
    csv = client.get("/api/v1/contacts/export", headers=auth).get_data(as_text=True)
    assert csv.startswith("\ufeffid,name") and "Борис" in csv
    resp = client.post("/api/v1/contacts/import?format=vcard", data=text.replace("UID:", "X-OLD-UID:").encode(),
                       headers=auth)
    assert resp.get_json()["imported"] == 0 and resp.get_json()["refused_count"] == 2  # numbers taken


def test_import_refuses_unknown_types_and_oversized_bodies(web, monkeypatch) -> None:
    app, services, auth = web
    client = app.test_client()
    resp = client.post("/api/v1/contacts/import", data=b"name\nX\n", headers={**auth, "Content-Type": "text/plain"})
    assert resp.status_code == 400 and resp.get_json()["details"]["field"] == "format"
    resp = client.post("/api/v1/contacts/import", data=b"phone\n+79161234567\n",
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 400 and "name" in resp.get_json()["message"]
    assert MAX_IMPORT == 64 * 2**20
    monkeypatch.setattr("webadmin.contacts_api.MAX_IMPORT", 100)
    big = ("name,phone\n" + "".join(f"N{n},+7916000{n:04d}\n" for n in range(20))).encode()
    resp = client.post("/api/v1/contacts/import", data=big, headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 413 and resp.get_json()["error_id"] == "too_large"
    assert services.contacts.count() == 0


def test_every_contacts_route_is_in_the_openapi_document(web) -> None:
    app, _, auth = web
    spec = yaml.safe_load(app.test_client().get("/api/v1/openapi.yaml").get_data(as_text=True))
    for path in ("/contacts", "/contacts/{id}", "/contacts/import", "/contacts/export"):
        assert path in spec["paths"], path
    assert set(spec["paths"]["/contacts/{id}"]) >= {"get", "put", "delete"}
    assert "ImportReport" in spec["components"]["schemas"]


def owner(app):
    client = app.test_client()
    token = csrf(client, "/login")
    form = {"user": "admin", "password": OWNER_PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    return client


def test_the_owner_page_adds_searches_edits_imports_and_deletes(web) -> None:
    app, services, _ = web
    assert app.test_client().get("/contacts").status_code == 302  # to the login
    client = owner(app)
    token = csrf(client, "/contacts")
    form = {"csrf_token": token, "name": "Иван Петров", "company": "Ромашка", "phones": "mobile: 8 916 123-45-67",
            "tier": "vip", "responsible": "101", "email": "", "crm_id": "", "crm_link": "", "notes": ""}
    assert client.post("/contacts", data={**form, "csrf_token": "forged"}).status_code == 400
    resp = client.post("/contacts", data={**form, "phones": "mobile: call me"})
    assert resp.status_code == 400 and 'class="error"' in resp.get_data(as_text=True)
    assert client.post("/contacts", data=form).status_code == 302
    cid = services.contacts.lookup("+79161234567").contact_id
    page = client.get("/contacts", query_string={"q": "+7 916 1234567"}).get_data(as_text=True)
    assert "Иван Петров" in page and f"contact-{cid}" in page
    edit = client.get(f"/contacts?edit={cid}").get_data(as_text=True)
    assert "mobile: +79161234567" in edit
    assert client.post("/contacts", data={**form, "id": cid, "tier": "blocked"}).status_code == 302
    assert services.contacts.get(cid).tier == "blocked"
    upload = {"csrf_token": token, "file": (io.BytesIO("name,phone\nАнна,+79160000001\nBad,xyz\n".encode()), "a.csv")}
    page = client.post("/contacts/import", data=upload, content_type="multipart/form-data").get_data(as_text=True)
    assert "1 imported, 1 refused" in page and "&#39;xyz&#39; is not a phone number" in page
    assert client.get("/contacts/export.vcf?version=4.0").get_data(as_text=True).count("BEGIN:VCARD") == 2
    assert client.post(f"/contacts/{cid}/delete", data={"csrf_token": token}).status_code == 302
    assert services.contacts.count() == 1
