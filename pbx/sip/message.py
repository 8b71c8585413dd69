"""SIP messages (RFC 3261): parse() and bytes() round trips that never crash.

Headers keep their order and spelling as received; lookups understand compact forms.
Only SipParseError escapes parse(), whatever the input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pbx.errors import SipParseError

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding",
           "o": "event", "r": "refer-to", "u": "allow-events", "x": "session-expires"}
MANDATORY = ("via", "from", "to", "call-id", "cseq")
REQUEST_LINE = re.compile(r"^([A-Za-z]+) (\S+) SIP/2\.0$")
STATUS_LINE = re.compile(r"^SIP/2\.0 (\d{3}) ?(.*)$")
TOKEN = re.compile(r"^[!%*_+`'~.A-Za-z0-9-]+$")


def canonical(name: str) -> str:
    low = name.strip().lower()
    return COMPACT.get(low, low)


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quotes or <>."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and ch == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


@dataclass
class SipMessage:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        key = canonical(name)
        for hname, value in self.headers:
            if canonical(hname) == key:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """All values of a header, comma lists split (Via, Route, Contact, ...)."""
        key = canonical(name)
        out: list[str] = []
        for hname, value in self.headers:
            if canonical(hname) == key:
                out.extend(split_list(value))
        return out

    def remove(self, name: str) -> None:
        key = canonical(name)
        self.headers = [(h, v) for h, v in self.headers if canonical(h) != key]

    def set(self, name: str, value: str) -> None:
        """Replace every line of the header with one, keeping the first one's place."""
        key = canonical(name)
        out: list[tuple[str, str]] = []
        done = False
        for hname, old in self.headers:
            if canonical(hname) != key:
                out.append((hname, old))
            elif not done:
                out.append((hname, value))
                done = True
        if not done:
            out.append((name, value))
        self.headers = out

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before every other line of the same name (or first)."""
        key = canonical(name)
        for i, (hname, _) in enumerate(self.headers):
            if canonical(hname) == key:
                self.headers.insert(i, (name, value))
                return
        self.headers.insert(0, (name, value))

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first value of a (possibly comma-listed) header."""
        key = canonical(name)
        for i, (hname, value) in enumerate(self.headers):
            if canonical(hname) == key:
                values = split_list(value)
                if len(values) <= 1:
                    del self.headers[i]
                else:
                    self.headers[i] = (hname, ", ".join(values[1:]))
                return values[0] if values else None
        return None

    def start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        lines = [self.start_line()]
        lines += [f"{h}: {v}" for h, v in self.headers if canonical(h) != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("cseq") or "").partition(" ")
        return int(number), method.strip()


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass
class SipResponse(SipMessage):
    status: int = 0
    reason: str = ""

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def split_head(data: bytes) -> tuple[bytes, bytes]:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > MAX_HEADER_BYTES:
            raise SipParseError("header section too large")
        raise SipParseError("message cut short: no end of headers")
    if end > MAX_HEADER_BYTES:
        raise SipParseError("header section too large")
    return data[:end], data[end + 4:]


def parse(data: bytes) -> SipRequest | SipResponse:
    try:
        return _parse(data)
    except SipParseError:
        raise
    except Exception as exc:  # any other surprise is still just a bad message
        raise SipParseError(f"unparseable message: {exc}") from None


def _parse(data: bytes) -> SipRequest | SipResponse:
    head, body = split_head(data.lstrip(b"\r\n"))
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = text.split("\r\n")
    msg = _start(lines[0])
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and msg.headers:  # folded continuation line
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep or not TOKEN.match(name.strip()):
            raise SipParseError(f"malformed header line: {line[:40]!r}")
        msg.headers.append((name.strip(), value.strip()))
    missing = [h for h in MANDATORY if msg.get(h) is None]
    if missing:
        raise SipParseError(f"missing header(s): {', '.join(missing)}")
    number, _, method = (msg.get("cseq") or "").partition(" ")
    if not number.strip().isdigit() or not method.strip():
        raise SipParseError("malformed CSeq")
    msg.body = _body(msg, body)
    return msg


def _start(line: str) -> SipRequest | SipResponse:
    if m := REQUEST_LINE.match(line):
        return SipRequest(method=m.group(1).upper(), uri=m.group(2))
    if m := STATUS_LINE.match(line):
        return SipResponse(status=int(m.group(1)), reason=m.group(2))
    raise SipParseError(f"malformed start line: {line[:60]!r}")


def _body(msg: SipMessage, body: bytes) -> bytes:
    length = msg.get("content-length")
    if length is None:
        return body  # allowed over UDP: the datagram ends the body
    if not length.strip().isdigit():
        raise SipParseError("malformed Content-Length")
    n = int(length)
    if n > MAX_BODY_BYTES:
        raise SipParseError("body too large")
    if len(body) < n:
        raise SipParseError("message cut short: body shorter than Content-Length")
    return body[:n]
