"""What caller ID adds to the ring path (target p95 under 1 ms with 100,000 contacts):
`CallerDirectory.identify()`, the call the core makes for every line call before the
dial plan (index lookup, repeat counter, display name), timed over a live contacts
store of 100,000 contacts, against the same call with no contacts store at all.

    python tests/bench/bench_callers.py [--contacts 100000] [--lookups 200000]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pbx.contacts.callers import CallerDirectory  # noqa: E402
from pbx.contacts.store import ContactStore  # noqa: E402


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    samples.sort()
    return (samples[len(samples) // 2], samples[int(0.95 * (len(samples) - 1))],
            samples[int(0.99 * (len(samples) - 1))])


def timed(callers: CallerDirectory, numbers: list[str]) -> list[float]:
    out = []
    clock = time.perf_counter
    for number in numbers:
        start = clock()
        callers.identify(number)
        out.append((clock() - start) * 1e6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        writer = ContactStore(Path(tmp) / "contacts.sqlite", live=False)
        writer.import_contacts({"name": f"Contact {i}", "company": "Acme", "tier": "vip" if i % 10 == 0 else "normal",
                                "phones": [{"type": "mobile", "number": f"+7916{1000000 + i}"}]}
                               for i in range(args.contacts))
        writer.close()
        store = ContactStore(Path(tmp) / "contacts.sqlite")  # as the daemon opens it: the index built
        numbers = []
        for _ in range(args.lookups):  # known callers, the same written 8..., and strangers
            i, kind = rng.randrange(args.contacts), rng.random()
            numbers.append(f"+7916{1000000 + i}" if kind < 0.6 else f"+7903{rng.randrange(10**7):07d}")
        with_contacts = timed(CallerDirectory(store), numbers)
        without = timed(CallerDirectory(None), numbers)
        hits = sum(1 for n in numbers[:1000] if store.lookup(n) is not None)
        store.close()
    (m1, p95, p99), (m0, q95, _) = percentiles(with_contacts), percentiles(without)
    print(f"identify() with {args.contacts} contacts over {args.lookups} calls ({hits / 10:.0f} % known): "
          f"median {m1:.1f} us, p95 {p95:.1f} us, p99 {p99:.1f} us (target p95 < 1000 us); "
          f"without contacts median {m0:.1f} us, p95 {q95:.1f} us: the contacts add {p95 - q95:+.1f} us at p95")
    return 0 if p95 < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
