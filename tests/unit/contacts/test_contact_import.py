"""Import and export: CSV as spreadsheets write it (BOM, ; or , , header spellings,
Windows-1251), broken rows, duplicates and non-numbers refused with the row named, the
good rows in; numbers written "8 916 ..." matching the +7916... a GSM line reports;
vCard 3.0 / 4.0 round trips; a big vCard file read with bounded memory."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pbx.contacts.exporter import csv_chunks, vcard_chunks
from pbx.contacts.importer import import_file
from pbx.contacts.store import ContactStore
from pbx.errors import ValidationError

ROOT = Path(__file__).resolve().parents[3]

BAD_CSV = "\n".join([
    "\ufeffФИО;Компания;Мобильный;Рабочий телефон;E-mail;Tier;Responsible;Colour",
    'Иван Петров;"ООО ""Ромашка""";8 916 123-45-67;+7 (495) 123-45-67;ivan@example.ru;VIP;101;red',
    "Пётр;;8 (903) 000-00-01;;;;;",
    "Twice;;+7 916 123 45 67;;;;;",
    "Not a number;;call me later;;;;;",
    ";;+7 903 000 00 02;;;;;",
    "Broken;row;;;;;;;with;extra;fields",
    "Wrong tier;;+79030000003;;;gold;;",
    'Мария;"Multi\nline company";+79030000004;;;normal;;',
    "",
])


@pytest.fixture
def store(tmp_path: Path):
    contacts = ContactStore(tmp_path / "contacts.sqlite")
    yield contacts
    contacts.close()


def run(store: ContactStore, text: str | bytes, fmt: str | None = None, progress=None):
    data = text.encode() if isinstance(text, str) else text
    return import_file(store, io.BytesIO(data), fmt, progress)


def test_a_csv_with_bad_rows_imports_the_good_ones_and_names_the_others(store: ContactStore) -> None:
    ticks: list[tuple[int, int]] = []
    report = run(store, BAD_CSV, progress=lambda rows, done: ticks.append((rows, done)))
    refused = {r["row"]: r["reason"] for r in report.refused}
    assert report.imported == 3, report.public()
    assert set(refused) == {4, 5, 6, 7, 8}, refused
    assert "row 2" in refused[4] and "not a phone number" in refused[5] and "name" in refused[6]
    assert refused[7].startswith("broken row") and "tier" in refused[8]
    assert report.ignored_columns == ["Colour"]
    ivan = store.lookup("+79161234567")  # "8 916 123-45-67" in the file: what a GSM line reports
    assert ivan is not None and ivan.display() == '★ Иван Петров (ООО "Ромашка")' and ivan.responsible == "101"
    assert store.lookup("+74951234567") is ivan
    contact = store.get(ivan.contact_id)
    assert [(p.type, p.number) for p in contact.phones] == [("mobile", "+79161234567"), ("work", "+74951234567")]
    assert store.get(store.lookup("+79030000004").contact_id).company == "Multi\nline company"
    assert ticks and ticks[-1] == (8, len(BAD_CSV.encode()))  # 8 records, every byte read


def test_comma_csv_with_first_and_last_names_and_a_phones_column(store: ContactStore) -> None:
    text = ("First Name,Last Name,Organization,Phones,Email Address,Notes\r\n"
            'Anna,Smith,Acme,"mobile: +1 212 555 0101; work: +1 212 555 0102",anna@acme.com,"likes, commas"\r\n')
    report = run(store, text)
    assert report.imported == 1 and not report.refused
    contact = store.get(store.lookup("+12125550102").contact_id)
    assert (contact.name, contact.company, contact.notes) == ("Anna Smith", "Acme", "likes, commas")
    assert [p.type for p in contact.phones] == ["mobile", "work"]


def test_a_windows_1251_csv(store: ContactStore) -> None:
    report = run(store, "Имя;Телефон\r\nСветлана;89161112233\r\n".encode("cp1251"))
    assert report.imported == 1 and store.lookup("+79161112233").name == "Светлана"


def test_a_file_without_a_name_column_or_empty_imports_nothing(store: ContactStore) -> None:
    store.add({"name": "Kept"})
    with pytest.raises(ValidationError) as error:
        run(store, "phone,email\n+79161234567,a@b.cd\n")
    assert "name" in error.value.message
    with pytest.raises(ValidationError):
        run(store, "", "csv")
    assert store.count() == 1


def test_duplicates_with_stored_contacts_are_refused(store: ContactStore) -> None:
    first = store.add({"name": "Stored", "phones": ["+79161234567"]})
    report = run(store, "name,mobile\nNew,8 916 123 45 67\nOther,8 916 765 43 21\n")
    assert report.imported == 1 and report.refused[0]["row"] == 2
    assert report.refused[0]["contact_id"] == first.id and "Stored" in report.refused[0]["reason"]


