"""Soak benchmark: the real daemon under a steady, modest mixed load for an hour, watched
for leaks.

At the same time, all on loopback and at bounded rates:
  - SIPp calls between extensions, 2 every 5 s held 10 s, RTP both ways (speech looped
    by the caller, echoed by the callee)
  - the simulated GSM line: every 30 s a call in (caller ID, the desk phone answers,
    keys 1 2 3 reach it as RFC 4733, the caller hangs up) plus an SMS in, or a call out
    (9 + number, the far end answers, the extension hangs up) plus an SMS out
  - a phone registering, re-registering and unregistering every 6 s
  - the modem unplugged and plugged back every 4 minutes
  - a web admin page (logged in with the first password, changed) and a REST resource
    every 2 s

Every minute it prints the daemon's RSS, open file descriptors and threads (/proc) and
pjsua's calls and conference ports (GET /api/v1/status). At the end, once the load has
stopped and settled: growth from minute 5, failures, errors in the daemon's log, and
PASS/FAIL per target (RSS growth < 5 MB; fds, threads, conference ports back to idle;
0 failed calls; no errors logged).

    python tests/bench/soak.py [--minutes 60]
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.store.extensions import ExtensionStore  # noqa: E402
from tests.bench.bench_calls import speech_like_alaw  # noqa: E402
from tests.bench.soak_gsm import DESK, OUT, GsmDriver  # noqa: E402
from tests.bench.soak_load import CALLEES, CALLERS, CHURNERS, Churn, SipCalls, Tally, WebPoller, kill_all  # noqa: E402
from tests.bench.soak_report import HEADER, Sample, report, sample, settled  # noqa: E402
from tests.support.daemon import Daemon, wait_until  # noqa: E402


def start_daemon(work: Path, trace_frames: int = 0) -> Daemon:
    env = {"PBX_TRACEMALLOC": str(trace_frames)} if trace_frames else None
    daemon = Daemon(work / "data", ring_timeout=20, env=env)
    users = [*CALLERS, *CALLEES, *CHURNERS, DESK, OUT]
    ExtensionStore(daemon.data_dir, "pbx").add_many([(n, f"Soak {n}", p) for n, p in users])
    daemon.start()
    if not wait_until(lambda: daemon.first_password is not None, timeout=10):
        raise RuntimeError("the daemon printed no first password")
    if not wait_until(lambda: daemon.api("trunks/gsm1")["state"] == "idle", timeout=30, every=0.5):
        raise RuntimeError("the simulated line gsm1 did not come up")
    return daemon


def watch(daemon: Daemon, minutes: int, tally: Tally, trace_frames: int = 0) -> list[Sample]:
    """A sample at the end of every minute of load."""
    samples, started = [], time.monotonic()
    for minute in range(1, minutes + 1):
        time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
        samples.append(sample(daemon, str(minute)))
        if trace_frames and daemon.proc is not None and daemon.proc.poll() is None and minute in (5, minutes):
            daemon.proc.send_signal(signal.SIGUSR1)  # the daemon logs what grew (pbx/memwatch.py)
        print(f"{samples[-1].row()}   ok {sum(tally.ok.values()):5d} failed {sum(tally.failed.values()):3d}",
              flush=True)
        if daemon.proc is not None and daemon.proc.poll() is not None:
            print("".join(daemon.output[-150:]), flush=True)  # its last words (faulthandler's stacks)
            raise RuntimeError(f"the daemon died (exit {daemon.proc.returncode})")
    return samples


def settle(daemon: Daemon, idle: Sample, timeout: float = 120) -> Sample:
    """Wait for the load's traces to go (a leg to a phone that vanished takes 32 s)."""
    deadline = time.monotonic() + timeout
    now = sample(daemon, "end")
    while not settled(now, idle) and time.monotonic() < deadline:
        time.sleep(2)
        now = sample(daemon, "end")
    time.sleep(2)
    return sample(daemon, "end")


def soak(work: Path, minutes: int, tally: Tally, trace_frames: int = 0, round_minutes: int = 30) -> bool:
    daemon = start_daemon(work, trace_frames)
    sip = SipCalls(daemon, work, seconds=minutes * 60, stream=speech_like_alaw(work / "speech.alaw"),
                   tally=tally, round_s=round_minutes * 60)
    drivers = [Churn(daemon, work, tally), GsmDriver(daemon, work, tally), WebPoller(daemon, tally)]
    try:
        if not sip.register():
            raise RuntimeError("the callees did not register")
        time.sleep(3)
        idle = sample(daemon, "idle")
        print(HEADER, flush=True)
        print(idle.row(), flush=True)
        sip.start()
        for driver in drivers:
            driver.start()
        samples = watch(daemon, minutes, tally, trace_frames)
        for driver in drivers:
            driver.stop_event.set()  # type: ignore[attr-defined]
        for driver in drivers:
            driver.join(120)
        sip.finish(timeout=sip.hold_s + 180 + 20 * len(sip.rounds))  # each round ends ~15 s later
        end = settle(daemon, idle)
        print(end.row(), flush=True)
        passed = report(samples, idle, end, min(5, max(1, minutes // 3)), tally, daemon.log())
    finally:
        for driver in drivers:
            driver.stop_event.set()  # type: ignore[attr-defined]
        sip.kill()
        kill_all()
        code = daemon.stop()
    if trace_frames:
        log = daemon.log()
        print(log[log.find("traced "):][:12000] if "traced " in log else "no allocation report in the log")
    print(f"  {'PASS' if code == 0 else 'FAIL'}  the daemon stopped cleanly (exit code {code})")
    if code != 0:
        print(daemon.log()[-3000:])
    return passed and code == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=60, help="minutes of load (default 60)")
    parser.add_argument("--work", type=Path, help="keep the data, SIPp logs and scenarios here")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                        help="trace the daemon's Python allocations; at minute 5 and the end it logs what grew "
                             "(caution: see pbx/memwatch.py)")
    parser.add_argument("--round-minutes", type=int, default=30,
                        help="the SIP callees register again every this many minutes (default 30)")
    args = parser.parse_args()
    tally = Tally()
    print(f"soak: {args.minutes} minutes of mixed load on the real daemon", flush=True)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        passed = soak(args.work.resolve(), args.minutes, tally, args.tracemalloc, args.round_minutes)
    else:
        with tempfile.TemporaryDirectory(prefix="pbx-soak-") as tmp:
            passed = soak(Path(tmp), args.minutes, tally, args.tracemalloc, args.round_minutes)
    print("soak:", "PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
