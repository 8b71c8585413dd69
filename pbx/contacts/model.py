"""A contact and the compact caller summary the ring path gets from the index.

Numbers are kept in E.164, normalised the way the lines normalise callers
(pbx.numbers.normalise with the office's country and area code), so "8 916 123-45-67"
typed in a CSV matches the +79161234567 a GSM line reports."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from pbx.errors import ValidationError
from pbx.numbers import ANONYMOUS, normalise

TIERS = ("vip", "normal", "blocked")
PHONE_TYPES = ("mobile", "work", "home", "fax", "other")
FIELDS = ("name", "company", "phones", "email", "tier", "responsible", "crm_id", "crm_link", "notes")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EXTENSION = re.compile(r"^\d{2,6}$")


@dataclass
class Phone:
    type: str
    number: str  # E.164 where the number is one, else its digits (short codes)


@dataclass
class Contact:
    id: str
    name: str
    company: str = ""
    phones: list[Phone] = field(default_factory=list)
    email: str = ""
    tier: str = "normal"
    responsible: str = ""  # the extension that rings first for this caller ("call my manager")
    crm_id: str = ""
    crm_link: str = ""
    notes: str = ""
    updated: float = 0.0

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def caller_info(self) -> CallerInfo:
        return CallerInfo(self.id, self.name, self.company, self.tier, self.responsible)


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """What the index holds per number: small, immutable, shared by every lookup."""
    contact_id: str
    name: str
    company: str
    tier: str
    responsible: str

    def display(self, vip_mark: str = "★ ") -> str:
        """The From display name the phones show: name (company), VIP marked."""
        text = f"{self.name} ({self.company})" if self.company else self.name
        return (vip_mark + text) if self.tier == "vip" and vip_mark else text

    def public(self) -> dict[str, str]:
        return {"id": self.contact_id, "name": self.name, "company": self.company, "tier": self.tier,
                "responsible": self.responsible}


def new_id() -> str:
    return "c_" + uuid.uuid4().hex[:16]


def _text(data: dict, name: str, limit: int) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected text", details={"field": name})
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 for c in value if c not in "\n\t"):
        raise ValidationError(f"{name}: at most {limit} printable characters", details={"field": name})
    return value


def phone_number(raw: str, country: str, area_code: str) -> str:
    """A typed number in E.164 (or its digits where it is no valid number); ValidationError
    for text that holds no number at all."""
    number = normalise(str(raw), country, area_code)
    if number == ANONYMOUS or not re.fullmatch(r"\+?\d{2,15}", number):
        raise ValidationError(f"phones: {raw!r} is not a phone number", details={"field": "phones"})
    return number


def _phones(data: dict, country: str, area_code: str) -> list[Phone]:
    raw = data.get("phones", [])
    if not isinstance(raw, list):
        raise ValidationError("phones: expected a list of {type, number}", details={"field": "phones"})
    phones: list[Phone] = []
    for item in raw:
        if isinstance(item, str):
            item = {"type": "other", "number": item}
        if not isinstance(item, dict) or not isinstance(item.get("number"), (str, int)):
            raise ValidationError("phones: each is {type, number}", details={"field": "phones"})
        kind = str(item.get("type") or "other").lower()
        if kind not in PHONE_TYPES:
            raise ValidationError(f"phones: type {kind!r} is not one of {', '.join(PHONE_TYPES)}",
                                  details={"field": "phones"})
        number = phone_number(str(item["number"]), country, area_code)
        if all(p.number != number for p in phones):
            phones.append(Phone(kind, number))
    if len(phones) > 20:
        raise ValidationError("phones: at most 20 numbers", details={"field": "phones"})
    return phones


def contact_from(data: dict, *, country: str = "RU", area_code: str = "", id: str | None = None) -> Contact:
    """A checked contact from a JSON object (API, CLI, import rows): a ValidationError
    names the first field that is wrong. Unknown fields are refused."""
    if not isinstance(data, dict):
        raise ValidationError("expected a JSON object")
    unknown = set(data) - set(FIELDS) - {"id", "updated"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"unknown field {name}; known: {', '.join(FIELDS)}", details={"field": name})
    name = _text(data, "name", 200)
    if not name:
        raise ValidationError("name: required", details={"field": "name"})
    email = _text(data, "email", 254)
    if email and not _EMAIL.match(email):
        raise ValidationError(f"email: {email!r} is no e-mail address", details={"field": "email"})
    tier = (_text(data, "tier", 10) or "normal").lower()
    if tier not in TIERS:
        raise ValidationError(f"tier: one of {', '.join(TIERS)}", details={"field": "tier"})
    responsible = _text(data, "responsible", 6)
    if responsible and not _EXTENSION.match(responsible):
        raise ValidationError("responsible: an extension number (2 to 6 digits)", details={"field": "responsible"})
    link = _text(data, "crm_link", 500)
    if link and not link.startswith(("https://", "http://")):
        raise ValidationError("crm_link: an http(s) address", details={"field": "crm_link"})
    return Contact(id=id or new_id(), name=name, company=_text(data, "company", 200),
                   phones=_phones(data, country, area_code), email=email, tier=tier,
                   responsible=responsible, crm_id=_text(data, "crm_id", 100), crm_link=link,
                   notes=_text(data, "notes", 4000), updated=time.time())
