"""The routing decision on the ring path, with a big dial plan (target p95 under 20 ms).

What is timed: from the simulated GSM modem writing RING + caller ID (the simulator's
`last_ring_at`, taken just before the write) to the first INVITE reaching a member of
the ring group the caller is routed to (the kernel's arrival time on the phone's
socket, SO_TIMESTAMPNS, so the benchmark's own reading adds nothing). The path in
between is the whole inbound call set-up: the AT reader, the line's events onto the
core thread, the dial plan (inbound routes, the ring group's strategy, who is
available), the B leg's INVITE from pjsua2 and its relay through the SIP edge.

The same daemon is measured twice, side by side:
  1. the fresh install's plan: `inbound:default` (any caller) to `ringgroup:everyone`
     (ringall, every extension);
  2. a realistic big plan (`write_plan`): 60 extensions, 50 ring groups of 3-4 members
     (every strategy), 50 IVRs whose keys lead to the ring groups, and 200 inbound
     routes where the caller's route is the 200th: 199 specific routes come first (one
     caller number each, area-code prefixes, block lists of 20 numbers, anonymous
     callers), all checked and passed over on every call.
The phone is one UDP socket registered as the three members of the caller's group
(201, 202, 203), answering each INVITE 486 so the group is exhausted and the line
hung up again; the fresh plan rings the same three registered phones.
Exit status 1 if the big plan misses the target.

    python tests/bench/bench_routing.py [--calls 100]
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.dialplan.prompts import PromptLibrary  # noqa: E402
from pbx.dialplan.store import DialPlanStore  # noqa: E402
from pbx.store.extensions import ExtensionStore  # noqa: E402
from tests.bench.bench_ring_to_invite import busy_reply  # noqa: E402
from tests.support.daemon import Daemon, wait_until  # noqa: E402
from tests.support.rawsip import Phone  # noqa: E402
from tests.support.rtp import SO_TIMESTAMPNS, recv_stamped  # noqa: E402

TARGET_MS = 20.0
EXTENSIONS = [str(n) for n in range(201, 261)]
MEMBERS = ["201", "202", "203"]  # the caller's ring group; the registered phones
STRATEGIES = ("ringall", "hunt", "memoryhunt", "roundrobin", "random", "firstavailable")
MENU_TEXT = "Thank you for calling. For sales, press one. For support, press two. For accounts, press three."


def password(number: str) -> str:
    return f"member-Pass-{int(number) * 7}q"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def summary(values: list[float]) -> str:
    return (f"p50 {percentile(values, 0.5):5.1f} ms, p95 {percentile(values, 0.95):5.1f} ms, "
            f"max {max(values):5.1f} ms")


def add_extensions(data_dir: Path) -> ExtensionStore:
    exts = ExtensionStore(data_dir, "pbx")
    exts.add_many([(n, f"Member {n}", password(n)) for n in EXTENSIONS])
    return exts


def write_plan(data_dir: Path, menu_text: str = MENU_TEXT, target_group: str = "rg50") -> DialPlanStore:
    """The big plan, saved object by object through DialPlanStore (as the web admin does,
    every save checked against the whole plan). Returns the store.

    - ring groups rg01..rg50, numbers 600-649, strategies in turn, 3 or 4 members each
      (the target group is ringall of MEMBERS);
    - IVRs iv01..iv50, numbers 700-749, prompt `menu`: keys 1-3 to three ring groups,
      0 to the main menu iv01, 9 repeat, * back, timeout to a ring group;
    - inbound routes at positions 1..199 that this benchmark's callers (+7916...) never
      match: 80 single numbers (+7495...) to IVRs, 60 area-code prefixes (+7300..+7359)
      to ring groups, 58 block lists of 20 numbers (+7903...) to hangup, anonymous
      callers to hangup; position 200: prefix +7916 to the target group. The fresh
      `inbound:default` (any caller, position 1000) stays behind them all.
    """
    exts = ExtensionStore(data_dir, "pbx")
    store = DialPlanStore(data_dir, extensions=exts)
    PromptLibrary(data_dir).from_text("menu", menu_text, "en")
    store.save("prompt", {"id": "menu", "name": "Main menu", "language": "en", "text": menu_text})
    groups = [f"rg{i:02d}" for i in range(1, 51)]
    for i, gid in enumerate(groups):
        if gid == target_group:
            members, strategy = MEMBERS, "ringall"
        else:
            members = [EXTENSIONS[(3 * i + k) % len(EXTENSIONS)] for k in range(3 + i % 2)]
            strategy = STRATEGIES[i % len(STRATEGIES)]
        store.save("ringgroup", {"id": gid, "name": f"Group {i + 1}", "number": str(600 + i),
                                 "strategy": strategy, "members": members, "ring_time": 15,
                                 "total_time": 45, "no_answer": "hangup"})
    ivrs = [f"iv{i:02d}" for i in range(1, 51)]
    for i, iid in enumerate(ivrs):
        keys = {str(k + 1): f"ringgroup:{groups[(i + k) % 50]}" for k in range(3)}
        keys.update({"9": "ivr:repeat", "*": "ivr:return"})
        if i:
            keys["0"] = f"ivr:{ivrs[0]}"
        store.save("ivr", {"id": iid, "name": f"Menu {i + 1}", "number": str(700 + i), "prompt": "menu",
                           "keys": keys, "first_digit_timeout": 8, "retries": 2,
                           "timeout_destination": f"ringgroup:{groups[i]}", "invalid_destination": "hangup"})
    position = 0

    def route(rid: str, caller: str, value: object, destination: str) -> None:
        nonlocal position
        position += 1
        store.save("inbound", {"id": rid, "name": rid, "trunk": "", "caller": caller, "value": value,
                               "destination": destination, "position": position})

    for i in range(80):
        route(f"vip{i:02d}", "number", f"+7495{1000000 + i * 37}", f"ivr:{ivrs[i % 50]}")
    for i in range(60):
        route(f"area{i:02d}", "prefix", f"+7{300 + i}", f"ringgroup:{groups[i % 50]}")
    for i in range(58):
        route(f"block{i:02d}", "list", [f"+7903{2000000 + i * 20 + k}" for k in range(20)], "hangup")
    route("withheld", "anonymous", "", "hangup")
    route("mobiles", "prefix", "+7916", f"ringgroup:{target_group}")
    assert position == 200 and len(store.list("inbound")) == 201
    return store


class MemberPhones:
    """One UDP socket registered as every member of the group: it notes when the first
    INVITE of each call arrives and answers every INVITE 486 Busy Here."""

    def __init__(self, daemon: Daemon, members: list[str]) -> None:
        self.phone = Phone(daemon.sip_port)
        self.phone.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        for ext in members:
            reply = self.phone.register(ext, password(ext), expires=3600)
            assert reply.startswith(b"SIP/2.0 200"), reply[:200]

    def first_invite(self, caller: str, timeout: float = 10.0) -> float:
        """Arrival time of the first INVITE from `caller` (anything older is answered too)."""
        deadline = time.monotonic() + timeout
        while True:
            self.phone.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data, _, when = recv_stamped(self.phone.sock, 65536)
            if data.startswith(b"INVITE"):
                self.phone.send(busy_reply(data))
                if f"<sip:{caller}@".encode() in data:
                    return when

    def drain(self) -> None:
        """Answer the other members' INVITEs; let ACKs go."""
        self.phone.sock.settimeout(0.02)
        try:
            while True:
                data, _, _ = recv_stamped(self.phone.sock, 65536)
                if data.startswith(b"INVITE"):
                    self.phone.send(busy_reply(data))
        except socket.timeout:
            pass


