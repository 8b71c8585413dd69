"""Contacts from CSV or vCard files into the store, streamed: rows are read one by one
from the file object and handed to ContactStore.import_contacts, which writes all good
rows in one transaction and reports the others.

CSV: a header row; the delimiter (, ; tab) is sniffed; UTF-8 (with or without BOM),
else Windows-1251 (what Russian spreadsheets save). Common header spellings are
understood (see HEADERS); other columns are ignored and named in the report. A phone
column may hold several numbers separated by , ; or |, and the `phones` column
"type:number" items. Report rows are file line numbers (the header is line 1).

vCard 3.0 and 4.0 with vobject. The file is cut into BEGIN:VCARD .. END:VCARD blocks
line by line and each block is parsed on its own, so memory stays bounded for any file
size, and one unreadable card is refused (by its index from 1) instead of ending the
whole import, as a parse error inside vobject.readComponents would."""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

import vobject

from pbx.contacts.model import PHONE_TYPES
from pbx.contacts.store import ContactStore, ImportReport
from pbx.errors import ValidationError

Progress = Callable[[int, int], None]  # (rows done, bytes read)
SAMPLE = 64 * 1024
ID = re.compile(r"^c_[0-9a-f]{16}$")  # a contact id of this appliance (exports carry it)
MAX_FIELD = 64 * 1024


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", header.strip().lower())


# header spelling (after _key) -> field; phone types map to ("phone", type)
HEADERS: dict[str, Any] = {
    **dict.fromkeys(("name", "fullname", "displayname", "fn", "contact", "contactname", "имя", "фио",
                     "контакт", "клиент"), "name"),
    **dict.fromkeys(("firstname", "givenname", "first"), "first_name"),
    **dict.fromkeys(("lastname", "surname", "familyname", "last", "фамилия"), "last_name"),
    **dict.fromkeys(("company", "organization", "organisation", "org", "компания", "организация",
                     "фирма"), "company"),
    **dict.fromkeys(("phones", "numbers"), "phones"),
    **dict.fromkeys(("phone", "telephone", "tel", "number", "phonenumber", "телефон", "номер"), ("phone", "other")),
    **dict.fromkeys(("mobile", "mobilephone", "cell", "cellphone", "cellular", "мобильный", "мобильныйтелефон",
                     "сотовый", "сотовыйтелефон"), ("phone", "mobile")),
    **dict.fromkeys(("work", "workphone", "businessphone", "office", "officephone", "рабочий",
                     "рабочийтелефон"), ("phone", "work")),
    **dict.fromkeys(("home", "homephone", "домашний", "домашнийтелефон"), ("phone", "home")),
    **dict.fromkeys(("fax", "faxnumber", "факс"), ("phone", "fax")),
    **dict.fromkeys(("other", "otherphone"), ("phone", "other")),
    **dict.fromkeys(("email", "mail", "emailaddress", "почта"), "email"),
    **dict.fromkeys(("tier", "level", "category", "уровень"), "tier"),
    **dict.fromkeys(("responsible", "manager", "owner", "extension", "ответственный", "менеджер"), "responsible"),
    **dict.fromkeys(("crmid", "externalid"), "crm_id"),
    **dict.fromkeys(("crmlink", "crmurl", "link", "url"), "crm_link"),
    **dict.fromkeys(("notes", "note", "comment", "comments", "примечание", "комментарий"), "notes"),
    "id": "id",
}
_SPLIT = re.compile(r"[,;|\n]+")


