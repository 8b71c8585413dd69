"""A web admin app on a fresh data directory with the dial plan, for the dial plan's REST
and page tests: an owner logged in (password changed) and a bearer token."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pbx.services import Services, open_services
from webadmin.app import create_app

OWNER_PASSWORD = "Owner-chosen-pass"


@dataclass
class Plan:
    app: Flask
    services: Services
    data: Path
    auth: dict[str, str]

    def plan_file(self) -> bytes:
        return (self.data / "dialplan.json").read_bytes()

    def owner(self) -> FlaskClient:
        """A browser session logged in as the owner."""
        client = self.app.test_client()
        token = csrf(client, "/login")
        resp = client.post("/login", data={"user": "admin", "password": OWNER_PASSWORD, "csrf_token": token})
        assert resp.status_code == 302
        return client


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def plan(tmp_path: Path):
    pytest.importorskip("pbx.dialplan.store")
    services = open_services(tmp_path)
    services.admin.ensure_admin()
    services.admin.set_password("admin", OWNER_PASSWORD)
    services.extensions.add("101", "Alice", "amber-Falcon-42")
    services.extensions.add("102", "Bob", "quiet-Harbor-77")
    app = create_app(services, secret_key=b"k" * 32)
    yield Plan(app, services, tmp_path, {"Authorization": "Bearer " + services.tokens.create("crm")})
    services.close()


@pytest.fixture
def prompts(plan: Plan) -> Plan:
    """The plan with the prompt library (espeak-ng and sox) installed."""
    pytest.importorskip("pbx.dialplan.prompts")
    assert plan.services.prompts is not None
    return plan
