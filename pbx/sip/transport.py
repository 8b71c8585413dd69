"""TCP for the SIP edge: framing by Content-Length, connection reuse towards phones."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pbx.errors import SipParseError
from pbx.sip.message import MAX_BODY_BYTES, MAX_HEADER_BYTES

if TYPE_CHECKING:
    from pbx.sip.edge import SipEdge

log = logging.getLogger(__name__)
LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
IDLE_TIMEOUT = 900.0  # a registered phone keeps its connection between re-registrations
PART_TIMEOUT = 10.0  # a message that stalls half-way is abandoned


@dataclass
class Source:
    transport: str  # "UDP" or "TCP"
    host: str
    port: int
    conn: Any  # the asyncio StreamWriter of a TCP connection


class TcpConnections:
    def __init__(self, edge: "SipEdge") -> None:
        self.edge = edge
        self.server: asyncio.base_events.Server | None = None
        self.by_peer: dict[tuple[str, int], asyncio.StreamWriter] = {}

    async def listen(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._client, host, port,
                                                 limit=MAX_HEADER_BYTES + 1024)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.by_peer.values()):
            writer.close()

    def remember(self, src: Source) -> None:
        self.by_peer[(src.host, src.port)] = src.conn

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        writer = self.by_peer.get(addr)
        if writer is not None and not writer.is_closing():
            writer.write(data)
            return
        asyncio.get_running_loop().create_task(self._connect_and_send(data, addr))

    async def _connect_and_send(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*addr), 5)
        except (OSError, asyncio.TimeoutError):
            self.edge.stats["tcp_connect_failures"] += 1
            return
        writer.write(data)
        self.by_peer[addr] = writer
        await self._serve(reader, writer, addr)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[:2]
        self.by_peer[peer] = writer
        await self._serve(reader, writer, peer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     peer: tuple[str, int]) -> None:
        src = Source("TCP", peer[0], peer[1], writer)
        try:
            while True:
                message = await self._read_message(reader, src)
                if message is None:
                    break
                self.edge.handle(message, src)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError,
                SipParseError):
            self.edge.stats["tcp_closed_bad"] += 1
        finally:
            if self.by_peer.get(peer) is writer:
                del self.by_peer[peer]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_message(self, reader: asyncio.StreamReader, src: Source) -> bytes | None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        except asyncio.LimitOverrunError:
            # No end of headers within the limit: answer 513 if we can, then hang up.
            junk = await reader.read(MAX_HEADER_BYTES)
            self.edge.stats["parse_errors"] += 1
            self.edge.handle_oversized(junk, src)
            return None
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                self.edge.stats["tcp_closed_bad"] += 1
            return None
        if not head.strip(b"\r\n"):
            src.conn.write(b"\r\n")  # RFC 5626 keep-alive pong
            return head
        match = LENGTH.search(head)
        length = int(match.group(1)) if match else 0
        if length > MAX_BODY_BYTES:
            raise SipParseError("body too large")
        body = await asyncio.wait_for(reader.readexactly(length), PART_TIMEOUT) if length else b""
        return head + body
