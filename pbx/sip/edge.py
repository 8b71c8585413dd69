"""The SIP edge: registrar and stateless proxy between the LAN phones and the core.

Runs its own asyncio loop in a thread, on UDP and TCP. Phones' REGISTERs are answered
here; every other request is relayed to the core (after digest auth for out-of-dialog
requests) or from the core to the phone, with record-routing so dialogs stay on the edge.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from collections import Counter, OrderedDict
from typing import Callable
from urllib.parse import unquote

from pbx.errors import ConfigError, PbxError, SipParseError
from pbx.events import EventBus
from pbx.sip import replies
from pbx.sip.digest import Credentials, DigestAuth, Verdict
from pbx.sip.grammar import GrammarError, ip_address
from pbx.sip.guard import Guard
from pbx.sip.message import MAX_HEADER_BYTES, SipRequest, SipResponse, parse
from pbx.sip.registrar import Registrar, RegistrationError, contact_header
from pbx.sip.transport import Source, TcpConnections
from pbx.sip.uri import NameAddr, Via

log = logging.getLogger(__name__)
CALLER_HEADER = "X-Pbx-Caller"
RETRANSMIT_WINDOW = 32.0  # seconds: RFC 3261 timer F, how long a UDP client may resend
DIALOG_CREATING = {"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"}
COUNTED = {"Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Contact", "Route",
           "Request-URI", "Request-Line", "SIP-Version", "header line", "User-Agent", "Subject"}
KNOWN_METHODS = {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE", "NOTIFY",
                 "REFER", "SUBSCRIBE", "MESSAGE", "PRACK", "PUBLISH"}


def primary_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class SipEdge:
    def __init__(self, host: str, port: int, *, core_addr: tuple[str, int],
                 credentials: Credentials, realm: str = "pbx", bus: EventBus | None = None,
                 clock: Callable[[], float] = time.time, advertised_host: str | None = None,
                 guard: Guard | None = None, digest_algorithms: tuple[str, ...] = ("MD5",)) -> None:
        self.host, self.port = host, port
        wildcard = host in ("", "0.0.0.0", "::")
        self.core_addr = core_addr
        self.core_side_host = "127.0.0.1" if wildcard else host
        self.advertised_host = advertised_host or (primary_address() if wildcard else host)
        self.registrar = Registrar(bus=bus, clock=clock)
        try:
            self.auth = DigestAuth(realm, credentials, clock=clock, algorithms=digest_algorithms)
        except ValueError as exc:
            raise ConfigError("settings", "sip_digest_algorithms", str(exc)) from None
        self.guard = guard or Guard()
        self.stats: Counter[str] = Counter()
        self._udp: UdpSocket | None = None
        self._tcp = TcpConnections(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        # Replies the edge wrote itself, by request identity: a retransmitted REGISTER
        # must get the same answer, not a second digest check (that would be a replay).
        self._replies: OrderedDict[tuple, tuple[float, bytes]] = OrderedDict()
        # A phone's REFER in a call (blind transfer): the edge answers it and hands the core
        # the dialog's Call-ID, the number, the extension that asked, the REFER's CSeq (the
        # NOTIFY's event id) and whether the phone wants a NOTIFY.
        self.on_refer: Callable[[str, str, str, int, bool], None] | None = None

    # ---- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="sip-edge", daemon=True)
        self._thread.start()
        ready.wait(10)
        if self._error is not None:
            raise PbxError(f"SIP edge cannot listen on {self.host}:{self.port}: {self._error}")

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._open())
        except OSError as exc:
            self._error = exc
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            if self._udp is not None:
                self._udp.close()
            loop.run_until_complete(self._tcp.close())
            loop.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp = UdpSocket(self, loop, self.host or "0.0.0.0", self.port)
        self.port = self._udp.sock.getsockname()[1]
        await self._tcp.listen(self.host or "0.0.0.0", self.port)
        self._own = {(self.advertised_host, self.port), (self.core_side_host, self.port),
                     (self.host, self.port)}
        self.registrar.own_addresses = {*self._own, self.core_addr}

    # ---- input ----------------------------------------------------------------------
    def handle(self, data: bytes, src: Source) -> None:
        """One datagram or one framed TCP message. Never raises."""
        self.stats["received"] += 1
        if self.guard.banned(src.host):
            self.stats["banned_drops"] += 1
            return
        if not self.guard.allow(src.host):
            self.stats["rate_limited"] += 1
            return
        if not data.strip(b"\r\n"):
            return  # keep-alive
        try:
            msg = parse(data)
        except GrammarError as exc:
            self.stats["grammar_errors"] += 1
            # Counted by name for the headers the edge reads; a header any sender can make
            # up must not add a counter each (a spoofed flood would grow /status forever).
            self.stats[f"bad {exc.header}" if exc.header in COUNTED else "bad other header"] += 1
            answer = replies.rejection(exc.partial, exc) if exc.partial is not None else None
            self._reply_raw(answer or replies.for_unparseable(data, exc), src)
            return
        except SipParseError as exc:
            self.stats["parse_errors"] += 1
            self._reply_raw(replies.for_unparseable(data, exc), src)
            return
        try:
            self._dispatch(msg, src)
        except SipParseError as exc:
            self.stats["parse_errors"] += 1
            if isinstance(msg, SipRequest) and msg.method != "ACK":
                self._answer(msg, src, 400, f"Bad Request ({exc.message[:60]})")
        except Exception:
            self.stats["internal_errors"] += 1
            log.exception("SIP edge: failed on a message from %s:%s", src.host, src.port)

    def handle_oversized(self, data: bytes, src: Source) -> None:
        self._reply_raw(replies.for_unparseable(data, SipParseError("header section too large")), src)

    def _dispatch(self, msg: SipRequest | SipResponse, src: Source) -> None:
        from_core = src.transport == "UDP" and (src.host, src.port) == self.core_addr
        if isinstance(msg, SipResponse):
            return self._relay_response(msg)
        if from_core:
            return self._relay_request(msg, src, to_core=False)
        if self.guard.user_agent(src.host, msg.get("user-agent") or ""):
            self.stats["scanner_bans"] += 1
            return  # a scanner learns nothing, not even that something answers here
        cached = self._replies.get(self._request_key(msg, src))
        if cached is not None and time.monotonic() - cached[0] < RETRANSMIT_WINDOW:
            self.stats["retransmissions"] += 1
            return self._reply_raw(cached[1], src)
        self._stamp_via(msg, src)
        if msg.method not in KNOWN_METHODS:
            return self._answer(msg, src, 501, "Not Implemented")
        if msg.method == "REGISTER":
            return self._register(msg, src)
        to_tag = msg.to_tag
        if msg.method == "OPTIONS" and not to_tag:
            return self._answer(msg, src, 200, "OK", replies.CAPABILITIES)
        if msg.method == "ACK" and to_tag.startswith(replies.TAG_PREFIX):
            return  # the ACK of our own 407
        for name in [h for h, _ in msg.headers if h.lower().startswith("x-pbx-")]:
            msg.remove(name)  # only the edge may say who the caller is
        if msg.method == "REFER" and to_tag and self.on_refer is not None:
            return self._refer(msg, src)
        if not to_tag and msg.method not in ("ACK", "CANCEL"):
            caller = self._authenticate(msg, src, proxy=True)
            if caller is None:
                return
            msg.remove("proxy-authorization")
            msg.set(CALLER_HEADER, caller)
        self._relay_request(msg, src, to_core=True)

    def _stamp_via(self, msg: SipRequest, src: Source) -> None:
        """RFC 3261 18.2.1 received, RFC 3581 rport: so replies reach phones behind NAT."""
        via = msg.vias[0]
        if via.host != src.host:
            via.params["received"] = src.host
        if "rport" in via.params:
            via.params["rport"] = str(src.port)
        msg.replace_top_via(via)

    def _authenticate(self, req: SipRequest, src: Source, proxy: bool) -> str | None:
        header = req.get("proxy-authorization" if proxy else "authorization")
        result = self.auth.verify(header, req.method)
        if result.verdict is Verdict.OK:
            self.guard.succeeded(src.host)
            return result.user
        if result.verdict is Verdict.FAILED:
            self.stats["auth_failures"] += 1
            if self.guard.failed(src.host):
                self.stats["password_bans"] += 1
        if self.guard.challenged(src.host):
            self.stats["scanner_bans"] += 1
        self.stats["auth_challenges"] += 1
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        status, reason = (407, "Proxy Authentication Required") if proxy else (401, "Unauthorized")
        challenges = self.auth.challenges(stale=result.verdict is Verdict.STALE)
        self._answer(req, src, status, reason, [(name, c) for c in challenges])
        return None

    def _register(self, req: SipRequest, src: Source) -> None:
        user = self._authenticate(req, src, proxy=False)
        if user is None:
            return
        try:
            bindings = self.registrar.register(req, user, src.transport.lower(), (src.host, src.port))
        except RegistrationError as exc:
            return self._answer(req, src, exc.status, exc.reason, exc.headers)
        now = self.registrar.clock()
        if src.conn is not None:
            self._tcp.remember(src)
        self.stats["registrations"] += 1
        self._answer(req, src, 200, "OK", [("Contact", contact_header(b, now)) for b in bindings])

    def _refer(self, req: SipRequest, src: Source) -> None:
        """Answered here, not relayed: pjsua would dial the Refer-To itself, as a call of
        its own, where the B2BUA must ring the number for the call it already has. The
        core sends the NOTIFY in the dialog (its CSeq is the core's to count)."""
        try:
            target = NameAddr.parse(req.get("refer-to") or "", "Refer-To")
        except (GrammarError, SipParseError):
            target = None
        uri = target.parsed if target is not None else None
        if uri is None or not uri.is_sip or not uri.user:
            return self._answer(req, src, 400, "Bad Request (Refer-To)")
        if "replaces" in uri.headers.lower():
            return self._answer(req, src, 501, "Not Implemented (attended transfer)")
        # In-dialog requests carry no digest here, so the REFER must come from where its
        # extension registered; the core then checks that this extension is the leg's.
        referrer = self.registrar.user_at((src.host, src.port))
        if referrer is None:
            self.stats["transfers_refused"] += 1
            return self._answer(req, src, 403, "Forbidden (not a registered phone)")
        silent = (req.get("refer-sub") or "").strip().lower() == "false"  # RFC 4488
        self._answer(req, src, 202, "Accepted", [("Refer-Sub", "false")] if silent else None)
        self.stats["transfers"] += 1
        assert self.on_refer is not None
        self.on_refer(req.call_id, unquote(uri.user), referrer, req.cseq_number, not silent)

    # ---- relaying -------------------------------------------------------------------
    def _is_ours(self, addr: NameAddr) -> bool:
        uri = addr.parsed
        return uri is not None and (uri.host, uri.port or 5060) in self._own

    def _relay_request(self, req: SipRequest, src: Source, to_core: bool) -> None:
        hops = 70 if req.max_forwards is None else req.max_forwards
        if hops <= 0:
            return self._answer(req, src, 483, "Too Many Hops")
        req.set("Max-Forwards", str(hops - 1))
        while req.routes and self._is_ours(req.routes[0]):
            req.pop_route()
        top = req.vias[0]
        seed = f"{top.branch}|{src.host}:{src.port}|{req.call_id if not top.branch.startswith('z9hG4bK') else ''}"
        branch = "z9hG4bK" + hashlib.sha1(seed.encode()).hexdigest()[:20]
        if to_core:
            transport, addr, conn, via_host = "UDP", self.core_addr, None, self.core_side_host
        else:
            transport, addr, conn = self._phone_target(req)
            via_host = self.advertised_host
        if req.method in DIALOG_CREATING and not req.to_tag:
            self._record_route(req, transport, to_core)
        req.push_via(Via(transport, via_host, self.port, {"branch": branch, "rport": ""}))
        self.stats["relayed_to_core" if to_core else "relayed_to_phones"] += 1
        self._send(bytes(req), transport, addr, conn)

    def _phone_target(self, req: SipRequest) -> tuple[str, tuple[str, int], object]:
        uri = req.request_uri
        if not req.routes and uri is not None and (uri.host, uri.port or 5060) == self.core_addr:
            return "UDP", self.core_addr, None  # the core calling itself: no phone may claim it
        binding = self.registrar.find_by_uri(req.uri)
        if binding is not None:
            return binding.transport.upper(), binding.source, None
        uri = req.routes[0].parsed if req.routes else req.request_uri
        assert uri is not None  # parse() read both
        return uri.transport.upper(), uri.address(), None

    def _record_route(self, req: SipRequest, phone_transport: str, to_core: bool) -> None:
        core_side = f"<sip:{self.core_side_host}:{self.port};lr>"
        t = ";transport=tcp" if phone_transport == "TCP" else ""
        phone_side = f"<sip:{self.advertised_host}:{self.port}{t};lr>"
        first, second = (core_side, phone_side) if to_core else (phone_side, core_side)
        req.prepend("Record-Route", second)
        req.prepend("Record-Route", first)

    def _relay_response(self, resp: SipResponse) -> None:
        top = resp.vias[0]
        if (top.host, top.port or 5060) not in self._own or len(resp.vias) < 2:
            self.stats["dropped"] += 1  # not ours to forward
            return
        resp.pop_via()
        nxt = resp.vias[0]
        self.stats["responses_relayed"] += 1
        self._send(bytes(resp), nxt.transport, nxt.reply_address(), None)

    # ---- output ---------------------------------------------------------------------
    def _answer(self, req: SipRequest, src: Source, status: int, reason: str,
                headers: list[tuple[str, str]] | None = None) -> None:
        if req.method == "ACK":
            return
        data = bytes(replies.response(req, status, reason, headers))
        now = time.monotonic()
        self._replies[self._request_key(req, src)] = (now, data)
        while self._replies and (len(self._replies) > 20000  # bounded under a flood
                                 or now - next(iter(self._replies.values()))[0] > RETRANSMIT_WINDOW):
            self._replies.popitem(last=False)
        self._reply_raw(data, src)

    @staticmethod
    def _request_key(req: SipRequest, src: Source) -> tuple:
        branch = req.vias[0].branch  # the same before and after received/rport
        return (src.host, src.port, branch, req.call_id, req.cseq_number, req.cseq_method)

    def _reply_raw(self, data: bytes | None, src: Source) -> None:
        if data is None:
            self.stats["dropped"] += 1
            return
        self.stats["answered_%d" % int(data[8:11] or b"0")] += 1
        if src.conn is not None:
            src.conn.write(data)
        else:
            self._sendto(data, (src.host, src.port))

    def _send(self, data: bytes, transport: str, addr: tuple[str, int], conn: object) -> None:
        if transport == "TCP":
            self._tcp.send(data, addr)
        else:
            self._sendto(data, addr)

    def _sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        """UDP to an address literal only: a host name would mean a DNS lookup on the edge's
        loop, and a failing sendto must never close the edge's socket."""
        if self._udp is None:
            return
        if not ip_address(addr[0]) or not 0 < addr[1] < 65536:
            self.stats["unsendable_dropped"] += 1
            return
        try:
            self._udp.sendto(data, addr)
        except (OSError, ValueError, OverflowError):
            self.stats["udp_errors"] += 1


class UdpSocket:
    """The edge's UDP socket on its loop. Each wake-up reads every datagram waiting, up to
    BATCH (asyncio's datagram transport reads one per turn of the loop, and under a
    registration burst the turns cost as much as the requests); replies go out at once."""

    BATCH = 64

    def __init__(self, edge: SipEdge, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
        self.edge, self.loop = edge, loop
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        for _ in range(self.BATCH):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP unreachable from a phone that went away
                self.edge.stats["udp_errors"] += 1
                return
            self.edge.handle(data, Source("UDP", addr[0], addr[1], None))

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        """Raises OSError like socket.sendto; a full send buffer drops the datagram (UDP
        may: the sender retransmits) and counts it."""
        try:
            self.sock.sendto(data, addr)
        except BlockingIOError:
            self.edge.stats["udp_send_buffer_full"] += 1

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


__all__ = ["SipEdge", "MAX_HEADER_BYTES", "CALLER_HEADER"]
