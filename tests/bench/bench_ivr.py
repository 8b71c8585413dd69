"""IVR media figures on the real daemon, SIPp callers dialling IVR 700 from extensions.

The plan is bench_routing's big plan (50 IVRs, 50 ring groups, 200 inbound routes);
IVR 700's prompt is espeak-ng speaking a long menu (about two minutes), so callers stay
in the menu, the prompt playing, for the whole measuring window. Each caller's media
is one RtpProbe socket (tests/support/rtp.py): every caller's SDP names it, streams are
told apart by the appliance's source port and SSRC, each packet keeps its kernel
arrival time (SO_TIMESTAMPNS), and each is answered with a silent packet, as a phone
sends its own RTP all along.

(a) Answer to prompt (target p95 under 100 ms): calls one at a time; from the 200 OK
    arriving at the caller (SIPp's -trace_msg time; the SDP in it names the RTP port)
    to the RTP packet carrying the prompt's first frame. That packet is found as the
    first one with sound in it, less the prompt file's own lead-in (the frames before
    its first sound: prompts.TTS_EFFECTS pads speech with 200 ms of silence), which is
    computed from the WAV through the same G.711 codec; the raw time to the first
    sound is printed too.
(b) 60 callers in the menu at once (SIPp -m 60 -l 60 from four extensions; an IVR
    number is no extension, so the B2BUA's one-call-per-callee rule does not apply):
    0 failed calls; RTP to every caller all along with the p99 inter-arrival gap under
    30 ms (each caller's p99; the pooled p99 and the largest gap are printed too); the
    daemon's CPU over the window from /proc/<pid>/stat, less its idle CPU (the mean
    of 10 s before the calls and 10 s after them), per caller, against a bare pjsua2
    (tests/bench/bare_pjsua2.py --play: the same WAV looped to each leg by a player of
    its own, where the appliance shares one among callers who arrive within 0.3 s)
    with the same 60 SIPp legs and the same RtpProbe, in the same run (target ratio
    <= 1.5).

Exit status 1 if a target is missed.

    python tests/bench/bench_ivr.py [--calls 30] [--callers 60] [--window 60]
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import tempfile
import time
import wave
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.store.extensions import ExtensionStore  # noqa: E402
from tests.bench.bench_calls import cpu_seconds, rss_mb  # noqa: E402
from tests.bench.bench_routing import add_extensions, percentile, write_plan  # noqa: E402
from tests.support import sipp  # noqa: E402
from tests.support.daemon import Daemon, free_port, wait_until  # noqa: E402
from tests.support.rtp import FRAME, RtpProbe, g711_encode, loud  # noqa: E402

IVR_NUMBER = "700"
CALLERS = [(str(n), f"caller-Pass-{n * 3}z") for n in range(101, 105)]
PROMPT_MS, GAP_P99_MS, CPU_RATIO = 100.0, 30.0, 1.5
RAMP_RATE = 10  # new callers per second in (b)
IDLE_S = 10.0
MENU = (
    "Thank you for calling Northwind Trading, your partner for office supplies since nineteen ninety. "
    "Please listen carefully, as our menu options have recently changed. "
    "If you know the extension of the person you are calling, you may dial it at any time. "
    "For new orders and price quotes, press one. "
    "To check the status of an existing order, or to change the delivery address, press two. "
    "For technical support with printers, copiers and scanners, press three. "
    "For invoices, payments, refunds and other questions about your account, press four. "
    "To hear our opening hours, our address and directions to our warehouse, press five. "
    "If you are calling about a job opening, or want to become a supplier, press six. "
    "To leave a message for our general mailbox, press seven. "
    "To hear this menu again, press nine. To return to the previous menu, press the star key. "
    "Our sales team is available from nine in the morning until six in the evening, Monday to Friday, "
    "and from ten until two on Saturdays. Orders placed before three in the afternoon on a working day "
    "are delivered the next working day within the city, and within three working days everywhere else. "
    "Please have your customer number ready; you will find it on the top right corner of every invoice "
    "and in every order confirmation we send by email. "
    "Calls may be recorded for training purposes and to improve the quality of our service. "
    "If you would rather not be recorded, please tell the person who answers your call. "
    "You can also place orders around the clock on our website, where you will find our full catalogue, "
    "current offers, and the answers to the questions we hear most often. "
    "Thank you for your patience. Your call is important to us, "
    "and the next available member of our team will be with you shortly. "
    "For new orders, press one. For order status, press two. For technical support, press three. "
    "For accounts, press four. For our opening hours, press five."
)


def summary(values: list[float], unit: str = "ms") -> str:
    return (f"p50 {percentile(values, 0.5):.1f} {unit}, p95 {percentile(values, 0.95):.1f} {unit}, "
            f"max {max(values):.1f} {unit}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@functools.cache
def lead_in_ms(wav_path: Path, pt: int) -> float:
    """How long the prompt file is silent at its start, in 20 ms frames, judged as the
    probe judges packets: the frames through the same G.711 codec, first loud one."""
    with wave.open(str(wav_path)) as wav:
        samples = np.frombuffer(wav.readframes(8000 * 3), np.int16)
    for i in range(len(samples) // FRAME):
        if loud(g711_encode(samples[i * FRAME:(i + 1) * FRAME], pt), pt):
            return i * 20.0
    raise AssertionError("the prompt has no sound in its first 3 s")


def answers_200(trace: str) -> list[tuple[float, int]]:
    """(arrival time, RTP port in the SDP) of each 200 OK to an INVITE in a SIPp
    -trace_msg log: each message follows a dashed line with SIPp's local time of it."""
    out = []
    for block in re.split(r"\n(?=-{20,} )", "\n" + trace):
        head = re.match(r"-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})\s*\n.*message received", block)
        if not head or not re.search(r"^SIP/2\.0 200", block, re.M) or \
                not re.search(r"^CSeq:\s*\d+ INVITE", block, re.M | re.I):
            continue
        port = re.search(r"^m=audio (\d+)", block, re.M)
        if port:
            when = datetime.strptime(head.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()  # local time
            out.append((when, int(port.group(1))))
    return out


class CpuWindow:
    """CPU of one process over a window, as a fraction of one core (utime + stime)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.c0, self.t0 = cpu_seconds(pid), time.monotonic()
        self.wall0 = time.time()

    def close(self) -> float:
        self.wall1 = time.time()
        return (cpu_seconds(self.pid) - self.c0) / (time.monotonic() - self.t0)


def idles(before_after: tuple[float, float]) -> str:
    return f"{sum(before_after) * 50:.1f} % (before {before_after[0] * 100:.1f}, after {before_after[1] * 100:.1f})"


def idle_cpu(pid: int, seconds: float = IDLE_S) -> float:
    window = CpuWindow(pid)
    time.sleep(seconds)
    return window.close()


class RtpFigures:
    """Inter-arrival gaps of every stream that was live through [start, end]."""

    def __init__(self, probe: RtpProbe, start: float, end: float) -> None:
        self.live = [s for s in probe.streams.values() if s.times and s.times[0] < start and s.times[-1] > end]
        self.per_stream = [s.gaps_ms(start, end) for s in self.live]
        self.pooled = [g for gaps in self.per_stream for g in gaps]
        self.expected = (end - start) / 0.02
        self.counts = [len(g) + 1 for g in self.per_stream]

    def worst_p99(self) -> float:
        return max(percentile(g, 0.99) for g in self.per_stream) if self.per_stream else float("inf")

    def line(self) -> str:
        if not self.pooled:
            return "no RTP"
        return (f"{len(self.live)} streams, {min(self.counts)}-{max(self.counts)} packets each "
                f"(every 20 ms: {self.expected:.0f}); gaps p50 {percentile(self.pooled, 0.5):.1f} ms, "
                f"p99 {percentile(self.pooled, 0.99):.1f} ms (pooled), worst caller's p99 "
                f"{self.worst_p99():.1f} ms, max {max(self.pooled):.1f} ms")


class IvrBench:
    def __init__(self, work: Path, window: float, idle: float = IDLE_S) -> None:
        self.work, self.window, self.idle = work, window, idle
        self.daemon = Daemon(work / "data", ring_timeout=30)
        add_extensions(self.daemon.data_dir)
        ExtensionStore(self.daemon.data_dir, "pbx").add_many([(n, f"Caller {n}", p) for n, p in CALLERS])
        write_plan(self.daemon.data_dir, menu_text=MENU)
        self.prompt = self.daemon.data_dir / "prompts" / "menu.wav"

    def callers_csv(self, calls: int, name: str) -> Path:
        rows = [(*CALLERS[i % len(CALLERS)], IVR_NUMBER) for i in range(calls)]
        return sipp.users_csv(self.work / name, rows)

    # ---- (a) ----------------------------------------------------------------------
    def answer_to_prompt(self, calls: int) -> tuple[list[float], list[float], float]:
        probe = RtpProbe().start()
        try:
            res = sipp.run(sipp.sipp_args(
                "uac_call.xml", self.daemon.sip, csv=self.callers_csv(calls, "a.csv"),
                local_port=free_port(), calls=calls, rate=2, params={"RTPPORT": str(probe.port)},
                flags={"caller_hangs_up"}, extra=["-d", "1200", "-l", "1", "-trace_msg"],
                timeout_s=calls * 5 + 60), self.work, timeout=calls * 5 + 120)
        finally:
            probe.stop()
        assert res.successful == calls, res.explain()
        trace = next(self.work.glob("uac_call-*_messages.log"))
        answers = answers_200(trace.read_text(errors="replace"))
        trace.unlink()
        assert len(answers) == calls, f"{len(answers)} answers in the trace for {calls} calls"
        first_sound, lead = [], 0.0
        for answered_at, port in answers:
            streams = [s for s in probe.by_port(port) if abs(s.times[0] - answered_at) < 1.0]
            assert len(streams) == 1 and streams[0].first_loud is not None, (port, len(streams))
            lead = lead_in_ms(self.prompt, streams[0].pt)
            first_sound.append((streams[0].first_loud - answered_at) * 1000)
        return [t - lead for t in first_sound], first_sound, lead

    # ---- (b) ----------------------------------------------------------------------
    def hold_ms(self, callers: int) -> int:
        return int((callers / RAMP_RATE + 4 + self.window + 4) * 1000)

    def many_callers(self, callers: int) -> dict:
        pid = self.daemon.proc.pid
        idle_before = idle_cpu(pid, self.idle)
        probe = RtpProbe().start()
        hold = self.hold_ms(callers)
        proc = sipp.start(sipp.sipp_args(
            "uac_call.xml", self.daemon.sip, csv=self.callers_csv(callers, "b.csv"),
            local_port=free_port(), calls=callers, rate=RAMP_RATE, params={"RTPPORT": str(probe.port)},
            flags={"caller_hangs_up"}, extra=["-d", str(hold), "-l", str(callers)],
            timeout_s=hold // 1000 + 60), self.work)
        try:
            time.sleep(callers / RAMP_RATE + 4)
            cpu = CpuWindow(pid)
            time.sleep(self.window)
            busy = cpu.close()
            in_menu = self.daemon.api("status")["core"]["active_calls"]
            rss = rss_mb(pid)
            res = sipp.finish(proc, timeout=hold / 1000 + 120)
        finally:
            probe.stop()
        heard = self.heard(callers)
        idle = (idle_before, idle_cpu(pid, self.idle))
        return {"idle": idle, "busy": busy, "in_menu": in_menu, "rss": rss, "sipp": res,
                "rtp": RtpFigures(probe, cpu.wall0, cpu.wall1), "heard": heard}

    def heard(self, callers: int) -> list[int]:
        """RTP packets the appliance received from each of the last `callers` IVR callers
        (their call records' A leg), to show the callers' own RTP reached it."""
        time.sleep(1.5)  # records are written 0.5 s after each hang-up
        out = self.daemon.pbx("calls", "--json", "--limit", str(callers)).stdout
        legs = [r["details"]["legs"].get("a", {}) for r in json.loads(out) if r["callee"] == IVR_NUMBER]
        return [int(leg.get("rx_packets", 0)) for leg in legs]

    def bare(self, callers: int) -> dict:
        """The same callers, SIPp and probe against a bare pjsua2 playing the prompt."""
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "tests.bench.bare_pjsua2", str(port),
                                 "--play", str(self.prompt)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout and proc.stdout.readline().strip() == "ready"
            idle_before = idle_cpu(proc.pid, self.idle)
            probe = RtpProbe().start()
            hold = self.hold_ms(callers)
            csv = sipp.users_csv(self.work / "bare.csv", [("9000", "x", "bare")])
            sipp_proc = sipp.start(sipp.sipp_args(
                "uac_bare.xml", f"127.0.0.1:{port}", csv=csv, local_port=free_port(), calls=callers,
                rate=RAMP_RATE, params={"RTPPORT": str(probe.port)},
                extra=["-d", str(hold), "-l", str(callers)], timeout_s=hold // 1000 + 60), self.work)
            try:
                time.sleep(callers / RAMP_RATE + 4)
                cpu = CpuWindow(proc.pid)
                time.sleep(self.window)
                busy = cpu.close()
                res = sipp.finish(sipp_proc, timeout=hold / 1000 + 120)
            finally:
                probe.stop()
            time.sleep(2)  # the bridge's idle close, as in heard()
            idle = (idle_before, idle_cpu(proc.pid, self.idle))
        finally:
            proc.terminate()
            proc.wait(30)
        return {"idle": idle, "busy": busy, "sipp": res, "rtp": RtpFigures(probe, cpu.wall0, cpu.wall1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=30, help="calls one at a time for (a)")
    parser.add_argument("--callers", type=int, default=60, help="callers in the menu at once for (b)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured in (b)")
    parser.add_argument("--idle", type=float, default=IDLE_S, help="seconds of idle CPU measured before and after")
    args = parser.parse_args()
    passed = True
    with tempfile.TemporaryDirectory() as tmp:
        bench = IvrBench(Path(tmp), args.window, args.idle)
        bench.daemon.start()
        try:
            assert wait_until(lambda: bench.prompt.exists(), timeout=5)
            prompt_s = wave.open(str(bench.prompt)).getnframes() / 8000
            to_prompt, to_sound, lead = bench.answer_to_prompt(args.calls)
            ok = percentile(to_prompt, 0.95) < PROMPT_MS
            passed &= ok
            print(f"(a) 200 OK at the caller -> the prompt's first RTP packet, {args.calls} calls to IVR "
                  f"{IVR_NUMBER} one at a time: {summary(to_prompt)} -> {verdict(ok)} "
                  f"(target p95 < {PROMPT_MS:.0f} ms)")
            print(f"    -> the first packet with sound: {summary(to_sound)} (the prompt's own lead-in: "
                  f"{lead:.0f} ms of {prompt_s:.0f} s of speech)")
            many = bench.many_callers(args.callers)
        finally:
            code = bench.daemon.stop()
        if code != 0:
            print(f"    daemon exit code {code}:\n" + bench.daemon.log()[-3000:])
            passed = False
        base = bench.bare(args.callers)

    n = args.callers
    res, rtp = many["sipp"], many["rtp"]
    ok = res.successful == n and res.failed == 0
    passed &= ok
    print(f"(b) {n} callers in IVR {IVR_NUMBER} at once, the prompt playing, {args.window:.0f} s measured:")
    print(f"    calls: {res.successful} ok, {res.failed} failed, {many['in_menu']} in the menu at the window's "
          f"end -> {verdict(ok)} (target 0 failed)")
    ok = len(rtp.live) == n and rtp.worst_p99() < GAP_P99_MS and min(rtp.counts) >= 0.97 * rtp.expected
    passed &= ok
    print(f"    RTP to the callers: {rtp.line()} -> {verdict(ok)} (target p99 < {GAP_P99_MS:.0f} ms)")
    heard = many["heard"] or [0]
    print(f"    RTP from the callers (their silence) received by the appliance: {min(heard)}-{max(heard)} "
          f"packets per call over {bench.hold_ms(n) / 1000:.0f} s, {len(many['heard'])} call records")
    per_caller = (many["busy"] - sum(many["idle"]) / 2) / n
    print(f"    daemon CPU {many['busy'] * 100:.1f} % of a core, idle {idles(many['idle'])} "
          f"-> {per_caller * 100:.3f} % per caller; RSS {many['rss']:.0f} MB")
    bres, brtp = base["sipp"], base["rtp"]
    per_leg = (base["busy"] - sum(base["idle"]) / 2) / n
    print(f"    bare pjsua2, {n} legs each playing the prompt: {bres.successful} ok, {bres.failed} failed; "
          f"CPU {base['busy'] * 100:.1f} %, idle {idles(base['idle'])} -> {per_leg * 100:.3f} % per leg; "
          f"RTP: {brtp.line()}")
    if per_caller <= 0 or per_leg <= 0:  # idle noise larger than the load: too few callers or seconds
        passed = False
        print("    appliance per caller / bare pjsua2 per leg: cannot tell, the load is within the idle noise "
              "(more --callers or a longer --window) -> FAIL")
    else:
        ratio = per_caller / per_leg
        ok = ratio <= CPU_RATIO
        passed &= ok
        print(f"    appliance per caller / bare pjsua2 per leg = {ratio:.2f} -> {verdict(ok)} "
              f"(target <= {CPU_RATIO})")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
