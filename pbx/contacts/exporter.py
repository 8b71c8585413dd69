"""Contacts out as CSV or vCard 3.0 / 4.0, one contact at a time (a generator of text
chunks: the REST bridge streams it, the CLI writes it to a file). What the importer
reads back: the CSV header is its own, the vCards carry the tier, the responsible
extension and the CRM fields as X- properties and the contact id as UID."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import vobject

from pbx.contacts.model import PHONE_TYPES, Contact

CSV_HEADER = ["id", "name", "company", *PHONE_TYPES, "email", "tier", "responsible", "crm_id", "crm_link", "notes"]
VCARD_TYPES = {"mobile": "cell", "work": "work", "home": "home", "fax": "fax", "other": "voice"}
FORMATS = {"csv": "text/csv", "vcard": "text/vcard"}


def csv_chunks(contacts: Iterable[Contact], batch: int = 200) -> Iterator[str]:
    """UTF-8 text with a BOM (spreadsheets then read Cyrillic right), a header row, one row
    per contact; several numbers of one type are joined with ", "."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow(CSV_HEADER)
    for count, c in enumerate(contacts, start=1):
        phones = {t: ", ".join(p.number for p in c.phones if p.type == t) for t in PHONE_TYPES}
        writer.writerow([c.id, c.name, c.company, *(phones[t] for t in PHONE_TYPES), c.email, c.tier,
                         c.responsible, c.crm_id, c.crm_link, c.notes])
        if count % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def vcard(contact: Contact, version: str = "3.0") -> str:
    card = vobject.vCard()
    card.add("version").value = version
    card.add("uid").value = contact.id
    card.add("fn").value = contact.name
    card.add("n").value = vobject.vcard.Name(family=contact.name)  # required in 3.0; not split: names vary
    if contact.company:
        card.add("org").value = [contact.company]
    for phone in contact.phones:
        tel = card.add("tel")
        if version == "4.0" and phone.number.startswith("+"):
            tel.value, tel.value_param = "tel:" + phone.number, "uri"
        else:
            tel.value = phone.number
        tel.type_param = VCARD_TYPES.get(phone.type, "voice")
    if contact.email:
        card.add("email").value = contact.email
    if contact.notes:
        card.add("note").value = contact.notes
    for prop, value in (("x-pbx-tier", contact.tier), ("x-pbx-responsible", contact.responsible),
                        ("x-crm-id", contact.crm_id), ("x-crm-link", contact.crm_link)):
        if value:
            card.add(prop).value = value
    return card.serialize()


def vcard_chunks(contacts: Iterable[Contact], version: str = "3.0", batch: int = 200) -> Iterator[str]:
    if version not in ("3.0", "4.0"):
        raise ValueError("vCard version 3.0 or 4.0")
    chunk: list[str] = []
    for contact in contacts:
        chunk.append(vcard(contact, version))
        if len(chunk) >= batch:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
