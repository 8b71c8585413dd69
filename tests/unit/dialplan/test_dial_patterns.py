"""Outbound dial patterns: the Asterisk notation owners know, the whole dialled string
must match, the prefix before `|` is stripped, and a typo is refused with a reason."""
from __future__ import annotations

import pytest

from pbx.dialplan.patterns import DialPattern


@pytest.mark.parametrize("pattern, dialled, expected", [
    ("9|8XXXXXXXXXX", "989161234567", "89161234567"),
    ("9|8XXXXXXXXXX", "89161234567", None),        # the 9 must be dialled
    ("9|8XXXXXXXXXX", "98916123456", None),        # one digit short: the whole string must match
    ("9|8XXXXXXXXXX", "9891612345678", None),      # one too many
    ("+7.", "+79161234567", "+79161234567"),
    ("+7.", "+7", None),                           # '.' is one or more
    ("+7.", "79161234567", None),                  # '+' is a literal
    ("112", "112", "112"),
    ("112", "1120", None),
    ("_9|[1-35]X", "925", "25"),                   # leading '_' ignored; a set with a range and a digit
    ("_9|[1-35]X", "935", "35"),
    ("_9|[1-35]X", "945", None),
    ("_[137]", "3", "3"),
    ("_[137]", "2", None),
    ("NXX", "200", "200"),
    ("NXX", "100", None),                          # N is 2-9
    ("ZX", "10", "10"),
    ("ZX", "01", None),                            # Z is 1-9
    ("nxx", "234", "234"),                         # lower case letters as in Asterisk
    ("9|!", "9", ""),                              # '!' is zero or more
    ("9|!", "9123", "123"),
    ("9|.", "9", None),
    ("*27", "*27", "*27"),
    ("#X", "#5", "#5"),
    ("00|X.", "004930123456", "4930123456"),
])
def test_match(pattern: str, dialled: str, expected: str | None) -> None:
    assert DialPattern.parse(pattern).match(dialled) == expected


@pytest.mark.parametrize("pattern, words", [
    ("", "empty"),
    ("_", "empty"),
    ("9||1", "at most one '|'"),
    ("|1", "nothing before"),
    ("9|", "nothing after"),
    ("9A", "'A'"),
    ("9 1", "' '"),
    ("8-916", "'-'"),
    ("9|[1-", "never closed"),
    ("[]", "empty set"),
    ("[5-1]", "bad range"),
    ("[a]", "'a'"),
    ("[5-]", "two digits"),
])
def test_bad_patterns_say_what_is_wrong(pattern: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        DialPattern.parse(pattern)
    assert words in str(err.value)


def test_not_a_string_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        DialPattern.parse(["9|."])  # type: ignore[arg-type]


def test_compiled_once_and_regex_characters_stay_literal() -> None:
    assert DialPattern.parse("9|8XXXXXXXXXX") is DialPattern.parse("9|8XXXXXXXXXX")
    star = DialPattern.parse("*X")
    assert star.match("*1") == "*1" and star.match("1") is None and star.match("**1") is None
    assert str(star) == "*X"
