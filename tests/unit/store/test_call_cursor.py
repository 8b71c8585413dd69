"""The pull contract for call records: write order, a cursor that survives VACUUM and
the migration of older journals, and a sync that sees every record once while calls
keep ending (REST and CLI)."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pbx.cli import main as pbx
from pbx.errors import ValidationError
from pbx.services import open_services
from pbx.store import cursor
from pbx.store.journal import SCHEMA, CallJournal, CallRecord
from webadmin.app import create_app


def record(call_id: str, start: float) -> CallRecord:
    return CallRecord(call_id, "+79161234567", "101", "inbound", "gsm1", start, None, start + 5, 0.0, "no_answer")


def test_records_come_in_the_order_they_were_written_not_started(tmp_path: Path) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    for call_id, start in [("long", 100.0), ("short", 200.0), ("early", 50.0)]:
        journal.add(record(call_id, start))
    assert [r.id for _, r in journal.list_written()] == ["long", "short", "early"]
    seqs = [seq for seq, _ in journal.list_written()]
    assert [r.id for _, r in journal.list_written(after=seqs[0])] == ["short", "early"]
    assert [r.id for r in journal.list()] == ["short", "long", "early"]  # the old list: by start
    page = cursor.pull(journal, cursor.START, 2)
    assert [c["id"] for c in page["calls"]] == ["long", "short"] and page["more"] is True
    last = cursor.pull(journal, page["next"], 2)
    assert [c["id"] for c in last["calls"]] == ["early"] and last["more"] is False
    assert cursor.pull(journal, last["next"], 2) == {"calls": [], "next": last["next"], "more": False}
    journal.close()


@pytest.mark.parametrize("bad", ["c_", "c_x", "c_-1", "c_01", "c_" + "9" * 19, "c_1 "])
def test_a_cursor_that_is_not_one_is_refused(tmp_path: Path, bad: str) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    with pytest.raises(ValidationError) as err:
        cursor.pull(journal, bad, 10)
    assert err.value.details == {"field": "since"}
    journal.close()


def test_the_cursor_survives_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    journal = CallJournal(path)
    for i in range(6):
        journal.add(record(f"call-{i}", 1000.0 - i))
    page = cursor.pull(journal, cursor.START, 3)  # a CRM got call-0..2
    journal.close()
    with sqlite3.connect(path) as db:  # some housekeeping removes records, then compacts
        db.execute("DELETE FROM calls WHERE id IN ('call-0', 'call-1', 'call-3')")
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    # SQLite documents that VACUUM may renumber the rowid of a table whose key is TEXT (calls),
    # never an INTEGER PRIMARY KEY: the sequence is one
    columns = {row[1]: row for row in db.execute("PRAGMA table_info(call_order)")}
    assert columns["seq"][2] == "INTEGER" and columns["seq"][5] == 1
    db.close()
    journal = CallJournal(path)
    journal.add(record("call-6", 0.0))
    rest = cursor.pull(journal, page["next"], 10)
    assert [c["id"] for c in rest["calls"]] == ["call-4", "call-5", "call-6"]
    journal.close()


def test_an_older_journal_is_numbered_once_in_insertion_order(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    with sqlite3.connect(path) as db:  # a journal as written before the cursor existed
        db.executescript(SCHEMA)
        for call_id, start in [("b", 20.0), ("a", 10.0), ("c", 30.0)]:
            db.execute("INSERT INTO calls VALUES (?, '1', '2', 'internal', NULL, ?, NULL, ?, 0, 'busy', '{}')",
                       (call_id, start, start + 1))
    first = CallJournal(path)
    second = CallJournal(path)  # the CLI opening it too: no second numbering
    first.add(record("d", 5.0))
    assert [(seq, r.id) for seq, r in second.list_written()] == [(1, "b"), (2, "a"), (3, "c"), (4, "d")]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM call_order").fetchone()[0] == 4
    first.close()
    second.close()


def test_a_sync_over_rest_sees_every_record_once_while_calls_end(tmp_path: Path) -> None:
    services = open_services(tmp_path)
    client = create_app(services, secret_key=b"k" * 32, api_rate_limit="100000 per minute").test_client()
    auth = {"Authorization": "Bearer " + services.tokens.create("crm", "read")}
    for i in range(20):
        services.journal.add(record(f"old-{i}", 1000.0 + i))
    written = [f"old-{i}" for i in range(20)]
    stop = threading.Event()

    def calls_end() -> None:  # the daemon writing records during the sync, in any start order
        n = 0
        while not stop.is_set() and n < 200:
            services.journal.add(record(f"new-{n}", 500.0 - n))
            written.append(f"new-{n}")
            n += 1
            time.sleep(0.001)

    writer = threading.Thread(target=calls_end)
    seen: list[str] = []
    since = cursor.START
    writer.start()
    try:
        for _ in range(10_000):
            page = client.get(f"/api/v1/calls?since={since}&limit=7", headers=auth).get_json()
            seen += [c["id"] for c in page["calls"]]
            since = page["next"]
            if not writer.is_alive() and not page["more"]:
                break
    finally:
        stop.set()
        writer.join()
    page = client.get(f"/api/v1/calls?since={since}&limit=1000", headers=auth).get_json()
    seen += [c["id"] for c in page["calls"]]
    assert len(written) > 20 + 7  # records were written while the sync ran
    assert seen == written  # each exactly once, in the order written
    # the list that existing users call is unchanged: newest start first, since a Unix time
    listed = client.get("/api/v1/calls?limit=3&since=1000", headers=auth).get_json()
    assert [c["id"] for c in listed] == ["old-19", "old-18", "old-17"]
    for bad in ("since=yesterday", "since=c_x", "limit=0", "limit=x"):
        body = client.get(f"/api/v1/calls?{bad}", headers=auth).get_json()
        assert body["error_id"] == "invalid" and body["details"]["field"] == bad.split("=")[0]
    services.close()


def test_pbx_calls_since_a_cursor(tmp_path: Path, capsys) -> None:
    journal = CallJournal(tmp_path / "calls.sqlite")
    for i in range(3):
        journal.add(record(f"call-{i}", 100.0 - i))
    journal.close()
    assert pbx(["calls", "--since", "c_0", "--limit", "2", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("+79161234567") == 2 and "next: c_2 (more: run again with it)" in out
    assert pbx(["calls", "--since", "c_2", "--json", "--data", str(tmp_path)]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in page["calls"]] == ["call-2"] and page["next"] == "c_3" and not page["more"]
    assert pbx(["calls", "--since", "1700000000", "--data", str(tmp_path)]) == 2
    assert "cursor" in capsys.readouterr().err
