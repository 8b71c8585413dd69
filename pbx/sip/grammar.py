"""The RFC 3261 section 25 grammar of the header values the edge reads.

Each reader takes one header value (unfolded) and returns a typed value or raises
GrammarError naming the header, so the edge can answer `400 Bad <Header>` (or 416/505).
Character classes follow the ABNF's names; regexes are compiled once and only ever
match one short value, never a whole message.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from pbx.errors import SipParseError

ALNUM = "A-Za-z0-9"
TOKEN_CHARS = ALNUM + r"\-.!%*_+`'~"
UNRESERVED = ALNUM + r"\-_.!~*'()"
ESCAPED = "%[0-9A-Fa-f]{2}"
TOKEN = re.compile(f"[{TOKEN_CHARS}]+")
WORD = f"[{TOKEN_CHARS}()<>:\\\\\"/\\[\\]?{{}}]+"
CALL_ID = re.compile(f"{WORD}(?:@{WORD})?")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
HOSTNAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*"
                      r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?")
IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}")
USER = re.compile(f"(?:[{UNRESERVED}&=+$,;?/]|{ESCAPED})+")
PASSWORD = re.compile(f"(?:[{UNRESERVED}&=+$,]|{ESCAPED})*")
URI_PARAM = re.compile(f"(?:[{UNRESERVED}\\[\\]/:&+$]|{ESCAPED})+")
URI_HEADER = re.compile(f"(?:[{UNRESERVED}\\[\\]/?:+$]|{ESCAPED})*")
OPAQUE = re.compile(f"(?:[{UNRESERVED};/?:@&=+$,\\[\\]]|{ESCAPED})+")
GEN_VALUE = re.compile(f"[{TOKEN_CHARS}:\\[\\]]+")  # token / host (IPv6 references too)
SIMPLE_PARAMS = re.compile(f"(?:;[{TOKEN_CHARS}]+(?:=[{TOKEN_CHARS}:\\[\\]]+)?)*")
PORT = re.compile(r"[0-9]{1,5}")
DIGITS = re.compile(r"[0-9]+")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
VIA_HEAD = re.compile(f"([{TOKEN_CHARS}]+)[ \\t]*/[ \\t]*([{TOKEN_CHARS}]+)[ \\t]*/[ \\t]*"
                      f"([{TOKEN_CHARS}]+)[ \\t]+([^;\\s]+)[ \\t]*(.*)", re.DOTALL)
MAX_CSEQ = 2 ** 31  # RFC 3261 8.1.1.5: the number MUST be less than 2**31
STATUS_REASONS = {400: "Bad", 416: "Unsupported URI Scheme", 501: "Not Implemented",
                  505: "Version Not Supported", 513: "Message Too Large"}


class GrammarError(SipParseError):
    """A header (or the start line) that violates the grammar: the header is named in the
    reason phrase, the detail goes into a Warning header."""

    def __init__(self, header: str, problem: str, status: int = 400) -> None:
        super().__init__(f"{header}: {problem}")
        self.header, self.problem, self.status = header, problem, status
        self.partial: Any = None  # the message as far as it was read, to address the answer

    @property
    def reason(self) -> str:
        if self.status == 400:
            return f"Bad {self.header}"
        return STATUS_REASONS.get(self.status, "Bad Request")


def check_text(header: str, value: str) -> None:
    """No control characters but HTAB, except escaped inside a quoted string (quoted-pair
    allows %x00-09 / %x0B-0C / %x0E-7F, so `"BEL:\\\x07"` is a legal display name)."""
    if CONTROL.search(value) is None:
        return
    quoted, escaped = False, False
    for ch in value:
        if escaped:
            if ch in "\r\n":
                break
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif CONTROL.match(ch):
            break
    else:
        return
    raise GrammarError(header, "control character in the value")


def split_commas(value: str, header: str) -> list[str]:
    """Elements of a comma list (outside quotes and <>); an empty element is an error."""
    if '"' not in value and "<" not in value:  # the common case: no comma can hide
        parts = [p.strip() for p in value.split(",")]
        if not all(parts):
            raise GrammarError(header, "empty list element")
        return parts
    parts = []
    depth, quoted, escaped, start = 0, False, False, 0
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    if quoted:
        raise GrammarError(header, "unterminated quoted string")
    if any(not p for p in parts):
        raise GrammarError(header, "empty list element")
    return parts


def quoted_string(text: str, header: str) -> tuple[str, str]:
    """Parse a quoted-string at the start of text: (unescaped content, rest)."""
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] in "\r\n":
                break
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), text[i + 1:]
        out.append(ch)
        i += 1
    raise GrammarError(header, "unterminated quoted string")


def params(text: str, header: str) -> dict[str, str]:
    """`*( SEMI generic-param )` with LWS around ; and =. Empty parameters are errors."""
    out: dict[str, str] = {}
    rest = text.strip()
    if SIMPLE_PARAMS.fullmatch(rest):  # no quotes, no spaces: what phones send
        for part in rest[1:].split(";") if rest else ():
            name, _, value = part.partition("=")
            out[name.lower()] = value
        return out
    while rest:
        if rest[0] != ";":
            raise GrammarError(header, f"unexpected {rest[:20]!r}")
        rest = rest[1:].lstrip()
        name_end = 0
        while name_end < len(rest) and rest[name_end] not in " \t=;":
            name_end += 1
        name = rest[:name_end]
        if not TOKEN.fullmatch(name):
            raise GrammarError(header, "empty or malformed parameter")
        rest = rest[name_end:].lstrip()
        value = ""
        if rest.startswith("="):
            rest = rest[1:].lstrip()
            if rest.startswith('"'):
                value, rest = quoted_string(rest, header)
            else:
                end = 0
                while end < len(rest) and rest[end] not in " \t;":
                    end += 1
                value, rest = rest[:end], rest[end:]
                if not GEN_VALUE.fullmatch(value):
                    raise GrammarError(header, f"malformed value of parameter {name!r}")
            rest = rest.lstrip()
        out[name.lower()] = value
    return out


def hostport(text: str, header: str) -> tuple[str, int | None]:
    """host [":" port]: a hostname, an IPv4 address or an IPv6 reference in brackets."""
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise GrammarError(header, f"bad IPv6 reference {text[:48]!r}") from None
        if not sep:
            raise GrammarError(header, "unclosed IPv6 reference")
        host, port = inner.lower(), rest
        if port and not port.startswith(":"):
            raise GrammarError(header, f"junk after host {text[:48]!r}")
        port = port[1:] if port else ""
    else:
        host, _, port = text.partition(":")
        if not (IPV4.fullmatch(host) or HOSTNAME.fullmatch(host)):
            raise GrammarError(header, f"bad host {text[:48]!r}")
        host = host.lower()
        if _ == ":" and not port:
            raise GrammarError(header, "empty port")
    if port and not is_port(port):
        raise GrammarError(header, f"bad port {port[:10]!r}")
    return host, int(port) if port else None


def is_port(text: str) -> bool:
    """1*DIGIT in ASCII (str.isdigit() also takes '²') and a port a socket can use."""
    return PORT.fullmatch(text) is not None and int(text) <= 65535


def ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def cseq(value: str) -> tuple[int, str]:
    number, _, method = value.strip().partition(" ")
    method = method.strip()
    if not DIGITS.fullmatch(number) or not TOKEN.fullmatch(method):
        raise GrammarError("CSeq", "not a number and a method")
    n = int(number)
    if n >= MAX_CSEQ:
        raise GrammarError("CSeq", "number not below 2**31")
    return n, method


def max_forwards(value: str) -> int:
    value = value.strip()
    if not DIGITS.fullmatch(value) or int(value) > 255:
        raise GrammarError("Max-Forwards", "not a number from 0 to 255")
    return int(value)


def content_length(value: str) -> int:
    value = value.strip()
    if not DIGITS.fullmatch(value):
        raise GrammarError("Content-Length", "not a number")
    return int(value)


def call_id(value: str) -> str:
    value = value.strip()
    if not CALL_ID.fullmatch(value):
        raise GrammarError("Call-ID", "not word[@word]")
    return value
