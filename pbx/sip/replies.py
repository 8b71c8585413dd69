"""Responses the edge writes itself (401/407, 200 to REGISTER and OPTIONS, 400, ...)."""
from __future__ import annotations

import functools
import hashlib
import re
import time
from email.utils import formatdate

from pbx.errors import SipParseError
from pbx.sip.grammar import CONTROL, GrammarError
from pbx.sip.message import SipRequest, SipResponse, canonical

TAG_PREFIX = "pbxe"
SERVER = "pbx-appliance"
CAPABILITIES = [("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, NOTIFY, REFER"),
                ("Accept", "application/sdp"), ("Supported", "path, outbound")]
COPIED = ("via", "from", "call-id", "cseq")
LINE = re.compile(rb"^(via|v|from|f|to|t|call-id|i|cseq)[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)


@functools.lru_cache(maxsize=4)
def http_date(second: int) -> str:
    return formatdate(second, usegmt=True)


def local_tag(call_id: str, from_tag: str) -> str:
    """Deterministic, so a retransmitted request gets the same To tag back."""
    return TAG_PREFIX + hashlib.sha1(f"{call_id}|{from_tag}".encode()).hexdigest()[:10]


def response(req: SipRequest, status: int, reason: str,
             headers: list[tuple[str, str]] | None = None) -> SipResponse:
    resp = SipResponse(status=status, reason=reason)
    for hname, value in req.headers:
        if canonical(hname) in COPIED:
            resp.headers.append((hname, value))
    to = req.get("to") or ""
    if status > 100 and not req.to_tag:
        to += ";tag=" + local_tag(req.call_id, req.from_tag)
    resp.headers.insert(1 if resp.headers else 0, ("To", to))
    resp.headers += [("Server", SERVER), ("Date", http_date(int(time.time())))]
    resp.headers += headers or []
    return resp


def for_unparseable(data: bytes, exc: SipParseError) -> bytes | None:
    """A 400 (or 513) built from whatever headers can be read, or None to drop.

    Responses and ACKs are never answered, and without Via, From, To, Call-ID and CSeq
    there is nowhere sensible to send an answer.
    """
    head = data[:8192]
    first = head.split(b"\r\n", 1)[0]
    if not re.match(rb"^[A-Z]{2,16} \S+ SIP/2\.0$", first) or first.startswith(b"ACK "):
        return None
    found: dict[str, bytes] = {}
    for m in LINE.finditer(head):
        key = {b"v": b"via", b"f": b"from", b"t": b"to", b"i": b"call-id"}.get(m.group(1).lower(),
                                                                                m.group(1).lower())
        found.setdefault(key.decode(), re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"?", m.group(2).strip()))
    if any(k not in found for k in ("via", "from", "to", "call-id", "cseq")):
        return None
    too_large = "too large" in exc.message
    status = b"513 Message Too Large" if too_large else b"400 Bad Request"
    lines = [b"SIP/2.0 " + status, b"Via: " + found["via"], b"From: " + found["from"],
             b"To: " + found["to"], b"Call-ID: " + found["call-id"], b"CSeq: " + found["cseq"],
             b"Warning: 399 pbx \"" + exc.message[:80].replace('"', "'").encode() + b"\"",
             b"Content-Length: 0"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def rejection(req: SipRequest | SipResponse, exc: GrammarError) -> bytes | None:
    """The answer to a request the grammar refused, addressed from the headers as received
    (they may be the broken ones, so nothing here relies on their parsed form)."""
    if not isinstance(req, SipRequest) or req.method == "ACK":
        return None
    if req.get("via") is None:
        return None  # nowhere to address it (RFC 4475 insuf still gets an answer: it has a Via)
    resp = SipResponse(status=exc.status, reason=exc.reason)
    for hname, value in req.headers:
        if canonical(hname) in COPIED:
            resp.headers.append((hname, CONTROL.sub("?", value)))
    to = req.get("to")
    if to is not None:
        to = CONTROL.sub("?", to)
        if "tag=" not in to:
            to += ";tag=" + local_tag(CONTROL.sub("?", req.get("call-id") or ""), "")
        resp.headers.insert(1, ("To", to))
    warning = exc.message[:100].replace('"', "'")
    resp.headers += [("Server", SERVER), ("Warning", f'399 pbx "{CONTROL.sub("?", warning)}"')]
    return bytes(resp)