class CountingReader(io.RawIOBase):
    """A binary file object that counts the bytes read through it (the progress)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)


def detect_format(head: bytes) -> str:
    """"vcard" when the file starts with BEGIN:VCARD (after a BOM and blank lines), else "csv"."""
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    return "vcard" if text[:11].upper() == b"BEGIN:VCARD" else "csv"


def _text_stream(reader: io.BufferedReader) -> tuple[io.TextIOWrapper, str]:
    """The file as text, and its start (not consumed) for sniffing."""
    head = reader.peek(SAMPLE)[:SAMPLE]
    try:
        head.decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as exc:
        encoding = "utf-8-sig" if exc.start > len(head) - 4 else "cp1251"  # a character cut at the sample's end
    return (io.TextIOWrapper(reader, encoding=encoding, errors="replace", newline=""),
            head.decode(encoding, errors="ignore"))


def _phones(kind: str, value: str) -> list[dict[str, str]]:
    phones = []
    for item in _SPLIT.split(value):
        item = item.strip()
        if not item:
            continue
        typed, sep, number = item.partition(":")
        if sep and typed.strip().lower() in PHONE_TYPES:
            phones.append({"type": typed.strip().lower(), "number": number.strip()})
        else:
            phones.append({"type": kind, "number": item})
    return phones


def csv_rows(raw: IO[bytes], report: ImportReport) -> Iterator[dict]:
    """Contact rows of a CSV file (with `_row` = line number, `_error` for unreadable rows)."""
    reader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw), SAMPLE)
    text, sample = _text_stream(reader)
    try:  # the header line decides: data rows may hold commas in names and notes
        delimiter = csv.Sniffer().sniff(sample.splitlines()[0] if sample.strip() else ",", delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(MAX_FIELD)
    rows = csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, skipinitialspace=True)
    try:
        header = next(rows)
    except StopIteration:
        raise ValidationError("the file is empty: a header row (name, phone, ...) is needed") from None
    except csv.Error as exc:
        raise ValidationError(f"the header row is unreadable: {exc}") from None
    columns = [HEADERS.get(_key(h)) for h in header]
    report.ignored_columns = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]
    if "name" not in columns and "first_name" not in columns and "last_name" not in columns:
        raise ValidationError("no name column: the header row needs name (or first/last name)",
                              details={"field": "name", "header": header[:20]})
    line = 1
    while True:
        start = line + 1
        try:
            fields = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            line = rows.line_num
            yield {"_row": start, "_error": f"broken row: {exc}"}
            continue
        line = rows.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(columns) and any(f.strip() for f in fields[len(columns):]):
            yield {"_row": start, "_error": f"broken row: {len(fields)} fields, the header has {len(columns)}"}
            continue
        if any("\ufffd" in f for f in fields):
            yield {"_row": start, "_error": "broken row: not readable text (the file's encoding is mixed)"}
            continue
        yield _csv_contact(start, columns, fields)


def _csv_contact(row: int, columns: list[Any], fields: list[str]) -> dict:
    data: dict[str, Any] = {"_row": row}
    phones: list[dict[str, str]] = []
    names: dict[str, str] = {}
    for column, value in zip(columns, fields, strict=False):
        value = value.strip()
        if column is None or not value:
            continue
        if isinstance(column, tuple):
            phones.extend(_phones(column[1], value))
        elif column == "phones":
            phones.extend(_phones("other", value))
        elif column in ("first_name", "last_name"):
            names[column] = value
        elif column == "id":
            if ID.match(value):
                data["id"] = value
        else:
            data[column] = value
    if not data.get("name") and names:
        data["name"] = " ".join(n for n in (names.get("first_name"), names.get("last_name")) if n)
    data["phones"] = phones
    if "tier" in data:
        data["tier"] = data["tier"].lower()
    return data


# -- vCard -------------------------------------------------------------------------------

TEL_TYPES = {"cell": "mobile", "mobile": "mobile", "iphone": "mobile", "work": "work", "home": "home",
             "fax": "fax"}


def vcard_blocks(text: IO[str]) -> Iterator[tuple[int, str]]:
    """(index from 1, the card's text) for each BEGIN:VCARD .. END:VCARD block; text
    outside blocks is skipped. A block that never ends yields what it has (refused)."""
    index, depth = 0, 0
    lines: list[str] = []
    for line in text:
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            depth += 1
            if depth == 1:
                index += 1
                lines = []
        if depth:
            lines.append(line)
            if sum(map(len, lines)) > 1_000_000:  # one card over 1 MB (a photo?): refused, not held
                yield index, ""
                depth, lines = 0, []
                continue
        if upper == "END:VCARD" and depth:
            depth -= 1
            if depth == 0:
                yield index, "".join(lines)
    if depth and lines:
        yield index, "".join(lines)


def _value(card: Any, name: str) -> str:
    items = card.contents.get(name)
    if not items:
        return ""
    value = items[0].value
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return str(value).strip()


def _vcard_contact(index: int, card: Any) -> dict:
    data: dict[str, Any] = {"_row": index}
    name = _value(card, "fn")
    if not name and "n" in card.contents:
        n = card.n.value
        name = " ".join(x for x in (getattr(n, "given", ""), getattr(n, "family", "")) if x and isinstance(x, str))
    data["name"] = name
    org = card.contents.get("org")
    if org:
        value = org[0].value
        data["company"] = "; ".join(v for v in value if v) if isinstance(value, list) else str(value)
    phones = []
    for tel in card.contents.get("tel", []):
        types = [t.lower() for t in tel.params.get("TYPE", []) for t in t.split(",")]
        kind = next((TEL_TYPES[t] for t in types if t in TEL_TYPES), "other")
        number = str(tel.value).strip()
        if number.lower().startswith("tel:"):
            number = number[4:].split(";")[0]
        phones.append({"type": kind, "number": number})
    data["phones"] = phones
    for field, prop in (("email", "email"), ("notes", "note"), ("tier", "x-pbx-tier"),
                        ("responsible", "x-pbx-responsible"), ("crm_id", "x-crm-id"), ("crm_link", "x-crm-link")):
        value = _value(card, prop)
        if value:
            data[field] = value.lower() if field == "tier" else value
    uid = _value(card, "uid")
    if ID.match(uid):
        data["id"] = uid
    return data


def vcard_rows(raw: IO[bytes], report: ImportReport) -> Iterator[dict]:
    reader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw), SAMPLE)
    text, _ = _text_stream(reader)
    for index, block in vcard_blocks(text):
        if not block:
            yield {"_row": index, "_error": "broken vCard: larger than 1 MB"}
            continue
        try:
            card = vobject.readOne(block)  # an unreadable line refuses its card: nothing dropped unseen
        except Exception as exc:  # vobject raises ParseError and others for broken cards
            why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            yield {"_row": index, "_error": f"broken vCard: {why}"}
            continue
        if card.name.upper() != "VCARD":
            yield {"_row": index, "_error": "broken vCard: not a VCARD"}
            continue
        yield _vcard_contact(index, card)


# -- the import --------------------------------------------------------------------------

def import_file(store: ContactStore, raw: IO[bytes], fmt: str | None = None,
                progress: Progress | None = None) -> ImportReport:
    """Read a CSV or vCard file object (fmt None: detected from its start) into the
    store in one transaction; progress(rows, bytes_read) is called as it goes."""
    counter = CountingReader(raw)
    reader = io.BufferedReader(counter, SAMPLE)
    if fmt is None:
        fmt = detect_format(reader.peek(SAMPLE)[:SAMPLE])
    if fmt not in ("csv", "vcard"):
        raise ValidationError("format: csv or vcard", details={"field": "format"})
    start = reader.peek(SAMPLE)[:SAMPLE]
    if fmt == "vcard" and start.strip() and b"BEGIN:VCARD" not in start.upper():
        raise ValidationError("the file holds no vCard (BEGIN:VCARD ... END:VCARD)", details={"field": "format"})
    report = ImportReport()
    rows = (csv_rows if fmt == "csv" else vcard_rows)(reader, report)
    if fmt == "csv":
        first = next(rows, None)  # the header is checked before the write transaction begins
        rows = _prepend(first, rows)
    tick = (lambda n: progress(n, counter.count)) if progress is not None else None
    return store.import_contacts(rows, progress=tick, report=report)


def _prepend(first: dict | None, rows: Iterator[dict]) -> Iterator[dict]:
    if first is not None:
        yield first
        yield from rows
