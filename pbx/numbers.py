"""Caller numbers to E.164 with `phonenumbers`, using the trunk's country and area code.

Modems report numbers as the network gives them: international (+7916...), national
with the trunk prefix (8 495 ...), without it (7 916 ... in Russia), or a bare local
number on an analog line (123-45-67), which needs the line's area code.
"""
from __future__ import annotations

import re

import phonenumbers

ANONYMOUS = "anonymous"


def normalise(raw: str, country: str = "RU", area_code: str = "") -> str:
    """Return E.164 (+79161234567), the digits as given if they are no valid number
    (short codes, operator services), or ANONYMOUS for a withheld/empty caller."""
    digits = re.sub(r"[^\d+]", "", raw or "")
    if not digits or digits.lower() in ("anonymous", "private", "unknown"):
        return ANONYMOUS
    candidates = [digits]
    if area_code and not digits.startswith("+"):
        candidates.append(area_code + digits)  # a local number on the line's exchange
    if country == "RU" and not digits.startswith("+") and len(digits) == 11 and digits[0] == "7":
        candidates.insert(0, "+" + digits)  # "7 916 ..." is the country code without a plus
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return digits


def last_digits(e164: str, count: int = 10) -> str:
    """Key for matching contacts stored in other formats (the last 10 digits: the second index)."""
    return re.sub(r"\D", "", e164)[-count:]
