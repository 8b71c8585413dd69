"""A few lines of raw SIP over UDP or TCP for edge tests: exact bytes in, exact bytes out
(the real-client tests use SIPp and baresip)."""
from __future__ import annotations

import hashlib
import re
import socket
import uuid


def digest(challenge: str, user: str, password: str, method: str, uri: str,
           nc: str = "00000001", algorithm: str | None = None) -> str:
    """An Authorization value answering `challenge` (in its algorithm unless one is given)."""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    algorithm = algorithm or fields.get("algorithm", "MD5")
    h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
    ha1 = h(f"{user}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    resp = h(f"{ha1}:{fields['nonce']}:{nc}:abc123:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
            f'uri="{uri}", response="{resp}", algorithm={algorithm}, cnonce="abc123", qop=auth, nc={nc}')


class Phone:
    def __init__(self, edge_port: int, transport: str = "UDP", source: str = "127.0.0.1") -> None:
        self.transport = transport
        self.edge = ("127.0.0.1", edge_port)
        kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.settimeout(3)
        if transport == "UDP":
            self.sock.bind((source, 0))
        else:
            self.sock.connect(self.edge)
        self.port = self.sock.getsockname()[1]
        self.buffer = b""
        self.last_sent = b""

    def send(self, data: bytes) -> None:
        self.last_sent = data
        if self.transport == "UDP":
            self.sock.sendto(data, self.edge)
        else:
            self.sock.sendall(data)

    def recv(self, timeout: float = 3) -> bytes:
        self.sock.settimeout(timeout)
        if self.transport == "UDP":
            return self.sock.recv(65536)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int((re.search(rb"Content-Length: *(\d+)", head, re.I) or [0, b"0"])[1])
        body, self.buffer = rest[:length], rest[length:]
        return head + b"\r\n\r\n" + body

    def register(self, user: str, password: str | None, cseq: int = 1,
                 call_id: str | None = None, auth: str = "", expires: int = 300) -> bytes:
        call_id = call_id or uuid.uuid4().hex
        t = self.transport
        msg = (f"REGISTER sip:127.0.0.1:{self.edge[1]} SIP/2.0\r\n"
               f"Via: SIP/2.0/{t} 127.0.0.1:{self.port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=t{cseq}\r\n"
               f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
               f"Contact: <sip:{user}@127.0.0.1:{self.port};transport={t.lower()}>\r\n"
               f"Expires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n").encode()
        self.send(msg)
        reply = self.recv()
        if password is None or not reply.startswith(b"SIP/2.0 401"):
            return reply
        challenge = re.search(rb"WWW-Authenticate: (.*)\r\n", reply).group(1).decode()
        header = "Authorization: " + digest(challenge, user, password, "REGISTER",
                                            f"sip:127.0.0.1:{self.edge[1]}") + "\r\n"
        return self.register(user, None, cseq + 1, call_id, header, expires)

    def close(self) -> None:
        self.sock.close()
