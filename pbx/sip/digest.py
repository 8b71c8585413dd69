"""Digest authentication for SIP (RFC 2617 / 7616 / 8760), MD5 and SHA-256, qop=auth.

Nonces are stateless: a timestamp and an HMAC over it with a per-boot secret, so they
expire without a table. Nonce counts are remembered per nonce to refuse replays. The
challenge never depends on the user, so an unknown user and a wrong password get the
same answer but for the nonce.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol

MAX_NONCES = 200_000  # nonces in use at once (a phone keeps one per registration)
ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
PARAM = re.compile(r'([A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')


class Credentials(Protocol):
    def ha1(self, user: str, realm: str, algorithm: str) -> str | None: ...


class Verdict(Enum):
    OK = "ok"
    MISSING = "missing"  # no credentials: challenge, not a failure
    STALE = "stale"  # expired nonce, right password: challenge with stale=true
    FAILED = "failed"  # wrong password, unknown user, replay, forged nonce


@dataclass
class AuthResult:
    verdict: Verdict
    user: str = ""


def parse_authorization(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {k.lower(): v[1:-1].replace('\\"', '"') if v.startswith('"') else v
            for k, v in PARAM.findall(rest)}


class DigestAuth:
    def __init__(self, realm: str, credentials: Credentials, *, nonce_ttl: float = 300.0,
                 clock: Callable[[], float] = time.time,
                 algorithms: tuple[str, ...] = ("MD5",)) -> None:
        self.realm = realm
        self.credentials = credentials
        self.nonce_ttl = nonce_ttl
        self.clock = clock
        # Offered in challenges, in order. Older phones (baresip 1.0's libre, many desk
        # phones) give up on a challenge list with an algorithm they lack, so MD5 alone
        # is the default, as in Asterisk/FreePBX; SHA-256 answers are always accepted.
        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown or not algorithms:
            raise ValueError(f"digest algorithms must be among {list(ALGORITHMS)}: {algorithms}")
        self.algorithms = algorithms
        self.accepted = set(algorithms) | {"SHA-256"}
        self._secret = secrets.token_bytes(32)
        self._serial = itertools.count(secrets.randbelow(2 ** 32))
        # Last nonce count per nonce, oldest first use first: expiry pops from the front,
        # O(1) per request, and a flood of fresh nonces cannot grow it past MAX_NONCES.
        self._counts: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._forgotten_upto = 0.0  # nonces issued before this lost their count to the size cap
        self._lock = threading.Lock()

    # ---- challenges -------------------------------------------------------------------
    def make_nonce(self) -> str:
        # Unique by the counter, unforgeable by the HMAC: no random bytes (a syscall) needed.
        stamp = struct.pack("!dI", self.clock(), next(self._serial) & 0xFFFFFFFF)
        mac = hmac.new(self._secret, stamp, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(stamp + mac).decode().rstrip("=")

    def _nonce_age(self, nonce: str) -> float | None:
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != 24:
            return None
        stamp, mac = raw[:12], raw[12:]
        if not hmac.compare_digest(mac, hmac.new(self._secret, stamp, hashlib.sha256).digest()[:12]):
            return None
        return self.clock() - struct.unpack("!d", stamp[:8])[0]

    def challenges(self, stale: bool = False) -> list[str]:
        """Header values, one per algorithm, same nonce, in order of preference."""
        nonce = self.make_nonce()
        extra = ", stale=true" if stale else ""
        return [f'Digest realm="{self.realm}", nonce="{nonce}", algorithm={alg}, qop="auth"{extra}'
                for alg in self.algorithms]

    # ---- verification -----------------------------------------------------------------
    def verify(self, header: str | None, method: str) -> AuthResult:
        if not header:
            return AuthResult(Verdict.MISSING)
        p = parse_authorization(header)
        user = p.get("username", "")
        algorithm = p.get("algorithm", "MD5").upper()
        if algorithm == "SHA256":
            algorithm = "SHA-256"
        needed = ("username", "realm", "nonce", "uri", "response", "cnonce", "nc")
        if (any(k not in p for k in needed) or p.get("qop") != "auth"
                or algorithm not in self.accepted or p["realm"] != self.realm):
            return AuthResult(Verdict.FAILED, user)
        age = self._nonce_age(p["nonce"])
        if age is None or age < -5:
            return AuthResult(Verdict.FAILED, user)
        ha1 = self.credentials.ha1(user, self.realm, algorithm)
        if ha1 is None:
            return AuthResult(Verdict.FAILED, user)
        h = ALGORITHMS[algorithm]
        ha2 = h(f"{method}:{p['uri']}".encode()).hexdigest()
        expected = h(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}".encode()).hexdigest()
        if not hmac.compare_digest(expected, p["response"].lower()):
            return AuthResult(Verdict.FAILED, user)
        if age > self.nonce_ttl:
            return AuthResult(Verdict.STALE, user)
        if not self._count_ok(p["nonce"], p["nc"], issued=self.clock() - age):
            return AuthResult(Verdict.FAILED, user)
        return AuthResult(Verdict.OK, user)

    def _count_ok(self, nonce: str, nc_hex: str, issued: float) -> bool:
        try:
            nc = int(nc_hex, 16)
        except ValueError:
            return False
        now = self.clock()
        with self._lock:
            known = self._counts.get(nonce)
            if known is None and issued <= self._forgotten_upto:
                return False  # its count was dropped: it may be a replay, challenge again
            last, first_use = known or (0, now)
            if nc <= last:
                return False  # replayed or reordered: a fresh challenge sorts out honest clients
            self._counts[nonce] = (nc, first_use)
            cutoff = now - self.nonce_ttl - 60  # a nonce older than this is refused as stale anyway
            while self._counts and len(self._counts) > MAX_NONCES:
                self._forgotten_upto = max(self._forgotten_upto, self._counts.popitem(last=False)[1][1])
            while self._counts and next(iter(self._counts.values()))[1] < cutoff:
                self._counts.popitem(last=False)
        return True
