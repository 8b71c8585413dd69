"""SIP messages (RFC 3261): parse() and bytes() round trips that never crash.

Headers keep their order and spelling as received; lookups understand compact forms.
parse() checks the grammar (pbx.sip.grammar) of the start line and of every header the
edge reads, once, into typed fields. Only SipParseError escapes parse(), whatever the input.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from pbx.errors import SipParseError
from pbx.sip import grammar as g
from pbx.sip.grammar import GrammarError
from pbx.sip.uri import NameAddr, Uri, Via, name_addr, parse_via_list, request_uri

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding",
           "o": "event", "r": "refer-to", "u": "allow-events", "x": "session-expires"}
MANDATORY = ("via", "from", "to", "call-id", "cseq")
SINGLE = ("from", "to", "call-id", "cseq", "max-forwards", "content-length")
NAMES = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
         "max-forwards": "Max-Forwards", "content-length": "Content-Length"}
STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6]\d\d)(?: (.*))?$")
VERSION = re.compile(r"SIP/\d+\.\d+", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def canonical(name: str) -> str:
    low = name.strip().lower()
    return COMPACT.get(low, low)


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quotes or <>."""
    if '"' not in value and "<" not in value:
        return [p for p in (part.strip() for part in value.split(",")) if p]
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
    """Headers as received (for forwarding) and, after parse(), the typed values the edge
    reads. The edge changes Via only through push_via/pop_via/replace_top_via so both agree."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    vias: list[Via] = field(default_factory=list)
    from_addr: NameAddr | None = None
    to_addr: NameAddr | None = None
    call_id: str = ""
    cseq_number: int = 0
    cseq_method: str = ""
    contacts: list[NameAddr] = field(default_factory=list)
    contact_star: bool = False
    routes: list[NameAddr] = field(default_factory=list)
    # First value of each header by canonical name: built by parse(), kept by every edit.
    index: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def get(self, name: str) -> str | None:
        key = canonical(name)
        if self.index is not None:
            return self.index.get(key)
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

    def _touch(self, key: str) -> None:
        """Keep the index true after an edit of one header."""
        if self.index is not None:
            self.index.pop(key, None)
            for hname, value in self.headers:
                if canonical(hname) == key:
                    self.index[key] = value
                    break

    def remove(self, name: str) -> None:
        key = canonical(name)
        self.headers = [(h, v) for h, v in self.headers if canonical(h) != key]
        if self.index is not None:
            self.index.pop(key, None)

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
        if self.index is not None:
            self.index[key] = value

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before every other line of the same name (or first)."""
        key = canonical(name)
        if self.index is not None:
            self.index[key] = value
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
                self._touch(key)
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
    def cseq(self) -> tuple[int, str]:
        return self.cseq_number, self.cseq_method

    @property
    def to_tag(self) -> str:
        return self.to_addr.tag if self.to_addr else ""

    @property
    def from_tag(self) -> str:
        return self.from_addr.tag if self.from_addr else ""

    def push_via(self, via: Via) -> None:
        self.prepend("Via", str(via))
        self.vias.insert(0, via)

    def pop_via(self) -> Via:
        self.pop_first("via")
        return self.vias.pop(0)

    def replace_top_via(self, via: Via) -> None:
        self.pop_first("via")
        self.prepend("Via", str(via))
        self.vias[0] = via

    def pop_route(self) -> None:
        self.pop_first("route")
        self.routes.pop(0)


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""
    request_uri: Uri | None = None
    max_forwards: int | None = None

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
    """Parse and check the grammar; GrammarError (a SipParseError) carries what was read."""
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
    msg, start_error = _start(lines[0])
    try:
        _header_lines(msg, lines[1:])
        if start_error is not None:
            raise start_error
        read_headers(msg)
        msg.body = _body(msg, body)
    except GrammarError as exc:
        exc.partial = msg
        raise
    return msg


