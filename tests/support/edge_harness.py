"""A SIP edge that is never started: handle() bytes in, the answers it writes out.

For grammar tests at the edge's level (what status a message gets) without sockets."""
from __future__ import annotations

import hashlib

from pbx.sip.edge import SipEdge
from pbx.sip.guard import Guard
from pbx.sip.transport import Source

PASSWORDS = {"101": "s3cret-101", "102": "s3cret-102"}


class Credentials:
    def ha1(self, user: str, realm: str, algorithm: str) -> str | None:
        password = PASSWORDS.get(user)
        if password is None:
            return None
        h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
        return h(f"{user}:{realm}:{password}".encode()).hexdigest()


class Writer:
    """Stands in for a TCP connection's StreamWriter: the edge answers through it."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


class EdgeHarness:
    def __init__(self, guard: Guard | None = None) -> None:
        self.edge = SipEdge("127.0.0.1", 5060, core_addr=("127.0.0.1", 5099),
                            credentials=Credentials(), guard=guard)
        self.edge._own = {("127.0.0.1", 5060)}
        self.relayed: list[bytes] = []
        self.edge._send = lambda data, *rest: self.relayed.append(data)  # type: ignore[method-assign]

    def send(self, data: bytes, host: str = "192.0.2.1", port: int = 5062) -> list[bytes]:
        """Every answer the edge wrote back to this source for the message."""
        writer = Writer()
        self.edge.handle(data, Source("TCP", host, port, writer))
        return writer.written

    def status(self, data: bytes, host: str = "192.0.2.1") -> int | None:
        """The status of the edge's answer, 0 when it relayed the request, None when it
        neither answered nor relayed (dropped)."""
        before = len(self.relayed)
        answers = self.send(data, host)
        if answers:
            return int(answers[0].split(b" ", 2)[1])
        return 0 if len(self.relayed) > before else None
