"""`pbx run`: the daemon (development mode by default: ./var, loopback, simulated hardware)."""
from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading

from pbx.cli import add_data_option
from pbx.config import RunConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the PBX daemon")
    add_data_option(p)
    p.add_argument("--sip", help="SIP edge HOST:PORT, UDP and TCP (env PBX_SIP, default 127.0.0.1:5060)")
    p.add_argument("--http", help="web admin HOST:PORT (env PBX_HTTP, default 127.0.0.1:8080)")
    p.add_argument("--ring-timeout", type=float, help="seconds before an unanswered call gets 480")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING (env PBX_LOG_LEVEL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pbx.app import Appliance  # pjsua2 and the rest load only for the daemon

    cfg = RunConfig.from_args(args.data, args.sip, args.http, args.ring_timeout, args.log_level)
    logging.basicConfig(level=cfg.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A crash inside pjsua2 or another C library still leaves every thread's Python stack
    # in the journal, for whoever has to find it.
    faulthandler.enable(all_threads=True)
    if os.environ.get("PBX_TRACEMALLOC"):
        from pbx.memwatch import start_memwatch  # leak hunting: SIGUSR1 logs what grew

        start_memwatch(int(os.environ["PBX_TRACEMALLOC"]))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    appliance = Appliance(cfg)
    try:
        appliance.start()
        # The one-time password first: whoever waits for "PBX running" has read it by then.
        if appliance.first_password:
            print(f"First start: log in as 'admin' with the one-time password "
                  f"{appliance.first_password} (you will be asked to change it)", flush=True)
        print(f"PBX running. Web admin: {appliance.web_url}", flush=True)
        print(f"SIP edge: {cfg.sip[0]}:{appliance.edge.port if appliance.edge else cfg.sip[1]} "
              f"(UDP and TCP), data in {cfg.data_dir}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        clean = appliance.stop()
    if not clean:
        # The core thread is still inside pjsua2: letting the interpreter tear down now
        # would free its objects under it. Leave at once; systemd restarts us.
        print("PBX stopped uncleanly: media engine stuck", file=sys.stderr, flush=True)
        os._exit(70)
    print("PBX stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(argparse.Namespace()))
