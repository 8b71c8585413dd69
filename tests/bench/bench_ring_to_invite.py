"""From the modem's RING + caller ID bytes to the INVITE reaching the phone (target p95
under 50 ms). The real daemon with its simulated GSM line; the phone is a UDP socket
registered as extension 102 that answers each INVITE 486, so the line is freed again.

    python tests/bench/bench_ring_to_invite.py [--calls 100]
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp) / "data", ring_timeout=10)
        daemon.pbx("ext", "add", "102", "--name", "Bob", "--password", "quiet-Harbor-77")
        daemon.start()
        try:
            phone = Phone(daemon.sip_port)
            assert phone.register("102", "quiet-Harbor-77", expires=3600).startswith(b"SIP/2.0 200")
            deadline = time.monotonic() + 10
            while daemon.api("status")["lines"]["gsm1"]["state"] != "idle" and time.monotonic() < deadline:
                time.sleep(0.1)
            latencies = []
            for i in range(args.calls):
                daemon.api("sim/gsm1/call", {"from": f"+7916{1000000 + i}"})
                while True:
                    data = phone.recv(timeout=10)
                    if data.startswith(b"INVITE"):
                        break
                arrived = time.time()
                phone.send(busy_reply(data))
                ring_at = float(daemon.api("sim/gsm1")["last_ring_at"])
                latencies.append((arrived - ring_at) * 1000)
                deadline = time.monotonic() + 5
                while daemon.api("sim/gsm1")["state"] != "idle" and time.monotonic() < deadline:
                    try:
                        phone.recv(timeout=0.05)  # ACKs
                    except socket.timeout:
                        pass
            latencies.sort()
            p95 = latencies[int(0.95 * (len(latencies) - 1))]
            print(f"RING+CLIP -> INVITE at the phone over {len(latencies)} calls: median "
                  f"{latencies[len(latencies) // 2]:.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms "
                  f"(target p95 < 50 ms)")
        finally:
            daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
