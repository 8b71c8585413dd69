"""Via headers, URIs and name-addr values, read by the RFC 3261 grammar (pbx.sip.grammar).

Parsing raises GrammarError naming the header it was asked to read; values keep their
text so a proxy can forward what it received.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pbx.sip import grammar as g
from pbx.sip.grammar import GrammarError

SIP_SCHEMES = ("sip", "sips")


def parse_params(text: str, header: str = "parameters") -> dict[str, str]:
    return g.params(text, header)


def format_params(params: dict[str, str]) -> str:
    return "".join(f";{k}={v}" if v != "" else f";{k}" for k, v in params.items())


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, value: str) -> "Via":
        m = g.VIA_HEAD.fullmatch(value.strip())
        if not m:
            raise GrammarError("Via", "not protocol/version/transport sent-by")
        host, port = g.hostport(m.group(4), "Via")
        params = g.params(m.group(5), "Via")
        ttl = params.get("ttl")
        if ttl is not None and not (ttl.isdigit() and int(ttl) <= 255):
            raise GrammarError("Via", "ttl not 0-255")
        for key in ("received", "maddr"):
            if key in params and not (g.ip_address(params[key]) or g.HOSTNAME.fullmatch(params[key])):
                raise GrammarError("Via", f"bad {key}")
        if params.get("rport") and not g.is_port(params["rport"]):
            raise GrammarError("Via", "bad rport")
        return cls(m.group(3).upper(), host, port, params, f"{m.group(1)}/{m.group(2)}".upper())

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")

    def reply_address(self) -> tuple[str, int]:
        """Where responses go (RFC 3261 18.2.2 with RFC 3581 rport)."""
        host = self.params.get("received") or self.host
        rport = self.params.get("rport")
        port = int(rport) if rport and g.is_port(rport) else (self.port or 5060)
        return host.strip("[]"), port

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        hostport = host + (f":{self.port}" if self.port else "")
        return f"{self.protocol}/{self.transport} {hostport}{format_params(self.params)}"


def parse_via_list(value: str) -> list[Via]:
    return [Via.parse(part) for part in g.split_commas(value, "Via")]


@dataclass
class Uri:
    scheme: str
    user: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)
    headers: str = ""  # the ?h=v part of a SIP URI; the rest of any other scheme
    text: str = ""

    @classmethod
    def parse(cls, text: str, header: str = "URI") -> "Uri":
        scheme, sep, rest = text.partition(":")
        if not sep or not g.SCHEME.fullmatch(scheme):
            raise GrammarError(header, "URI without a scheme")
        scheme = scheme.lower()
        if scheme not in SIP_SCHEMES:
            if not g.OPAQUE.fullmatch(rest):
                raise GrammarError(header, "malformed URI")
            return cls(scheme, "", "", None, {}, rest, text)
        return cls._sip(scheme, rest, header, text)

    @classmethod
    def _sip(cls, scheme: str, rest: str, header: str, text: str) -> "Uri":
        user = ""
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, _, password = userinfo.partition(":")
            if not g.USER.fullmatch(user) or not g.PASSWORD.fullmatch(password):
                raise GrammarError(header, "malformed user part")
        rest, qmark, headers = rest.partition("?")
        if qmark and not all(_uri_header(h) for h in headers.split("&")):
            raise GrammarError(header, "malformed URI headers")
        hostport, _, uparams = rest.partition(";")
        host, port = g.hostport(hostport, header)
        params: dict[str, str] = {}
        if _:
            for part in uparams.split(";"):
                name, eq, value = part.partition("=")
                if not g.URI_PARAM.fullmatch(name) or (eq and not g.URI_PARAM.fullmatch(value)):
                    raise GrammarError(header, "malformed URI parameter")
                params[name.lower()] = value
        return cls(scheme, user, host, port, params, headers if qmark else "", text)

    @property
    def is_sip(self) -> bool:
        return self.scheme in SIP_SCHEMES

    @property
    def transport(self) -> str:
        return self.params.get("transport", "udp").lower()

    def address(self) -> tuple[str, int]:
        return self.host, self.port or 5060


def _uri_header(text: str) -> bool:
    name, eq, value = text.partition("=")
    return bool(eq) and bool(name) and bool(g.URI_HEADER.fullmatch(name)) and bool(g.URI_HEADER.fullmatch(value))


CACHED_UP_TO = 256  # characters: longer values are parsed each time, never kept


def name_addr(value: str, header: str) -> "NameAddr":
    """NameAddr.parse, remembered: a phone sends the same To, Contact and Request-URI in
    every REGISTER. The parsed values are shared between messages: read, never change them."""
    return _name_addr(value, header) if len(value) <= CACHED_UP_TO else NameAddr.parse(value, header)


def request_uri(text: str) -> "Uri":
    return _request_uri(text) if len(text) <= CACHED_UP_TO else Uri.parse(text, "Request-URI")


@functools.lru_cache(maxsize=1024)
def _name_addr(value: str, header: str) -> "NameAddr":
    return NameAddr.parse(value, header)


@functools.lru_cache(maxsize=512)
def _request_uri(text: str) -> "Uri":
    return Uri.parse(text, "Request-URI")


@dataclass
class NameAddr:
    """`"Display" <sip:user@host>;tag=x` or a bare addr-spec with parameters."""

    uri: str
    params: dict[str, str]
    display: str = ""
    parsed: Uri | None = None

    @classmethod
    def parse(cls, value: str, header: str = "address") -> "NameAddr":
        text = value.strip()
        if text.startswith('"'):
            display, rest = g.quoted_string(text, header)
            rest = rest.lstrip(" \t")
            if not rest.startswith("<"):
                raise GrammarError(header, "display name without <URI>")
            return cls._bracketed(rest, display, header)
        if "<" in text:
            display, _, rest = text.partition("<")
            words = display.split()
            if not all(g.TOKEN.fullmatch(w) for w in words):
                raise GrammarError(header, "display name must be tokens or quoted")
            return cls._bracketed("<" + rest, " ".join(words), header)
        uri, _, params = text.partition(";")
        uri = uri.rstrip(" \t")
        if any(c in uri for c in "?, \t>"):
            raise GrammarError(header, "URI with ? or , must be in <>")
        return cls(uri, g.params(";" + params, header) if _ else {}, "", Uri.parse(uri, header))

    @classmethod
    def _bracketed(cls, text: str, display: str, header: str) -> "NameAddr":
        uri, sep, rest = text[1:].partition(">")
        if not sep:
            raise GrammarError(header, "unclosed <")
        if uri != uri.strip() or not uri:
            raise GrammarError(header, "space inside <>")
        return cls(uri, g.params(rest, header), display, Uri.parse(uri, header))

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")
