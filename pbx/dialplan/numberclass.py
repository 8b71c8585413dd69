"""The class of a dialled number, which an extension's permission allows or refuses.

`phonenumbers` knows each country's numbering plan, so the class follows the number and
not the digits' look. Anything it cannot vouch for (invalid, unknown type, premium rate)
counts as `international`, the class a default extension may not call: a mistake then
refuses a call instead of running up a bill.
"""
from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo
from phonenumbers.shortnumberinfo import ShortNumberCost

from pbx.numbers import normalise

CLASSES = ("emergency", "internal", "local", "national", "mobile", "international")
# 3GPP TS 22.101: a mobile phone treats 112 and 911 as emergency calls on every network,
# so a GSM line places them whatever the country.
ALWAYS_EMERGENCY = frozenset({"112", "911"})
# Emergency services the library's short-number data leaves out (104: gas, Russia).
EXTRA_EMERGENCY = {"RU": frozenset({"104"})}
INTERNAL = re.compile(r"^\d{2,6}$")
GEOGRAPHIC = (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
ABROAD = (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.UNKNOWN)


def is_outside(member: str) -> bool:
    """A ring group member that is a telephone number, not an extension (2 to 6 digits)."""
    digits = member[1:] if member.startswith("+") else member
    return digits.isdigit() and len(digits) >= 7


def is_emergency(digits: str, country: str) -> bool:
    return digits in ALWAYS_EMERGENCY or digits in EXTRA_EMERGENCY.get(country, ()) \
        or phonenumbers.is_emergency_number(digits, country)


def classify(e164_or_dialled: str, country: str = "RU", area_code: str = "") -> str:
    """One of CLASSES for a number as dialled (separators allowed, the outbound prefix
    already stripped) or in E.164, on a line of `country` and `area_code`. Internal means
    2 to 6 digits that are no emergency number: whether an extension has it is the
    caller's business."""
    country = (country or "RU").upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"country {country!r} is no ISO 3166 region code (RU, DE, US, ...)")
    text = re.sub(r"[\s().-]", "", e164_or_dialled or "")
    if text.isdigit() and is_emergency(text, country):
        return "emergency"
    if INTERNAL.match(text):
        return "internal"
    if not re.fullmatch(r"\+?\d+", text):
        return "international"  # '*', '#' or letters: nothing phonenumbers can vouch for
    # normalise() gives E.164 for a valid number (trying the area code and Russia's
    # "7 916..." too) and the digits unchanged otherwise, which the check below refuses.
    try:
        number = phonenumbers.parse(normalise(text, country, area_code), country)
    except phonenumbers.NumberParseException:
        return "international"
    if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) != country:
        return "international"
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.MOBILE:
        return "mobile"
    if kind in ABROAD:
        return "international"
    national = phonenumbers.national_significant_number(number)
    if kind in GEOGRAPHIC and area_code and national.startswith(area_code):
        return "local"
    return "national"


def classify_outside(number: str, country: str = "RU", area_code: str = "") -> str:
    """The class of a number that goes out on a line: never `internal` (2-6 digits sent
    to a line are a short number of the network, and short numbers are where premium
    services hide): a toll-free short number is local, a standard-rate one national,
    premium or of unknown cost international."""
    cls = classify(number, country, area_code)
    if cls != "internal":
        return cls
    try:
        short = phonenumbers.parse(number, country.upper())
    except phonenumbers.NumberParseException:
        return "international"
    cost = shortnumberinfo.expected_cost_for_region(short, country.upper())
    if cost == ShortNumberCost.TOLL_FREE:
        return "local"
    if cost == ShortNumberCost.STANDARD_RATE:
        return "national"
    return "international"
