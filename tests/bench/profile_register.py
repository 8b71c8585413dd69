"""Where the edge spends a REGISTER: SipEdge.handle driven directly, without sockets.

The edge is wired as the daemon wires it (extension store on disk, event bus with the LED
controller on simulated LEDs); a fake UDP transport catches the replies. Each phone does
REGISTER -> 401 -> REGISTER with digest credentials -> 200, as SIPp's scenario does.
Prints handle's own rate without the profiler, then cProfile's top functions (time
inside handle only: the profiler is on just around each call).

    python tests/bench/profile_register.py [--count 20000] [--users 1000] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import itertools
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hardware.gpio.leds import StatusLeds  # noqa: E402
from pbx.events import EventBus  # noqa: E402
from pbx.leds import LedController  # noqa: E402
from pbx.sip.edge import SipEdge  # noqa: E402
from pbx.sip.transport import Source  # noqa: E402
from pbx.store.extensions import ExtensionStore  # noqa: E402

NONCE = re.compile(rb'nonce="([^"]+)"')
PHONE = ("127.0.0.1", 5062)  # the phones' port; each has an address of its own
CALLS = itertools.count()


class FakeUdp:
    def __init__(self) -> None:
        self.last = b""

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last = data


def register(user: str, host: str, n: int, cseq: int, auth: str = "") -> bytes:
    """The request SIPp's call_register.xml sends."""
    port = PHONE[1]
    lines = ["REGISTER sip:127.0.0.1:5060 SIP/2.0",
             f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-bench-{n}-{cseq};rport",
             f"From: <sip:{user}@127.0.0.1>;tag=benchTag{n}", f"To: <sip:{user}@127.0.0.1>",
             f"Call-ID: {n}-bench@127.0.0.1", f"CSeq: {cseq} REGISTER",
             f"Contact: <sip:{user}@{host}:{port};transport=UDP>", "Expires: 3600"]
    lines += [auth] if auth else []
    lines += ["Max-Forwards: 70", "User-Agent: SIPp", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def authorization(user: str, password: str, nonce: str, realm: str = "pbx") -> str:
    uri = "sip:127.0.0.1:5060"
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}".encode()).hexdigest()
    return (f'Authorization: Digest username="{user}",realm="{realm}",uri="{uri}",'
            f'nonce="{nonce}",response="{resp}",algorithm=MD5,cnonce="0a4f113b",qop=auth,'
            f"nc=00000001")


def make_edge(data_dir: Path, users: list[tuple[str, str]]) -> tuple[SipEdge, FakeUdp]:
    store = ExtensionStore(data_dir)
    store.add_many([(u, f"Phone {u}", p) for u, p in users])
    bus = EventBus()
    LedController(StatusLeds(simulated=True), bus)
    edge = SipEdge("127.0.0.1", 5060, core_addr=("127.0.0.1", 5070), credentials=store, bus=bus)
    udp = FakeUdp()
    edge._udp = udp  # type: ignore[assignment]  # no sockets: replies are caught here
    return edge, udp


def run(edge: SipEdge, udp: FakeUdp, users: list[tuple[str, str]], count: int,
        prof: cProfile.Profile | None) -> float:
    """Seconds spent inside handle for `count` registrations; checks each one got its 200."""
    # Each phone from an address of its own, as on a LAN (one address for all would be
    # throttled by the edge's per-source guard).
    sources = [Source("UDP", f"127.0.{i // 250}.{i % 250 + 2}", PHONE[1], None)
               for i in range(len(users))]
    spent = 0.0
    first = next(CALLS)  # a call id and branch of its own each run: no retransmission
    for n in range(first * 1_000_000, first * 1_000_000 + count):
        user, password = users[n % len(users)]
        src = sources[n % len(users)]
        for cseq, auth in ((1, ""), (2, None)):
            if auth is None:
                nonce = NONCE.search(udp.last).group(1).decode()  # type: ignore[union-attr]
                auth = authorization(user, password, nonce)
            data = register(user, src.host, n, cseq, auth)
            started = time.perf_counter()
            if prof:
                prof.enable()
            edge.handle(data, src)
            if prof:
                prof.disable()
            spent += time.perf_counter() - started
        if not udp.last.startswith(b"SIP/2.0 200"):
            raise SystemExit(f"registration {n} failed:\n{udp.last.decode(errors='replace')}")
    return spent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    users = [(str(10000 + i), f"Bench-pass-{i:05d}") for i in range(args.users)]
    with tempfile.TemporaryDirectory() as tmp:
        edge, udp = make_edge(Path(tmp), users)
        run(edge, udp, users, min(1000, args.count), None)  # warm: store loaded, caches full
        spent = run(edge, udp, users, args.count, None)
        print(f"handle alone: {args.count / spent:.0f} registrations/s "
              f"({spent / args.count * 1e6:.0f} us each, 2 requests), no profiler")
        prof = cProfile.Profile()
        run(edge, udp, users, args.count, prof)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\ncProfile, {args.count} registrations, {total:.2f} s inside handle; "
          f"own time (tottime) and with callees (cumtime), % of that:")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, tt, ct, _) in rows[:args.top]:
        where = f"{Path(file).name}:{line}" if line else file
        print(f"{tt / total:6.1%} own {ct / total:6.1%} cum {calls:8d}  {name}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
