import pytest

from pbx.numbers import ANONYMOUS, last_digits, normalise


@pytest.mark.parametrize("raw, area, expected", [
    ("+79161234567", "", "+79161234567"),
    ("89161234567", "", "+79161234567"),
    ("8 495 123-45-67", "", "+74951234567"),
    ("79161234567", "", "+79161234567"),
    ("7 916 123 45 67", "", "+79161234567"),
    ("1234567", "495", "+74951234567"),
    ("123-45-67", "495", "+74951234567"),
    ("", "", ANONYMOUS),
    ("anonymous", "", ANONYMOUS),
    ("0611", "", "0611"),  # operator short code stays as dialled
])
def test_russian_numbers_to_e164(raw: str, area: str, expected: str) -> None:
    assert normalise(raw, "RU", area) == expected


def test_other_country() -> None:
    assert normalise("030 1234567", "DE") == "+49301234567"


def test_last_digits() -> None:
    assert last_digits("+74951234567") == "4951234567"
