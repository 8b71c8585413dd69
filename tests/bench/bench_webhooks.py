"""Webhook delivery throughput (target: 10,000 events to a local receiver in under 60 s,
0 duplicates, every signature valid, in order).

The events are written into the outbox of a stopped daemon's data directory with the same
code the recorder uses (500 per transaction, one delivery row each for the configured
endpoint); then the real daemon starts and its delivery worker sends them to a real HTTP
receiver on 127.0.0.1 that checks each signature with the standardwebhooks reference
verifier. Timed from the daemon's launch (its start-up included) to the last event
acknowledged. Exit status 1 if the target is missed.

    python tests/bench/bench_webhooks.py [--events 10000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.crm.outbox import Outbox  # noqa: E402
from pbx.store.journal import CallJournal  # noqa: E402
from tests.support.daemon import Daemon, free_port, wait_until  # noqa: E402
from tests.support.webhook_receiver import Receiver  # noqa: E402

TARGET_S = 60.0


def fill(data: Path, count: int) -> list[str]:
    journal = CallJournal(data / "calls.sqlite")
    outbox = Outbox(journal)
    ids: list[str] = []
    for start in range(0, count, 500):
        batch = [("sms.received", {"trunk": "gsm1", "sender": "+79161234567", "text": f"message {n}"}, time.time())
                 for n in range(start, min(count, start + 500))]
        ids += [e.msg_id for e in outbox.append_many(batch)]
    journal.close()
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        daemon = Daemon(data)
        receiver = Receiver(free_port(), lifetime=TARGET_S * 3).up()
        out = daemon.pbx("crm", "webhook", "add", f"http://127.0.0.1:{receiver.port}/hook").stdout
        receiver.secret = out.split("signing secret: ")[1].split()[0]
        expected = fill(data, args.events)
        launched = time.time()
        daemon.start()
        try:
            done = wait_until(lambda: len(receiver.accepted) >= args.events, timeout=TARGET_S * 2, every=0.05)
            finished = max((e["received_at"] for e in receiver.accepted), default=time.time())
            time.sleep(1)  # anything sent twice shows now
        finally:
            daemon.stop()
            receiver.down()
    received = [e["id"] for e in receiver.accepted if e["type"] == "sms.received"]
    first = min((e["received_at"] for e in receiver.accepted), default=launched)
    total = finished - launched
    dups = receiver.duplicates()
    in_order = received == expected
    print(f"webhooks: {len(received)}/{args.events} events delivered in {total:.1f} s from the daemon's launch "
          f"({finished - first:.1f} s first to last, {len(received) / max(finished - first, 1e-9):.0f}/s); "
          f"duplicates {len(dups)}, bad signatures {receiver.bad_signatures}, in order: {in_order} "
          f"(target {args.events} in < {TARGET_S:.0f} s, 0 duplicates)")
    ok = done and total < TARGET_S and not dups and receiver.bad_signatures == 0 and in_order
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