def _start(line: str) -> tuple[SipRequest | SipResponse, GrammarError | None]:
    """The start line; a request's grammar errors wait until the headers are read, so
    the answer can be addressed."""
    if line.startswith("SIP/"):
        if m := STATUS_LINE.match(line):
            return SipResponse(status=int(m.group(1)), reason=m.group(2) or ""), None
        raise SipParseError(f"malformed status line: {line[:60]!r}")
    parts = line.split(" ")
    if len(parts) < 3 or not any(p.upper().startswith("SIP/") for p in parts[2:]):
        raise SipParseError(f"malformed start line: {line[:60]!r}")
    req = SipRequest(method=parts[0], uri=parts[1])
    if len(parts) != 3 or not parts[1]:
        return req, GrammarError("Request-Line", "not Method SP Request-URI SP SIP-Version")
    if not g.TOKEN.fullmatch(parts[0]):
        return req, GrammarError("Request-Line", "method is not a token")
    if parts[2].upper() != "SIP/2.0":
        status = 505 if VERSION.fullmatch(parts[2]) else 400
        return req, GrammarError("SIP-Version", f"{parts[2][:20]!r} not served", status)
    return req, None


def _header_lines(msg: SipMessage, lines: list[str]) -> None:
    for line in lines:
        if line[:1] in (" ", "\t") and msg.headers:  # folded continuation line
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        name = name.rstrip(" \t")
        if not sep or not g.TOKEN.fullmatch(name):
            raise GrammarError("header line", f"malformed header line: {line[:40]!r}")
        msg.headers.append((name, value.strip()))


def read_headers(msg: SipMessage) -> None:
    """Check every value for control characters and read the headers the edge uses."""
    seen: dict[str, int] = {}
    index: dict[str, str] = {}
    for name, value in msg.headers:
        g.check_text(name, value)
        key = canonical(name)
        seen[key] = seen.get(key, 0) + 1
        index.setdefault(key, value)
        if key == "via":
            msg.vias += parse_via_list(value)
        elif key == "contact":
            if value.strip() == "*":
                msg.contact_star = True
            else:
                msg.contacts += [name_addr(v, "Contact") for v in g.split_commas(value, "Contact")]
        elif key == "route":
            msg.routes += [name_addr(v, "Route") for v in g.split_commas(value, "Route")]
    for key in MANDATORY:
        if key not in seen:
            raise GrammarError(NAMES[key], "missing")
    for key in SINGLE:
        if seen.get(key, 0) > 1:
            raise GrammarError(NAMES[key], "appears more than once")
    msg.index = index
    msg.from_addr = NameAddr.parse(msg.get("from") or "", "From")  # its tag is new each call: not kept
    msg.to_addr = name_addr(msg.get("to") or "", "To")
    msg.call_id = g.call_id(msg.get("call-id") or "")
    msg.cseq_number, msg.cseq_method = g.cseq(msg.get("cseq") or "")
    if isinstance(msg, SipRequest):
        _read_request(msg)


def _read_request(req: SipRequest) -> None:
    if req.cseq_method != req.method:
        raise GrammarError("CSeq", f"method {req.cseq_method[:20]} differs from the request's")
    hops = req.get("max-forwards")
    req.max_forwards = g.max_forwards(hops) if hops is not None else None
    uri = req.request_uri = request_uri(req.uri)
    if uri.scheme != "sip":
        raise GrammarError("Request-URI", f"scheme {uri.scheme[:20]!r} not served", 416)
    if uri.headers:
        raise GrammarError("Request-URI", "headers are not allowed in a Request-URI")


def _body(msg: SipMessage, body: bytes) -> bytes:
    length = msg.get("content-length")
    if length is None:
        return body  # allowed over UDP: the datagram ends the body
    n = g.content_length(length)
    if n > MAX_BODY_BYTES:
        raise SipParseError("body too large")
    if len(body) < n:
        raise GrammarError("Content-Length", "larger than the body (message cut short)")
    return body[:n]
