"""`make bench`: every benchmark, one after the other; each prints its own figures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [["bench_register.py"], ["bench_calls.py"], ["bench_dtmf.py"],
           ["bench_ring_to_invite.py", "--contacts", "100000"], ["bench_callers.py"], ["bench_routing.py"],
           ["bench_ivr.py"], ["bench_contacts.py"], ["bench_webhooks.py"], ["bench_recording.py"],
           ["soak.py", "--minutes", "3"]]  # the hour-long soak is `make soak`

if __name__ == "__main__":
    failed = 0
    for name, *args in BENCHES:
        if (HERE / name).exists():
            print(f"== {' '.join([name, *args])}", flush=True)
            failed |= subprocess.call([sys.executable, str(HERE / name), *args], cwd=HERE.parents[1])
    sys.exit(failed)
