"""Recording benchmark: 40 concurrent bridged calls for 60 s, unrecorded and then recorded,
side by side on the same daemon (SIPp callers -> the daemon -> SIPp callees, RTP both ways).

Prints, for issue 12's numbers:
  - the daemon's CPU per bridged call, unrecorded and recorded, and their ratio (<= 1.3)
  - every recording compressed, valid (sox decodes it) and within 0.1 s of its call's
    talk time; how long after the last hang-up the last one was compressed (<= 60 s)
  - the stored size per minute of conversation (< 0.15 MB)

    python tests/bench/bench_recording.py [--calls 40] [--hold 60]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_calls import Bench, measure_cpu, speech_like_alaw  # noqa: E402


def records(bench: Bench) -> list[dict]:
    return json.loads(bench.daemon.pbx("calls", "--json", "--limit", "1000").stdout)


def decoded_seconds(path: Path) -> float:
    out = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if line.startswith("Length (seconds):"):
            return float(line.split(":")[1])
    raise ValueError(f"sox cannot read {path}: {out.stderr.strip()[-200:]}")


def run(bench: Bench, calls: int, hold: int, stream: str) -> tuple[float, int]:
    """CPU (fraction of a core) over the calls' steady middle, and the failed calls."""
    holder: dict[str, float] = {}
    ramp = calls / 20 + 5
    sampler = threading.Thread(target=lambda: holder.update(cpu=measure_cpu(bench.daemon.proc.pid, ramp,
                                                                            hold - ramp - 5)))
    sampler.start()
    uac, uas, _ = bench.run_calls(calls=calls, rate=20, limit=calls, hold_ms=hold * 1000,
                                  media={"RTPSTREAM": stream})
    sampler.join()
    return holder["cpu"], uac.failed + uas.failed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--hold", type=int, default=60, help="seconds each call lasts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench = Bench(work, pairs=args.calls)
        bench.daemon.pbx("config", "set", "recording_default", "never")
        bench.daemon.start()
        try:
            bench.register_callees()
            stream = speech_like_alaw(work / "speech.alaw")
            plain, failed_plain = run(bench, args.calls, args.hold, stream)
            bench.daemon.pbx("config", "set", "recording_default", "always")
            time.sleep(6)  # the daemon re-reads its settings every 5 s
            recorded, failed_rec = run(bench, args.calls, args.hold, stream)
            hung_up = time.time()
            print(f"{args.calls} concurrent bridged calls for {args.hold} s, RTP both ways: "
                  f"unrecorded {plain * 100:.1f}% of a core = {plain * 100 / args.calls:.3f}% per call "
                  f"({failed_plain} failed); recorded {recorded * 100:.1f}% = "
                  f"{recorded * 100 / args.calls:.3f}% per call ({failed_rec} failed); "
                  f"ratio {recorded / plain:.2f} (target <= 1.3)")
            deadline = time.time() + 120
            while time.time() < deadline:
                newest = records(bench)[:args.calls]
                states = [(r["details"].get("recording") or {}).get("status") for r in newest]
                if all(s in ("ready", "failed") for s in states):
                    break
                time.sleep(0.5)
            lag = time.time() - hung_up
            print(f"compression: the last of {args.calls} recordings ready {lag:.1f} s after the last "
                  f"hang-up (target <= 60 s; states {sorted(set(states))})")
            worst, sizes, minutes, bad = 0.0, 0, 0.0, []
            for rec in newest:
                info = rec["details"].get("recording") or {}
                try:
                    seconds = decoded_seconds(bench.daemon.data_dir / info["path"])
                except (KeyError, ValueError) as exc:
                    bad.append(f"{rec['id']}: {exc}")
                    continue
                worst = max(worst, abs(seconds - rec["duration"]))
                sizes += info.get("size", 0)
                minutes += seconds / 60
            print(f"files: {len(newest) - len(bad)} of {len(newest)} decode; worst |file - talk time| "
                  f"{worst:.3f} s (target <= 0.1); {sizes / max(minutes, 1e-9) / 1e6:.3f} MB per minute "
                  f"(target < 0.15){'; bad: ' + '; '.join(bad[:3]) if bad else ''}")
        finally:
            code = bench.daemon.stop()
        print(f"daemon exit code {code}")
        if code != 0:
            print(bench.daemon.log()[-3000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