def contacts_for_round_trip(store: ContactStore) -> None:
    store.add({"name": "Иван Петров", "company": "ООО Ромашка; филиал", "tier": "vip", "responsible": "101",
               "email": "ivan@example.ru", "crm_id": "4711", "crm_link": "https://crm.example/c/4711",
               "notes": "Звонить после 10:00,\nне раньше", "phones": [
                   {"type": "mobile", "number": "+79161234567"}, {"type": "work", "number": "+74951234567"},
                   {"type": "fax", "number": "+74951234568"}, {"type": "home", "number": "+74951234569"}]})
    store.add({"name": "Blocked, Caller", "tier": "blocked", "phones": ["+79030000001", "+79030000002"]})
    store.add({"name": "No numbers"})


def comparable(store: ContactStore) -> list[dict]:
    """Every field but the time of the change; the numbers in any order (the CSV has a
    column per type)."""
    contacts = [{k: v for k, v in c.public().items() if k != "updated"} for c in store.list_all()]
    for c in contacts:
        c["phones"] = sorted(c["phones"], key=lambda p: p["number"])
    return contacts


@pytest.mark.parametrize("fmt, version", [("csv", ""), ("vcard", "3.0"), ("vcard", "4.0")])
def test_export_and_import_round_trip(store: ContactStore, tmp_path: Path, fmt: str, version: str) -> None:
    contacts_for_round_trip(store)
    text = "".join(csv_chunks(store.list_all()) if fmt == "csv" else vcard_chunks(store.list_all(), version))
    if version:
        assert f"VERSION:{version}" in text
    other = ContactStore(tmp_path / "other.sqlite")
    try:
        report = run(other, text)
        assert report.imported == 3 and not report.refused, report.public()
        assert comparable(other) == comparable(store)
        assert run(other, text).refused_count == 3  # again: every contact (its id, its numbers) is there
    finally:
        other.close()


def test_broken_vcards_are_refused_by_index_and_the_rest_imported(store: ContactStore) -> None:
    text = ("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Good One\r\nTEL;VALUE=uri;TYPE=cell:tel:+79161234567\r\nEND:VCARD\r\n"
            "BEGIN:VCARD\r\nVERSION:3.0\r\nthis line is no property\r\nEND:VCARD\r\n"
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Only;Structured;;;\r\nTEL;TYPE=WORK,VOICE:8 495 123 45 67\r\nEND:VCARD\r\n"
            "BEGIN:VCARD\r\nVERSION:3.0\r\nTEL:+79160000000\r\nEND:VCARD\r\n"
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut off\r\n")
    report = run(store, text)
    refused = {r["row"]: r["reason"] for r in report.refused}
    assert report.imported == 2 and set(refused) == {2, 4, 5}, report.public()
    assert refused[2].startswith("broken vCard") and "name" in refused[4]
    assert store.lookup("+79161234567").name == "Good One"
    assert store.lookup("+74951234567").name == "Structured Only"


def test_a_big_vcard_file_is_read_with_bounded_memory(tmp_path: Path) -> None:
    """Six megabytes of vCards streamed from a generator (the test holds no copy either):
    the importer's peak memory grows by far less than the file. Nearly all cards share
    one number, so the index stays small and only the reading is measured."""
    script = textwrap.dedent(f"""
        import io, resource
        from pbx.contacts.importer import import_file
        from pbx.contacts.store import ContactStore

        CARD = ("BEGIN:VCARD\\r\\nVERSION:3.0\\r\\nFN:Person {{n}}\\r\\nORG:Company\\r\\n"
                "TEL;TYPE=CELL:+79161234567\\r\\nNOTE:{{pad}}\\r\\nEND:VCARD\\r\\n")

        class Cards(io.RawIOBase):
            def __init__(self, size):
                self.left, self.n, self.buf = size, 0, b""
            def readable(self):
                return True
            def readinto(self, b):
                while len(self.buf) < len(b) and self.left > 0:
                    card = CARD.format(n=self.n, pad="x" * 150).encode()
                    self.n += 1
                    self.left -= len(card)
                    self.buf += card
                data, self.buf = self.buf[:len(b)], self.buf[len(b):]
                b[:len(data)] = data
                return len(data)

        store = ContactStore({str(tmp_path / 'big.sqlite')!r})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        source = Cards(6 * 2**20)
        report = import_file(store, source)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(report.imported, report.refused_count, source.n, grown // 1024)
        store.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    imported, refused, cards, grown_mb = map(int, out)
    assert imported == 1 and refused == cards - 1 and cards > 25_000
    assert grown_mb < 12, f"memory grew by {grown_mb} MB reading a 6 MB file"
