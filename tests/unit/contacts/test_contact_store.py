"""The contacts store: the in-memory index follows every change (own and, through the
watch thread, another process's), a number belongs to one contact, search finds names in
any case and script and numbers in any format, and an import is all or nothing, even
when the process dies in the middle of it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pbx.contacts.store import ContactStore, open_contacts
from pbx.errors import Conflict, NotFound, ValidationError
from pbx.services import open_services
from pbx.store.settings import Settings
from tests.support.daemon import wait_until

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path: Path):
    contacts = ContactStore(tmp_path / "contacts.sqlite", watch_interval=0.1)
    yield contacts
    contacts.close()


def ivan(**extra) -> dict:
    return {"name": "Иван Петров", "company": "ООО Ромашка", "tier": "vip",
            "phones": [{"type": "mobile", "number": "8 916 123-45-67"}], **extra}


def test_the_index_follows_add_update_and_delete(store: ContactStore) -> None:
    contact = store.add(ivan())
    assert contact.phones[0].number == "+79161234567"
    info = store.lookup("+79161234567")
    assert info is not None and info.display() == "★ Иван Петров (ООО Ромашка)"
    assert store.lookup("89161234567") is info and store.lookup("9161234567") is info  # the last 10 digits
    assert store.lookup("+79160000000") is None
    store.update(contact.id, ivan(tier="normal", phones=["+7 495 123 45 67", "8 916 123 45 67"]))
    assert store.lookup("+74951234567").tier == "normal"
    assert store.lookup("+74951234567") is store.lookup("+79161234567")  # one object per contact
    store.update(contact.id, ivan(phones=["+74951234567"]))
    assert store.lookup("+79161234567") is None and store.lookup("9161234567") is None
    store.delete(contact.id)
    assert store.lookup("+74951234567") is None
    with pytest.raises(NotFound):
        store.get(contact.id)
    with pytest.raises(NotFound):
        store.delete(contact.id)


def test_the_index_is_rebuilt_on_open(tmp_path: Path) -> None:
    first = ContactStore(tmp_path / "c.sqlite")
    cid = first.add(ivan()).id
    first.close()
    again = ContactStore(tmp_path / "c.sqlite")
    try:
        assert again.lookup("+79161234567").contact_id == cid and again.count() == 1
    finally:
        again.close()


def test_lookup_never_reads_the_file(store: ContactStore) -> None:
    store.add(ivan())
    store._db.close()  # any disk access would raise ProgrammingError now
    try:
        assert store.lookup("+79161234567").name == "Иван Петров"
        assert store.lookup("+70000000000") is None
    finally:
        store._db = store._open()


def test_a_number_belongs_to_one_contact(store: ContactStore) -> None:
    first = store.add(ivan())
    other = store.add({"name": "Пётр", "phones": ["+74951112233"]})
    with pytest.raises(Conflict) as refused:
        store.add({"name": "Copy", "phones": ["+7 (916) 123-45-67"]})
    assert refused.value.details["contact_id"] == first.id and "Иван Петров" in refused.value.message
    with pytest.raises(Conflict):
        store.update(other.id, {"name": "Пётр", "phones": ["+74951112233", "89161234567"]})
    assert [p.number for p in store.get(other.id).phones] == ["+74951112233"]  # the refused edit left nothing
    assert store.lookup("+79161234567").contact_id == first.id and store.count() == 2
    with pytest.raises(ValidationError) as bad:
        store.add({"name": "X", "phones": ["call me"]})
    assert bad.value.details["field"] == "phones"


def test_another_process_change_is_seen_by_the_watch_thread(store: ContactStore, tmp_path: Path) -> None:
    changes: list[tuple[str, dict]] = []
    store.on_change = lambda kind, payload: changes.append((kind, payload))
    mine = store.add(ivan())
    assert changes[-1][0] == "created" and changes[-1][1]["contact"]["id"] == mine.id
    script = textwrap.dedent(f"""
        from pbx.contacts.store import ContactStore
        s = ContactStore({str(tmp_path / 'contacts.sqlite')!r})
        c = s.add({{"name": "From the CLI", "phones": ["+74957654321"]}})
        s.update({mine.id!r}, {{"name": "Иван (renamed)", "phones": ["+79161234567"]}})
        s.close()
        print(c.id)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.strip()
    assert wait_until(lambda: store.lookup("+74957654321") is not None, timeout=5)
    assert store.lookup("+74957654321").contact_id == out
    assert wait_until(lambda: store.lookup("+79161234567").name == "Иван (renamed)", timeout=5)
    kinds = {(k, p.get("contact", {}).get("id")) for k, p in changes}
    assert ("created", out) in kinds and ("updated", mine.id) in kinds
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from pbx.contacts.store import ContactStore
        s = ContactStore({str(tmp_path / 'contacts.sqlite')!r})
        s.delete({out!r})
        s.close()
    """)], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert wait_until(lambda: store.lookup("+74957654321") is None, timeout=5)
    assert ("deleted", {"id": out}) in changes


def test_search_by_name_any_case_and_script_and_by_number_any_format(store: ContactStore) -> None:
    store.add(ivan())
    store.add({"name": "Анна Смирнова", "company": "Acme", "phones": ["+74951234567"]})
    for n in range(30):
        store.add({"name": f"Client {n:02d}", "phones": [f"+7903000{n:04d}"]})
    assert [c.name for c in store.search("ИВАН")[0]] == ["Иван Петров"]
    assert [c.name for c in store.search("ромашка")[0]] == ["Иван Петров"]
    assert [c.name for c in store.search("acme")[0]] == ["Анна Смирнова"]
    assert [c.name for c in store.search("8 (916) 123-45-67")[0]] == ["Иван Петров"]
    assert [c.name for c in store.search("+7 916 1234567")[0]] == ["Иван Петров"]
    assert [c.name for c in store.search("45-67")[0]] == ["Анна Смирнова", "Иван Петров"]
    page, total = store.search("client", offset=10, limit=5)
    assert total == 30 and [c.name for c in page] == [f"Client {n:02d}" for n in range(10, 15)]
    assert store.search("", limit=1)[1] == 32 and store.search("nobody")[1] == 0
    assert len(list(store.list_all(batch=7))) == 32


def test_an_import_is_one_transaction_and_refusals_are_reported(store: ContactStore) -> None:
    existing = store.add(ivan())
    changes: list[tuple[str, dict]] = []
    store.on_change = lambda kind, payload: changes.append((kind, payload))
    report = store.import_contacts([
        {"name": "Good", "phones": ["+74950000001"]},
        {"name": "", "phones": ["+74950000002"]},
        {"name": "Twice", "phones": ["+74950000001"]},
        {"name": "Has Ivan's", "phones": ["8 916 123 45 67"]},
        {"_row": 9, "_error": "broken row: 3 fields, the header has 2"},
        {"name": "Nonsense", "phones": ["n/a"]},
        {"name": "Fine too"},
    ])
    assert report.imported == 2 and report.refused_count == 5
    reasons = {r["row"]: r for r in report.refused}
    assert reasons[2]["field"] == "name" and "row 1" in reasons[3]["reason"]
    assert reasons[4]["contact_id"] == existing.id and reasons[9]["reason"].startswith("broken row")
    assert reasons[6]["field"] == "phones"
    assert store.lookup("+74950000001").name == "Good" and store.count() == 3
    assert changes == [("imported", {"count": 2})]


def test_an_error_in_the_middle_of_an_import_leaves_the_old_state(store: ContactStore) -> None:
    store.add(ivan())

    def rows():
        yield {"name": "A", "phones": ["+74950000001"]}
        yield {"name": "B", "phones": ["+74950000002"]}
        raise OSError("the upload broke off")

    with pytest.raises(OSError):
        store.import_contacts(rows())
    assert store.count() == 1 and store.lookup("+74950000001") is None
    assert store.search("A")[1] == 0
    assert store.add({"name": "A", "phones": ["+74950000001"]}).name == "A"  # the store still writes


def test_a_power_cut_in_the_middle_of_an_import_leaves_the_old_state(tmp_path: Path) -> None:
    """The importing process is killed (SIGKILL) after it wrote thousands of rows, before
    the commit: the file opens with the contacts it had, and only those."""
    path = tmp_path / "contacts.sqlite"
    before = ContactStore(path)
    before.add(ivan())
    before.close()
    script = textwrap.dedent(f"""
        import sys, time
        from pbx.contacts.store import ContactStore
        s = ContactStore({str(path)!r})
        def rows():
            for n in range(100000):
                if n == 40000:
                    print("half", flush=True)
                    time.sleep(60)
                yield {{"name": f"Row {{n}}", "phones": [f"+7495{{n:07d}}"]}}
        s.import_contacts(rows())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "half"
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size > 1_000_000  # rows went to the file's log, uncommitted
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    after = ContactStore(path)
    try:
        assert after.count() == 1 and after.lookup("+74950000001") is None
        assert after.lookup("+79161234567").name == "Иван Петров"
    finally:
        after.close()


