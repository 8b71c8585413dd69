"""From the modem's RING + caller ID bytes to the INVITE reaching the phone (target p95
under 50 ms). The real daemon with its simulated GSM line; the phone is a UDP socket
registered as extension 102 that answers each INVITE 486, so the line is freed again.

    python tests/bench/bench_ring_to_invite.py [--calls 100] [--contacts 100000]
"""
from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.daemon import Daemon  # noqa: E402
from tests.support.rawsip import Phone  # noqa: E402


def busy_reply(invite: bytes) -> bytes:
    head = invite.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    keep = [h for h in head[1:] if re.match(r"(?i)(via|from|to|call-id|cseq|record-route)\s*:", h)]
    keep = [h + ";tag=bench" if h.lower().startswith("to:") and "tag=" not in h else h for h in keep]
    return ("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def add_contacts(data_dir: Path, count: int) -> None:
    """`count` contacts (one transaction), the bench's callers among them, VIP."""
    from pbx.contacts.store import ContactStore

    store = ContactStore(data_dir / "contacts.sqlite", live=False)
    store.import_contacts({"name": f"Caller {i}", "company": "Bench", "tier": "vip",
                           "phones": [{"type": "mobile", "number": f"+7916{1000000 + i}"}]} for i in range(count))
    store.close()


def measure(calls: int, contacts: int) -> list[float]:
    """Milliseconds from the modem's RING to the INVITE at the phone, sorted."""
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp) / "data", ring_timeout=10)
        daemon.pbx("ext", "add", "102", "--name", "Bob", "--password", "quiet-Harbor-77")
        if contacts:
            add_contacts(Path(tmp) / "data", contacts)
        daemon.start()
        try:
            phone = Phone(daemon.sip_port)
            assert phone.register("102", "quiet-Harbor-77", expires=3600).startswith(b"SIP/2.0 200")
            deadline = time.monotonic() + 10
            while daemon.api("status")["lines"]["gsm1"]["state"] != "idle" and time.monotonic() < deadline:
                time.sleep(0.1)
            latencies = []
            for i in range(calls):
                daemon.api("sim/gsm1/call", {"from": f"+7916{1000000 + i}"})
                while True:
                    data = phone.recv(timeout=10)
                    if data.startswith(b"INVITE"):
                        break
                arrived = time.time()
                if contacts:
                    assert b"Caller " in data, data[:400]  # the contact's name is on the INVITE
                phone.send(busy_reply(data))
                ring_at = float(daemon.api("sim/gsm1")["last_ring_at"])
                latencies.append((arrived - ring_at) * 1000)
                deadline = time.monotonic() + 5
                while daemon.api("sim/gsm1")["state"] != "idle" and time.monotonic() < deadline:
                    try:
                        phone.recv(timeout=0.05)  # ACKs
                    except socket.timeout:
                        pass
        finally:
            daemon.stop()
    return sorted(latencies)


def summary(latencies: list[float]) -> str:
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    return (f"median {latencies[len(latencies) // 2]:.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--contacts", type=int, default=0,
                        help="also run with this many contacts (the callers among them) and compare")
    args = parser.parse_args()
    bare = measure(args.calls, 0)
    print(f"RING+CLIP -> INVITE at the phone over {len(bare)} calls: {summary(bare)} (target p95 < 50 ms)")
    if args.contacts:
        known = measure(args.calls, args.contacts)
        p95 = [x[int(0.95 * (len(x) - 1))] for x in (bare, known)]
        print(f"  with {args.contacts} contacts, every caller one of them: {summary(known)}; "
              f"p95 added {p95[1] - p95[0]:+.1f} ms (noise included; the lookup alone: bench_callers.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
