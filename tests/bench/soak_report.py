"""What the soak test measures of the daemon (from /proc and GET /status) and how it
reports: a line a minute, then growth, failures, log errors and PASS/FAIL per target."""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field

from tests.bench.soak_load import Tally
from tests.support.daemon import Daemon

RSS_GROWTH_MB = 5.0


@dataclass
class Sample:
    label: str
    rss_mb: float
    fds: int
    threads: int
    pjsua_calls: int
    conf_ports: int
    legs: int
    calls: int
    regs: int
    fd_kinds: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        return (f"{self.label:>6} {self.rss_mb:8.1f} {self.fds:5d} {self.threads:7d} "
                f"{self.pjsua_calls:6d} {self.conf_ports:6d} {self.legs:5d} {self.calls:6d} {self.regs:5d}")


HEADER = (f"{'minute':>6} {'rss_mb':>8} {'fds':>5} {'threads':>7} {'pjcall':>6} {'ports':>6} "
          f"{'legs':>5} {'calls':>6} {'regs':>5}")


def proc_status(pid: int) -> tuple[float, int]:
    rss, threads = 0.0, 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


def fd_kinds(pid: int) -> Counter[str]:
    """What the open descriptors are: socket, pipe, anon_inode or the file's path."""
    kinds: Counter[str] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        target = re.sub(r"/dev/pts/\d+$", "/dev/pts/*", target)  # ptys renumber on replug
        kinds[re.sub(r"\[\d+\]$", "", target).rstrip(":")] += 1
    return kinds


def sample(daemon: Daemon, label: str) -> Sample:
    assert daemon.proc is not None
    pid = daemon.proc.pid
    rss, threads = proc_status(pid)
    kinds = fd_kinds(pid)
    fds = sum(kinds.values())
    try:
        status = daemon.api("status")
        assert isinstance(status, dict)
    except Exception:
        status = {}
    media, core = status.get("media", {}), status.get("core", {})
    return Sample(label, rss, fds, threads, media.get("pjsua_calls", -1), media.get("conference_ports", -1),
                  core.get("live_legs", -1), core.get("active_calls", -1), status.get("registrations", -1), kinds)


def settled(now: Sample, idle: Sample) -> bool:
    """Everything the load made is gone again: the same counts as before it started."""
    return (now.pjsua_calls, now.conf_ports, now.legs, now.calls, now.fds, now.threads) == \
        (idle.pjsua_calls, idle.conf_ports, idle.legs, idle.calls, idle.fds, idle.threads)


ERROR = re.compile(r" (ERROR|CRITICAL) |Traceback|Assertion|Segmentation")


def log_problems(log: str) -> tuple[list[str], int]:
    """Error lines (with the traceback that follows each) and the number of warnings."""
    errors, lines = [], log.splitlines()
    for i, line in enumerate(lines):
        if ERROR.search(line) and not line.startswith("Traceback"):
            tail = []
            for follow in lines[i + 1:i + 30]:
                if re.match(r"\d{4}-\d\d-\d\d ", follow):
                    break
                tail.append(follow)
            errors.append("\n".join([line, *tail[-3:]]))
        elif line.startswith("Traceback") and (i == 0 or not ERROR.search(lines[i - 1])):
            errors.append("\n".join(lines[i:i + 12]))
    return errors, sum(" WARNING " in line for line in lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(samples: list[Sample], idle: Sample, end: Sample, base_minute: int, tally: Tally,
           log: str) -> bool:
    """Print the summary; True if every target is met."""
    base = samples[base_minute - 1] if len(samples) >= base_minute else samples[0]
    print("\n== growth from minute", base.label, "to the end (after the load, settled)")
    for name in ("rss_mb", "fds", "threads", "pjsua_calls", "conf_ports", "legs"):
        b, e, i = getattr(base, name), getattr(end, name), getattr(idle, name)
        print(f"  {name:12} idle {i:8.1f} minute {base.label:>3} {b:8.1f} end {e:8.1f} growth {e - b:+.1f}")
    extra = end.fd_kinds - idle.fd_kinds
    if extra:
        print("  descriptors open at the end and not at idle:", dict(extra))
    print("\n== what the load did (ok / failed)")
    for kind in sorted(set(tally.ok) | set(tally.failed)):
        print(f"  {kind:22} {tally.ok[kind]:6d} ok {tally.failed[kind]:5d} failed")
    for message in tally.messages[:15]:
        print("   ", message[:400])
    errors, warnings = log_problems(log)
    print(f"\n== daemon log: {len(errors)} errors/tracebacks, {warnings} warnings")
    for error in errors[:5]:
        print("  " + error.replace("\n", "\n  ")[:1200])
    failed, growth = sum(tally.failed.values()), end.rss_mb - base.rss_mb
    targets = [
        (f"RSS growth {growth:+.1f} MB < {RSS_GROWTH_MB} MB", growth < RSS_GROWTH_MB),
        (f"file descriptors back to idle ({idle.fds} -> {end.fds})", end.fds <= idle.fds),
        (f"threads back to idle ({idle.threads} -> {end.threads})", end.threads <= idle.threads),
        (f"conference ports back to idle ({idle.conf_ports} -> {end.conf_ports})",
         end.conf_ports <= idle.conf_ports),
        (f"pjsua calls back to 0 ({end.pjsua_calls})", end.pjsua_calls == 0),
        (f"failed calls/messages/steps: {failed}", failed == 0),
        (f"errors in the daemon log: {len(errors)}", not errors),
    ]
    print("\n== targets")
    for text, ok in targets:
        print(f"  {verdict(ok)}  {text}")
    return all(ok for _, ok in targets)
