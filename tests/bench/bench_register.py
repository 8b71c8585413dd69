"""REGISTER benchmark: SIPp registering phones with digest auth, the edge beside Kamailio.

Each registration is REGISTER -> 401 -> REGISTER with credentials -> 200. The same SIPp
scenario, users and offered rates go to the real daemon's edge and to Debian's Kamailio
(auth_db over db_text, usrloc in memory, 2 workers) started on loopback by the bench;
the rates are stepped up, the two peers taking turns at each rate so the machine's noise
hits both alike, and each peer stops at its first rate it does not sustain. A rate is
sustained when none failed and at least 90% of it was achieved. Prints a table, the
highest sustained rate of each and the ratio edge/Kamailio. Target for the edge: at
least 3000 registrations per second, none failed.

The load comes from several SIPp instances, each from its own loopback address with its
own share of the users: phones on a LAN have addresses of their own, and the edge's guard
allows one address 3000 requests/s (1500 registrations/s, after a burst of 6000
requests). Two sources would cap the edge at exactly the 3000/s target, and a step above
it would measure the guard, not the edge (3500/s offered from two sources: 1812/s with
retransmissions); four sources leave the guard out of the figure.

    python tests/bench/bench_register.py [--rates 1000,2000,...] [--seconds 3]
        [--users 1000] [--sources 4] [--peers edge,kamailio]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.store.extensions import ExtensionStore  # noqa: E402
from pbx.store.settings import Settings  # noqa: E402
from tests.support import kamailio, sipp  # noqa: E402
from tests.support.daemon import Daemon, free_port  # noqa: E402

RATES = "1000,1500,2000,3000,4000,6000,8000,12000,16000"
SUSTAINED = 0.9  # share of the offered rate that must be achieved, with 0 failures


@dataclass
class Step:
    offered: int
    registered: int
    failed: int
    seconds: float

    @property
    def achieved(self) -> float:
        return self.registered / self.seconds if self.seconds > 0 else 0.0

    @property
    def sustained(self) -> bool:
        return self.failed == 0 and self.achieved >= SUSTAINED * self.offered


def step(target: str, rate: int, seconds: float, csvs: list[Path], work: Path) -> Step:
    """One SIPp per source address, each offering its share of the rate for `seconds`."""
    procs = []
    for i, csv in enumerate(csvs):
        share = rate // len(csvs) + (1 if i < rate % len(csvs) else 0)
        calls = max(1, int(share * seconds))
        args = sipp.sipp_args("call_register.xml", target, csv=csv, local_port=free_port(),
                              calls=calls, rate=share, extra=["-l", "2000"],
                              timeout_s=int(seconds * 5) + 20, local_ip=source_ip(i))
        procs.append((calls, sipp.start(args, work)))
    registered = failed = 0
    elapsed = 0.0
    for calls, proc in procs:
        res = sipp.finish(proc, timeout=seconds * 10 + 60)
        registered += res.successful
        # Calls SIPp never got to start (it stopped on its timeout) count as failed too.
        failed += max(res.failed, calls - res.successful) if res.returncode != 0 else res.failed
        elapsed = max(elapsed, sipp.elapsed_s(res.stdout) or 0.0)
    return Step(rate, registered, failed, elapsed)


def source_ip(i: int) -> str:
    return f"127.0.0.{11 + i}"


def fmt(s: Step | None) -> str:
    return f"{'-':>9} {'-':>7}" if s is None else f"{s.achieved:9.0f} {s.failed:7d}"


def best(steps: list[Step]) -> tuple[int, float]:
    """Highest sustained offered rate, and the highest rate achieved with 0 failed."""
    sustained = [s.offered for s in steps if s.sustained]
    clean = [s.achieved for s in steps if s.failed == 0]
    return (max(sustained, default=0), max(clean, default=0.0))


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def report(results: dict[str, list[Step]], rates: list[int]) -> None:
    print(f"\n{'offered/s':>9} | {'edge reg/s':>9} {'failed':>7} | {'kam reg/s':>9} {'failed':>7} "
          f"| edge/kamailio", flush=True)
    for rate in rates:
        row = {peer: next((s for s in steps if s.offered == rate), None)
               for peer, steps in results.items()}
        e, k = row.get("edge"), row.get("kamailio")
        r = ratio(e.achieved, k.achieved) if e and k else "-"
        print(f"{rate:9d} | {fmt(e)} | {fmt(k)} | {r:>13}")
    figures = {peer: best(steps) for peer, steps in results.items()}
    for peer, (top, clean) in figures.items():
        print(f"{peer}: highest sustained offered rate {top}/s; best achieved with 0 failed "
              f"{clean:.0f} registrations/s" + (" (target >= 3000/s)" if peer == "edge" else ""))
    if len(figures) == 2:
        (e_top, e_clean), (k_top, k_clean) = figures["edge"], figures["kamailio"]
        print(f"ratio edge/Kamailio: sustained {ratio(e_top, k_top)}, "
              f"best achieved {ratio(e_clean, k_clean)}", flush=True)


def start_peers(peers: list[str], work: Path, users: list[tuple[str, str]],
                stack: ExitStack) -> dict[str, str]:
    """Start each peer; `stack` stops them all however the bench ends."""
    targets = {}
    if "edge" in peers:
        daemon = Daemon(work / "data")
        ExtensionStore(daemon.data_dir).add_many([(u, f"Phone {u}", p) for u, p in users])
        # No simulated phone line: its modem's audio thread would take CPU from the edge
        # being measured (a real modem's reader sleeps between calls).
        settings = Settings(daemon.data_dir)
        settings.set("dev_trunk_added", True)
        settings.close()
        stack.callback(daemon.stop)
        targets["edge"] = daemon.start().sip
    if "kamailio" in peers:
        if not kamailio.available():
            print("kamailio is not installed (scripts/setup.sh --bench): edge alone", flush=True)
        else:
            (work / "kamailio").mkdir()
            peer = kamailio.Kamailio(work / "kamailio", users)
            stack.callback(peer.stop)
            targets["kamailio"] = peer.start().sip
    return targets


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default=RATES)
    parser.add_argument("--seconds", type=float, default=3.0, help="offered for this long per rate")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--peers", default="edge,kamailio")
    parser.add_argument("--sources", type=int, default=4,
                        help="SIPp instances, each from its own loopback address")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    users = [(str(10000 + i), f"Bench-pass-{i:05d}") for i in range(args.users)]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        csvs = [sipp.users_csv(work / f"users-{i}.csv", users[i::args.sources])
                for i in range(args.sources)]
        targets = start_peers(args.peers.split(","), work, users, stack)
        results: dict[str, list[Step]] = {peer: [] for peer in targets}
        for rate in rates:
            for peer, target in targets.items():
                steps = results[peer]
                if steps and not steps[-1].sustained:
                    continue  # this peer is past its limit
                steps.append(s := step(target, rate, args.seconds, csvs, work))
                print(f"{peer}: offered {rate}/s for {args.seconds:g} s: {s.registered} registered "
                      f"in {s.seconds:.1f} s = {s.achieved:.0f} registrations/s, "
                      f"{s.failed} failed", flush=True)
        report(results, rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
