"""pbx.heap gives freed heap pages back: after a burst of calls frees its buffers, RSS
falls again instead of staying at its peak (the soak's slow climb)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    from pbx import heap

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 1e6

    assert heap.limit_arenas(2)
    buffers = [bytes(1000) + bytes([i % 256]) for i in range(100_000)]  # ~100 MB from malloc
    keep = buffers[-1]  # alive at the top of the heap: glibc cannot give back by itself
    del buffers
    before = rss_mb()
    heap.trim()
    print(round(before, 1), round(rss_mb(), 1))
""")


def test_trim_gives_freed_pages_back() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    before, after = map(float, out.stdout.split())
    assert before - after > 50, f"RSS {before} MB before the trim, {after} MB after"
