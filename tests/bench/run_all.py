"""`make bench`: every benchmark, one after the other; each prints its own figures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_register.py", "bench_calls.py", "bench_dtmf.py", "bench_ring_to_invite.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHES:
        if (HERE / name).exists():
            print(f"== {name}", flush=True)
            failed |= subprocess.call([sys.executable, str(HERE / name)], cwd=HERE.parents[1])
    sys.exit(failed)
