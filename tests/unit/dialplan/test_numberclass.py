"""Number classes for permissions: emergency first, short numbers are internal, the rest
by the country's numbering plan, and anything doubtful counts as international."""
from __future__ import annotations

import pytest

from pbx.dialplan.numberclass import classify, classify_outside


@pytest.mark.parametrize("number, area_code, expected", [
    ("112", "", "emergency"),
    ("911", "", "emergency"),                # every GSM network
    ("101", "", "emergency"),                # fire
    ("102", "", "emergency"),                # police
    ("103", "", "emergency"),                # ambulance
    ("104", "", "emergency"),                # gas
    ("105", "", "internal"),
    ("1234", "", "internal"),
    ("123456", "", "internal"),
    ("+79161234567", "", "mobile"),
    ("89161234567", "", "mobile"),
    ("8 (916) 123-45-67", "", "mobile"),     # separators as people write them
    ("84951234567", "495", "local"),
    ("+74951234567", "495", "local"),
    ("1234567", "495", "local"),             # a bare local number on the line's exchange
    ("84951234567", "812", "national"),
    ("84951234567", "", "national"),
    ("88001234567", "", "national"),         # toll free
    ("88091234567", "", "international"),    # premium rate
    ("1234567", "", "international"),        # no area code to make it a number
    ("+77011234567", "", "international"),   # Kazakhstan shares +7
    ("+4930123456", "", "international"),
    ("81049301234567", "", "international"),  # Russia's 810 international prefix
    ("+999123456789", "", "international"),  # no such country code
    ("*100#", "", "international"),
    ("", "", "international"),
])
def test_russia(number: str, area_code: str, expected: str) -> None:
    assert classify(number, "RU", area_code) == expected


@pytest.mark.parametrize("number, area_code, expected", [
    ("110", "", "emergency"),
    ("112", "", "emergency"),
    ("101", "", "internal"),                 # an emergency number in Russia only
    ("01701234567", "", "mobile"),
    ("+4930123456", "30", "local"),
    ("030123456", "30", "local"),
    ("004930123456", "30", "local"),
    ("+4930123456", "89", "national"),
    ("09001234567", "", "international"),    # premium rate
    ("+79161234567", "", "international"),
])
def test_germany(number: str, area_code: str, expected: str) -> None:
    assert classify(number, "DE", area_code) == expected


def test_defaults_are_russia_and_a_bad_country_is_refused() -> None:
    assert classify("89161234567") == "mobile"
    assert classify("+12125551234", "us", "212") == "local"
    with pytest.raises(ValueError, match="XX"):
        classify("112", "XX")


@pytest.mark.parametrize("dialled, expected", [
    ("0611", "international"),  # a short number of unknown cost (premium services hide there)
    ("7522", "international"),
    ("100", "international"),
    ("123456", "international"),
    ("112", "emergency"),
    ("89161234567", "mobile"),
])
def test_a_number_sent_to_a_line_is_never_internal(dialled: str, expected: str) -> None:
    assert classify_outside(dialled, "RU") == expected
