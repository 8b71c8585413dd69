"""Location service: which contacts each extension has registered, and until when."""
from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from pbx.events import EventBus
from pbx.sip.message import SipRequest
from pbx.sip.uri import NameAddr, parse_params


@dataclass
class Binding:
    ext: str
    uri: str  # the Contact URI as the phone sent it
    transport: str  # "udp" or "tcp": how the phone reached us
    source: tuple[str, int]  # where it really is (NAT: received/rport)
    expires_at: float
    user_agent: str
    call_id: str
    cseq: int

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"ext": self.ext, "contact": self.uri, "transport": self.transport,
                "source": f"{self.source[0]}:{self.source[1]}",
                "expires": max(0, int(self.expires_at - now)), "user_agent": self.user_agent}


class RegistrationError(Exception):
    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or []


class Registrar:
    def __init__(self, *, min_expires: int = 60, max_expires: int = 3600,
                 default_expires: int = 3600, bus: EventBus | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.min_expires, self.max_expires = min_expires, max_expires
        self.default_expires = default_expires
        self.bus = bus
        self.clock = clock
        self._lock = threading.Lock()
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._total = 0  # bindings held, kept as they change: count() is on every REGISTER
        # The appliance's own SIP addresses (the edge's, the core's): no phone's contact may be
        # one, or requests meant for the appliance would go to whoever registered it.
        self.own_addresses: set[tuple[str, int]] = set()

    def contacts(self, ext: str) -> list[Binding]:
        now = self.clock()
        with self._lock:
            return [b for b in self._bindings.get(ext, {}).values() if b.expires_at > now]

    def find_by_uri(self, uri: str) -> Binding | None:
        now = self.clock()
        with self._lock:
            for bindings in self._bindings.values():
                b = bindings.get(uri)
                if b is not None and b.expires_at > now:
                    return b
        return None

    def user_at(self, source: tuple[str, int]) -> str | None:
        """The extension a live binding registered from this address (host, port) has."""
        now = self.clock()
        with self._lock:
            for bindings in self._bindings.values():
                for b in bindings.values():
                    if b.source == source and b.expires_at > now:
                        return b.ext
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self._lock:
            return [b.to_dict(now) for bs in self._bindings.values() for b in bs.values()
                    if b.expires_at > now]

    def count(self) -> int:
        """Bindings held (expired ones included until their next refresh): cheap, for LEDs."""
        return self._total

    def register(self, req: SipRequest, user: str, transport: str,
                 source: tuple[str, int]) -> list[Binding]:
        """Apply a REGISTER from the authenticated `user`; returns the current bindings."""
        to_uri = req.to_addr.parsed if req.to_addr else None
        if to_uri is None or not to_uri.is_sip:
            raise RegistrationError(416, "Unsupported URI Scheme")
        if to_uri.user != user:
            raise RegistrationError(403, "Forbidden: To user differs from the authenticated user")
        contacts = req.contacts
        header_expires = (req.get("expires") or "").strip()
        now = self.clock()
        cseq, _ = req.cseq
        with self._lock:
            before = set(self._bindings.get(user, {}))
            # Changes go to a copy that replaces the bindings only once the whole REGISTER
            # was accepted: a refused one changes nothing (and the count stays true).
            bindings = dict(self._bindings.get(user, {}))
            if req.contact_star:
                if header_expires != "0" or contacts:
                    raise RegistrationError(400, "Contact * needs Expires: 0")
                bindings.clear()
            else:
                for addr in contacts:
                    self._apply(bindings, user, addr, header_expires, req, transport, source,
                                now, cseq)
            for uri in [u for u, b in bindings.items() if b.expires_at <= now]:
                del bindings[uri]
            current = list(bindings.values())
            self._bindings[user] = bindings
            self._total += len(bindings) - len(before)
            changed = set(bindings) != before
        if self.bus is not None and changed:  # a refresh of the same contacts tells nobody news
            self.bus.publish("registration", ext=user, contacts=[b.uri for b in current])
            self.bus.publish("registrations", count=self._total)
        return current

    def _apply(self, bindings: dict[str, Binding], user: str, addr: NameAddr, header_expires: str,
               req: SipRequest, transport: str, source: tuple[str, int], now: float,
               cseq: int) -> None:
        raw = addr.params.get("expires", header_expires) or str(self.default_expires)
        if not raw.isascii() or not raw.isdigit():
            raise RegistrationError(400, "Bad Expires")
        expires = min(int(raw), self.max_expires)
        old = bindings.get(addr.uri)
        if old is not None and old.call_id == req.call_id and cseq <= old.cseq:
            raise RegistrationError(500, "Out of order CSeq")  # RFC 3261 10.3 step 7
        if expires == 0:
            bindings.pop(addr.uri, None)
            return
        uri = addr.parsed
        if uri is not None and (uri.host, uri.port or 5060) in self.own_addresses:
            raise RegistrationError(403, "Forbidden: the contact is this appliance")
        if uri is not None and _loopback(uri.host) and not _loopback(source[0]):
            raise RegistrationError(403, "Forbidden: a loopback contact from another host")
        if expires < self.min_expires:
            raise RegistrationError(423, "Interval Too Brief", [("Min-Expires", str(self.min_expires))])
        bindings[addr.uri] = Binding(user, addr.uri, transport, source, now + expires,
                                     req.get("user-agent") or "", req.call_id, cseq)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def contact_header(binding: Binding, now: float) -> str:
    return f"<{binding.uri}>;expires={max(0, int(binding.expires_at - now))}"


__all__ = ["Binding", "Registrar", "RegistrationError", "contact_header", "parse_params"]
