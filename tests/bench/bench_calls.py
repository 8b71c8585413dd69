"""Call benchmark: SIPp callers -> the real daemon -> SIPp callees, all on loopback.

Prints, for the issue's numbers:
  1. call setups per second (target >= 20/s), failed calls, INVITE->180 p95 (< 50 ms)
  2. 50 concurrent calls with RTP (SIPp's g711a.pcap one way, echoed back) held 30 s:
     failed calls (target 0)
  3. 100 concurrent bridged calls (200 legs) for 60 s, RTP both ways on every leg all
     along (looped speech-like A-law from the caller, echoed by the callee): failed calls,
     the daemon's CPU per bridged call, and the same for a bare pjsua2 echoing 200 SIPp
     legs fed the same stream (target: appliance <= 1.5 x two bare legs)
  4. idle daemon resident memory (target < 150 MB)

    python tests/bench/bench_calls.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.store.extensions import ExtensionStore  # noqa: E402
from tests.support import sipp  # noqa: E402
from tests.support.daemon import Daemon, free_port  # noqa: E402

PCAP = "/usr/share/sip-tester/g711a.pcap"


def speech_like_alaw(path: Path, seconds: int = 10) -> str:
    """Raw A-law audio for SIPp's rtp_stream, looped for the whole call, so every leg
    carries RTP both ways all along (the pcap above lasts only a few seconds)."""
    import numpy as np

    from tests.support.rtp import g711_encode

    t = np.arange(8000 * seconds) / 8000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # syllable-rate loudness
    voice = sum(np.sin(2 * np.pi * f * t) / i for i, f in enumerate((220, 440, 660, 1100, 1700), 1))
    samples = (4000 * envelope * voice).astype(np.int16)
    path.write_bytes(g711_encode(samples, 8))
    return f"{path},-1,8"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_cpu(pid: int, start_after: float, window: float) -> float:
    """Fraction of one core used by pid during [start_after, start_after + window]."""
    time.sleep(start_after)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def rtt_p95(workdir: Path, rtd: int) -> float | None:
    """SIPp -trace_rtt writes one line per measured response time: date;ms;rtd_no."""
    values = []
    for path in workdir.glob("*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 3 and parts[2].strip() == str(rtd):
                values.append(float(parts[1]))
        path.unlink()
    if not values:
        return None
    values.sort()
    return values[int(0.95 * (len(values) - 1))]


class Bench:
    def __init__(self, work: Path, pairs: int) -> None:
        self.work = work
        self.pairs = pairs
        self.callers = [(str(2000 + i), f"caller-Pass-{i:04d}x") for i in range(pairs)]
        self.callees = [(str(3000 + i), f"callee-Pass-{i:04d}y") for i in range(pairs)]
        self.daemon = Daemon(work / "data", ring_timeout=30)
        ExtensionStore(self.daemon.data_dir, "pbx").add_many(
            [(n, f"Bench {n}", p) for n, p in self.callers + self.callees])
        self.uas_port, self.uas_media = free_port(), free_port()
        self.uac_port, self.uac_media = free_port(), free_port()

    def register_callees(self) -> None:
        csv = sipp.users_csv(self.work / "callees.csv", self.callees)
        res = sipp.run(sipp.sipp_args("call_register.xml", self.daemon.sip, csv=csv,
                                      local_port=self.uas_port, calls=len(self.callees),
                                      rate=100), self.work)
        assert res.successful == len(self.callees), res.explain()

    def run_calls(self, calls: int, rate: float, limit: int, hold_ms: int,
                  media: dict[str, str] | None = None) -> tuple[sipp.SippResult, sipp.SippResult, float]:
        uas = sipp.start(sipp.sipp_args(
            "uas_call.xml", self.daemon.sip, csv=sipp.users_csv(self.work / "u.csv", self.callees),
            local_port=self.uas_port, calls=calls, params={"RTPPORT": str(self.uas_media)},
            extra=["-mp", str(self.uas_media), "-rtp_echo", "-d", str(hold_ms)],
            timeout_s=hold_ms // 1000 + 120), self.work)
        time.sleep(0.5)
        rows = [(*c, callee[0]) for c, callee in zip(self.callers, self.callees, strict=True)]
        started = time.monotonic()
        uac = sipp.run(sipp.sipp_args(
            "uac_call.xml", self.daemon.sip, csv=sipp.users_csv(self.work / "c.csv", rows),
            local_port=self.uac_port, calls=calls, rate=rate,
            params={"RTPPORT": str(self.uac_media), **(media or {})}, flags={"caller_hangs_up"},
            extra=["-mp", str(self.uac_media), "-d", str(hold_ms), "-l", str(limit),
                   "-trace_rtt", "-rtt_freq", "1"], timeout_s=hold_ms // 1000 + 120),
            self.work, timeout=hold_ms / 1000 + 300)
        elapsed = time.monotonic() - started
        uas_res = sipp.finish(uas, timeout=120)
        return uac, uas_res, elapsed


def bare_baseline(work: Path, legs: int, hold_s: int, stream: str) -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "tests/bench/bare_pjsua2.py"), str(port)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout and proc.stdout.readline().strip() == "ready"
    media = free_port()
    csv = sipp.users_csv(work / "bare.csv", [("9000", "x", "bare")])
    holder: dict[str, float] = {}
    sampler = threading.Thread(target=lambda: holder.update(
        cpu=measure_cpu(proc.pid, legs / 20 + 5, hold_s - legs / 20 - 10)))
    sampler.start()
    res = sipp.run(sipp.sipp_args(
        "uac_bare.xml", f"127.0.0.1:{port}", csv=csv, local_port=free_port(), calls=legs,
        rate=20, params={"RTPPORT": str(media), "RTPSTREAM": stream},
        extra=["-mp", str(media), "-d", str(hold_s * 1000), "-l", str(legs)],
        timeout_s=hold_s + 120), work, timeout=hold_s + 300)
    sampler.join()
    proc.terminate()
    proc.wait(30)
    print(f"  bare pjsua2: {res.successful} calls ok, {res.failed} failed; "
          f"CPU {holder['cpu'] * 100:.1f}% of a core for {legs} legs "
          f"= {holder['cpu'] * 100 / legs:.3f}% per leg")
    return holder["cpu"] / legs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short holds, for a smoke run")
    args = parser.parse_args()
    hold2, hold3 = (5, 25) if args.quick else (30, 60)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench = Bench(work, pairs=100)
        bench.daemon.start()
        try:
            time.sleep(3)
            print(f"idle daemon resident memory: {rss_mb(bench.daemon.proc.pid):.1f} MB (target < 150)")
            bench.register_callees()

            uac, uas, elapsed = bench.run_calls(calls=600, rate=30, limit=100, hold_ms=200)
            p95 = rtt_p95(work, 2)
            print(f"1. setup rate: {uac.successful} calls in {elapsed:.1f} s at 30/s offered "
                  f"= {uac.successful / elapsed:.1f} calls/s completed, {uac.failed} failed; "
                  f"INVITE->180 p95 {p95} ms (target < 50)")

            stream = speech_like_alaw(work / "speech.alaw")
            uac, uas, _ = bench.run_calls(calls=50, rate=25, limit=50, hold_ms=hold2 * 1000,
                                          media={"PCAP": PCAP})
            print(f"2. 50 concurrent calls with RTP held {hold2} s: {uac.successful} ok, "
                  f"{uac.failed + uas.failed} failed; INVITE->180 p95 {rtt_p95(work, 2)} ms")

            pid = bench.daemon.proc.pid
            holder: dict[str, float] = {}
            sampler = threading.Thread(target=lambda: holder.update(
                cpu=measure_cpu(pid, 10, hold3 - 15)))
            sampler.start()
            uac, uas, _ = bench.run_calls(calls=100, rate=20, limit=100, hold_ms=hold3 * 1000,
                                          media={"RTPSTREAM": stream})
            sampler.join()
            per_call = holder["cpu"] / 100
            print(f"3. 100 concurrent bridged calls (200 legs) with RTP for {hold3} s: "
                  f"{uac.successful} ok, {uac.failed + uas.failed} failed; daemon CPU "
                  f"{holder['cpu'] * 100:.1f}% of a core = {per_call * 100:.3f}% per bridged call; "
                  f"RSS {rss_mb(pid):.1f} MB")
        finally:
            code = bench.daemon.stop()
        print(f"   daemon exit code {code}")
        if code != 0:
            print("   daemon log (tail):\n" + bench.daemon.log()[-3000:])
        bare_leg = bare_baseline(work, legs=200, hold_s=hold3, stream=stream)
        ratio = per_call / (2 * bare_leg) if bare_leg else float("inf")
        print(f"   appliance per bridged call / two bare legs = {ratio:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
