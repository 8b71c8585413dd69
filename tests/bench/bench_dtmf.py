"""DTMF detector benchmark on a generated test set, and talk-off on synthetic speech.

Prints: detection rate where the spec says detect (+-1.5 %, twist 8 dB normal / 4 dB
reverse, >= 40 ms, S/N >= 15 dB; target 100 %), false detections where it says reject
(+-3.5 % or more, or <= 20 ms; target 0), talk-off false digits per 30 minutes of speech
(target <= 10), and throughput in multiples of real time on one core (target >= 200x).

    python tests/bench/bench_dtmf.py [--minutes 30]
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hardware.dsp.dtmf import DtmfDetector, dtmf_tone  # noqa: E402
from tests.bench.talkoff_corpus import build  # noqa: E402

KEYS = "0123456789*#ABCD"
GAP = np.zeros(600, np.int16)


def case(key: str, seconds: float, offset: float, twist: float, snr: float | None,
         rng: np.random.Generator) -> str:
    tone = dtmf_tone(key, seconds, freq_offset=offset, twist_db=twist, level=6000,
                     phase=rng.uniform(0, 6.28)).astype(np.float64)
    signal = np.concatenate([GAP, tone, GAP]).astype(np.float64)
    if snr is not None:
        power = (tone ** 2).mean()
        signal += rng.normal(0, np.sqrt(power / 10 ** (snr / 10)), len(signal))
    det = DtmfDetector()
    return "".join(e.digit for e in det.feed(np.clip(signal, -32768, 32767).astype(np.int16)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(7)

    must = list(itertools.product(KEYS, [0.040, 0.060, 0.100], [-0.015, -0.0075, 0, 0.0075, 0.015],
                                  [-4, 0, 4, 8], [15, 20, None]))
    hits = sum(case(k, d, o, t, s, rng) == k for k, d, o, t, s in must)
    print(f"must detect: {hits}/{len(must)} = {100 * hits / len(must):.2f} % (target 100 %)")

    reject = list(itertools.product(KEYS, [0.060], [-0.05, -0.035, 0.035, 0.05], [0, 8], [20, None]))
    reject += list(itertools.product(KEYS, [0.010, 0.015, 0.020], [0, 0.015], [0, 8], [20, None]))
    false = sum(case(k, d, o, t, s, rng) != "" for k, d, o, t, s in reject)
    print(f"must reject: {false} detected of {len(reject)} (target 0)")

    speech = np.fromfile(build(args.minutes), dtype="<i2")
    minutes = len(speech) / 8000 / 60
    det = DtmfDetector()
    started = time.process_time()
    events = []
    for i in range(0, len(speech), 8000):  # one second at a time, as a line would feed it
        events += det.feed(speech[i:i + 8000])
    cpu = time.process_time() - started
    print(f"talk-off: {len(events)} false digits in {minutes:.1f} min of speech = "
          f"{len(events) * 30 / minutes:.1f} per 30 min (target <= 10): {''.join(e.digit for e in events)}")
    print(f"throughput: {minutes * 60 / cpu:.0f}x real time on one core (target >= 200x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