def test_office_country_and_area_code_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    settings.set("country", "de")
    settings.close()
    contacts = open_contacts(tmp_path)
    try:
        assert (contacts.country, contacts.area_code) == ("DE", "")
        assert contacts.add({"name": "Berlin", "phones": ["030 1234567"]}).phones[0].number == "+49301234567"
    finally:
        contacts.close()
    settings = Settings(tmp_path)
    settings.set("country", "RU")
    settings.set("area_code", "495")
    settings.close()
    contacts = open_contacts(tmp_path)
    try:
        assert contacts.add({"name": "Local", "phones": ["123-45-67"]}).phones[0].number == "+74951234567"
    finally:
        contacts.close()


def test_the_services_open_and_close_the_store(tmp_path: Path) -> None:
    services = open_services(tmp_path)
    assert services.contacts is not None and services.contacts.path == tmp_path / "contacts.sqlite"
    services.contacts.add(ivan())
    services.close()
    assert not services.contacts._watcher.is_alive()


def test_a_store_without_its_index_finds_the_same_callers_from_the_file(tmp_path: Path) -> None:
    """A CLI command opens the store without the index (no load of every contact, no
    watch thread): lookup() asks the file and answers as the daemon's index does."""
    live = ContactStore(tmp_path / "c.sqlite")
    live.add({"name": "Ivan", "phones": ["8 916 123-45-67", "+74951112233"]})
    live.add({"name": "Short", "phones": ["0123"]})
    cold = ContactStore(tmp_path / "c.sqlite", live=False)
    assert not cold._watcher.is_alive() and cold._by_number == {}
    for number in ("+79161234567", "89161234567", "9161234567", "+74951112233", "0123", "+79990000000", "12"):
        assert cold.lookup(number) == live.lookup(number), number
    cold.add({"name": "Olga", "phones": ["+79031112233"]})
    assert cold.lookup("+79031112233").name == "Olga" and cold._by_number == {}
    cold.close()
    live.close()


def test_a_number_moved_by_another_process_is_found_in_every_format(tmp_path: Path) -> None:
    """The CLI moves a number from one contact to a new one (whose id sorts first): the
    daemon's index takes the change and still finds the caller by the last 10 digits."""
    daemon = ContactStore(tmp_path / "c.sqlite", watch_interval=3600)
    cli = ContactStore(tmp_path / "c.sqlite", live=False)
    zed = daemon.add({"id": "c_ffffffffffffffff", "name": "Zed", "phones": ["+79161234567"]})
    cli.update(zed.id, {"name": "Zed", "phones": []})
    cli.add({"id": "c_0000000000000000", "name": "Anna", "phones": ["8 916 123-45-67"]})
    daemon.refresh()
    assert daemon.lookup("+79161234567").name == "Anna"
    assert daemon.lookup("89161234567").name == "Anna"
    cli.close()
    daemon.close()