def measure(daemon: Daemon, phones: MemberPhones, calls: int, first_caller: int, warmup: int = 3) -> list[float]:
    """RING+CLIP -> first INVITE, ms, for `calls` calls from distinct +7916... numbers
    (the first `warmup` calls are not counted: a changed plan is read on its first call)."""
    latencies = []
    for i in range(warmup + calls):
        caller = f"+7916{first_caller + i}"
        daemon.api("sim/gsm1/call", {"from": caller})
        arrived = phones.first_invite(caller)
        ring_at = float(daemon.api("sim/gsm1")["last_ring_at"])
        if i >= warmup:
            latencies.append((arrived - ring_at) * 1000)
        deadline = time.monotonic() + 10
        while True:
            phones.drain()
            if daemon.api("sim/gsm1")["state"] == "idle" or time.monotonic() > deadline:
                break
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100, help="measured calls per plan")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp) / "data", ring_timeout=10)
        add_extensions(daemon.data_dir)
        daemon.start()
        try:
            assert wait_until(lambda: daemon.api("status")["lines"]["gsm1"]["state"] == "idle", timeout=30)
            phones = MemberPhones(daemon, MEMBERS)
            fresh = measure(daemon, phones, args.calls, 1000000)
            started = time.monotonic()
            store = write_plan(daemon.data_dir)
            saved_in = time.monotonic() - started
            big = measure(daemon, phones, args.calls, 2000000)
            path = daemon.last_call()["details"]["path"]
            assert path[0].get("route") == "mobiles" and path[1].get("id") == "rg50", path
            routes = len(store.list("inbound"))
        finally:
            code = daemon.stop()
    verdict = "PASS" if percentile(big, 0.95) < TARGET_MS else "FAIL"
    print(f"RING+CLIP on gsm1 -> first INVITE at a ring-group member, {args.calls} calls per plan:")
    print(f"  fresh install (1 route -> ringgroup:everyone, ringall *): {summary(fresh)}")
    print(f"  big plan ({routes} inbound routes, the caller's is #200; 50 IVRs, 50 ring groups): "
          f"{summary(big)} -> {verdict} (target p95 < {TARGET_MS:.0f} ms)")
    print(f"  the plan's cost: {percentile(big, 0.5) - percentile(fresh, 0.5):+.1f} ms at p50, "
          f"{percentile(big, 0.95) - percentile(fresh, 0.95):+.1f} ms at p95 "
          f"(the plan was saved object by object in {saved_in:.1f} s)")
    if code != 0:
        print(f"  daemon exit code {code}:\n" + daemon.log()[-3000:])
    return 0 if verdict == "PASS" and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
