"""REGISTER benchmark: SIPp registering phones with digest auth against the real daemon.

Target: at least 500 registrations per second, none failed. Prints, per offered rate,
what was achieved; each registration is REGISTER -> 401 -> REGISTER with credentials -> 200.

    python tests/bench/bench_register.py [--count 6000] [--rates 500,1000,1500]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.store.extensions import ExtensionStore  # noqa: E402
from tests.support import sipp  # noqa: E402
from tests.support.daemon import Daemon, free_port  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rates", default="500,1000,1500")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        daemon = Daemon(work / "data")
        users = [(str(10000 + i), f"Bench-pass-{i:05d}") for i in range(args.users)]
        ExtensionStore(daemon.data_dir).add_many([(u, f"Phone {u}", p) for u, p in users])
        csv = sipp.users_csv(work / "users.csv", users)
        daemon.start()
        try:
            for rate in [int(r) for r in args.rates.split(",")]:
                started = time.monotonic()
                res = sipp.run(sipp.sipp_args(
                    "call_register.xml", daemon.sip, csv=csv, local_port=free_port(),
                    calls=args.count, rate=rate, extra=["-l", "2000"], timeout_s=120),
                    work, timeout=300)
                elapsed = time.monotonic() - started
                print(f"offered {rate}/s: {res.successful} registered in {elapsed:.1f} s = "
                      f"{res.successful / elapsed:.0f} registrations/s, {res.failed} failed "
                      f"(target >= 500/s, 0 failed)", flush=True)
        finally:
            daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
