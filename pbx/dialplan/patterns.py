"""Outbound dial patterns, Asterisk style, compiled to one regular expression each.

Owners know the notation from other PBXes (`9|8XXXXXXXXXX`, `+7.`), so it is kept; the
call path runs a compiled regex per pattern instead of interpreting the text per call.
Dialled strings only ever hold digits, `*`, `#` and `+`, so those are the only literals:
a letter or a space in a pattern is a typo, refused, naming the character.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

LITERALS = frozenset("0123456789*#+")
CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


def _set(text: str, part: str, start: int) -> tuple[str, int]:
    """The regex for `[...]` opening at part[start]; returns it and the index after `]`."""
    end = part.find("]", start)
    if end < 0:
        raise ValueError(f"pattern {text!r}: a '[' is never closed")
    body = part[start + 1:end]
    if not body:
        raise ValueError(f"pattern {text!r}: empty set '[]'")
    chars: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if not c.isdigit():
            raise ValueError(f"pattern {text!r}: a set holds digits and ranges like [1-5], not {c!r}")
        if i + 2 < len(body) and body[i + 1] == "-":
            hi = body[i + 2]
            if not hi.isdigit() or hi < c:
                raise ValueError(f"pattern {text!r}: bad range {body[i:i + 3]!r} in a set")
            chars.append(f"{c}-{hi}")
            i += 3
        elif body[i + 1:i + 2] == "-":
            raise ValueError(f"pattern {text!r}: a range in a set needs two digits, e.g. [1-5]")
        else:
            chars.append(c)
            i += 1
    return "[" + "".join(chars) + "]", end + 1


def _regex(text: str, part: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c.upper() in CLASSES:
            out.append(CLASSES[c.upper()])
        elif c == "[":
            rx, next_i = _set(text, part, i)
            out.append(rx)
            i = next_i
            continue
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        elif c in LITERALS:
            out.append(re.escape(c))
        else:
            raise ValueError(f"pattern {text!r}: {c!r} is no digit, '*', '#', '+', X, Z, N, [set], '.' or '!'")
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> DialPattern:
    body = text[1:] if text.startswith("_") else text
    if not body:
        raise ValueError("empty pattern")
    if body.count("|") > 1:
        raise ValueError(f"pattern {text!r}: at most one '|' (prefix|number)")
    prefix, bar, rest = body.rpartition("|")
    if bar and not prefix:
        raise ValueError(f"pattern {text!r}: nothing before '|' to strip")
    if bar and not rest:
        raise ValueError(f"pattern {text!r}: nothing after '|' to dial")
    regex = f"({_regex(text, prefix)})({_regex(text, rest)})"
    return DialPattern(text, re.compile(regex, re.DOTALL))


@dataclass(frozen=True)
class DialPattern:
    text: str
    regex: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> DialPattern:
        """`prefix|rest`: the prefix must be dialled and is stripped. A leading `_` (the
        Asterisk marker of a pattern) is allowed and ignored. ValueError says what is wrong."""
        if not isinstance(text, str):
            raise ValueError("a pattern is a string such as 9|8XXXXXXXXXX")
        return _compile(text)

    def match(self, dialled: str) -> str | None:
        """The number to dial (prefix stripped) if the whole string matches, else None."""
        m = self.regex.fullmatch(dialled)
        return m.group(2) if m else None

    def __str__(self) -> str:
        return self.text
