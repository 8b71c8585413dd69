"""Via headers, SIP URIs and name-addr values: just what a proxy and registrar need."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pbx.errors import SipParseError

VIA = re.compile(r"^SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)\s+([^;\s]+)\s*(.*)$")
URI = re.compile(r"^(sips?):(?:([^@;?]*)@)?([^;?]+)(.*)$", re.IGNORECASE)


def parse_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if part:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def format_params(params: dict[str, str]) -> str:
    return "".join(f";{k}={v}" if v != "" else f";{k}" for k, v in params.items())


def split_hostport(text: str, default_port: int | None) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.partition(":")
    if not host:
        raise SipParseError("empty host")
    if port and not port.isdigit():
        raise SipParseError(f"bad port {port!r}")
    return host.lower(), int(port) if port else default_port


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> "Via":
        m = VIA.match(value.strip())
        if not m:
            raise SipParseError(f"malformed Via: {value[:60]!r}")
        host, port = split_hostport(m.group(2), None)
        return cls(m.group(1).upper(), host, port, parse_params(m.group(3)))

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")

    def reply_address(self) -> tuple[str, int]:
        """Where responses go (RFC 3261 18.2.2 with RFC 3581 rport)."""
        host = self.params.get("received") or self.host
        rport = self.params.get("rport")
        port = int(rport) if rport and rport.isdigit() else (self.port or 5060)
        return host, port

    def __str__(self) -> str:
        hostport = self.host + (f":{self.port}" if self.port else "")
        return f"SIP/2.0/{self.transport} {hostport}{format_params(self.params)}"


@dataclass
class Uri:
    scheme: str
    user: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "Uri":
        text = text.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1]
        m = URI.match(text)
        if not m:
            raise SipParseError(f"malformed URI: {text[:60]!r}")
        rest = m.group(4).split("?", 1)[0]
        host, port = split_hostport(m.group(3), None)
        return cls(m.group(1).lower(), m.group(2) or "", host, port, parse_params(rest))

    @property
    def transport(self) -> str:
        return self.params.get("transport", "udp").lower()

    def address(self) -> tuple[str, int]:
        return self.host, self.port or 5060


@dataclass
class NameAddr:
    """`"Display" <sip:user@host>;tag=x` or a bare URI with parameters."""

    uri: str
    params: dict[str, str]
    display: str = ""

    @classmethod
    def parse(cls, value: str) -> "NameAddr":
        value = value.strip()
        if "<" in value:
            display, _, rest = value.partition("<")
            uri, _, params = rest.partition(">")
            return cls(uri.strip(), parse_params(params), display.strip().strip('"'))
        uri, _, params = value.partition(";")
        return cls(uri.strip(), parse_params(params))

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")
