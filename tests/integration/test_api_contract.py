"""The REST contract on the real daemon (waitress, the real stores): a CRM's read token
pulls with the cursor, may not write, and runs into its own rate limit (429 with
Retry-After) while another token goes on."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.daemon import Daemon


def call(daemon: Daemon, token: str, path: str, method: str = "GET",  # type: ignore[no-untyped-def]
         body: dict | None = None):
    req = urllib.request.Request(f"{daemon.url}/api/v1/{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_a_crm_token_reads_with_the_cursor_may_not_write_and_has_its_own_limit(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")
    daemon.pbx("config", "set", "api_rate_limit", "4 per minute")
    created = daemon.pbx("token", "create", "crm").stdout
    crm, other = created.split()[0], daemon.pbx("token", "create", "ops", "--scope", "write").stdout.split()[0]
    assert "scope read (the default" in created
    daemon.start()
    try:
        status, _, page = call(daemon, crm, "calls?since=c_0&limit=10")
        assert status == 200 and page == {"calls": [], "next": "c_0", "more": False}
        status, _, error = call(daemon, crm, "extensions", "POST",
                                {"number": "150", "name": "Eve", "password": "amber-Falcon-42"})
        assert status == 403 and error["error_id"] == "insufficient_scope"
        assert error["details"]["needed_scope"] == "write"
        assert [call(daemon, crm, "extensions")[0] for _ in range(2)] == [200, 200]
        status, headers, error = call(daemon, crm, "calls")  # the 5th in the minute
        assert status == 429 and error["error_id"] == "rate_limited" and int(headers["Retry-After"]) > 0
        assert call(daemon, other, "calls")[0] == 200  # another CRM is not held up
        with urllib.request.urlopen(f"{daemon.url}/api/v1/openapi.json", timeout=10) as resp:
            assert "/calls" in json.loads(resp.read())["paths"]
    finally:
        assert daemon.stop() == 0
