"""Contacts with 100,000 stored: import from CSV (< 60 s), caller lookup p99 (< 1 ms),
one contact edited (< 50 ms), and the daemon's RSS with them against without (< 100 MB
more). Optionally a big vCard file (--vcard-mb 50) read with bounded memory.

    python tests/bench/bench_contacts.py [--contacts 100000] [--no-daemon] [--vcard-mb 0]
"""
from __future__ import annotations

import argparse
import io
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pbx.contacts.importer import import_file  # noqa: E402
from pbx.contacts.store import ContactStore  # noqa: E402

LIMITS = {"import_s": 60.0, "lookup_p99_ms": 1.0, "edit_ms": 50.0, "rss_mb": 100.0}


def csv_file(count: int) -> bytes:
    """Names in Cyrillic and Latin, a mobile each (written 8 9xx ... as people type
    them), a work number for every third, a company for every second."""
    rows = ["ФИО;Компания;Мобильный;Рабочий;Email;Tier"]
    for n in range(count):
        digits = f"{n:07d}"
        mobile = f"8 916 {digits[:3]}-{digits[3:5]}-{digits[5:]}"
        work = f"+7 495 {n:07d}" if n % 3 == 0 else ""
        rows.append(f"{'Иван' if n % 2 else 'Anna'} Client {n};{'ООО Компания ' + str(n % 500) if n % 2 == 0 else ''};"
                    f"{mobile};{work};c{n}@example.com;{'vip' if n % 50 == 0 else 'normal'}")
    return ("\n".join(rows) + "\n").encode()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def daemon_rss(data: Path) -> float:
    from tests.support.daemon import Daemon, wait_until

    daemon = Daemon(data).start()
    try:
        wait_until(lambda: False, timeout=3)  # the web workers, the lines and the index settle
        return rss_mb(daemon.proc.pid)
    finally:
        daemon.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=200_000)
    ap.add_argument("--no-daemon", action="store_true", help="measure RSS in this process instead")
    ap.add_argument("--vcard-mb", type=int, default=0, help="also import a vCard file this big")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-contacts-"))
    failed = False
    try:
        data = csv_file(args.contacts)
        store = ContactStore(work / "with" / "contacts.sqlite")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        report = import_file(store, io.BytesIO(data))
        took = time.perf_counter() - start
        print(f"import: {report.imported} contacts ({len(data) / 2**20:.1f} MB CSV) in {took:.1f} s, "
              f"{report.refused_count} refused (limit {LIMITS['import_s']:.0f} s)")
        failed |= took > LIMITS["import_s"] or report.imported != args.contacts

        numbers = list(store._by_number)
        rng = random.Random(1)
        probes = []
        for _ in range(args.lookups):
            kind = rng.random()
            number = rng.choice(numbers)
            stranger = f"+7999{rng.randrange(10**7):07d}"
            probes.append(number if kind < 0.6 else ("8" + number[2:]) if kind < 0.8 else stranger)
        times = []
        hits = 0
        for number in probes:
            t0 = time.perf_counter_ns()
            info = store.lookup(number)
            times.append((time.perf_counter_ns() - t0) / 1e6)
            hits += info is not None
        p50, p99, worst = percentile(times, 0.5), percentile(times, 0.99), max(times)
        print(f"lookup: {len(probes)} lookups ({hits} found; exact, 8-prefixed, unknown): p50 {p50 * 1000:.1f} µs, "
              f"p99 {p99 * 1000:.1f} µs, max {worst:.3f} ms (limit p99 {LIMITS['lookup_p99_ms']} ms)")
        failed |= p99 > LIMITS["lookup_p99_ms"]

        ids = [c.id for c in store.search("client 7", limit=50)[0]]
        edits = []
        for cid in ids:
            contact = store.get(cid)
            data_ = {**contact.public(), "notes": "edited", "tier": "vip"}
            data_.pop("updated")
            t0 = time.perf_counter()
            store.update(cid, data_)
            edits.append((time.perf_counter() - t0) * 1000)
        print(f"edit: {len(edits)} edits with {store.count()} stored: median {percentile(edits, 0.5):.2f} ms, "
              f"max {max(edits):.2f} ms (limit {LIMITS['edit_ms']:.0f} ms); "
              f"file {(work / 'with' / 'contacts.sqlite').stat().st_size / 2**20:.1f} MB")
        failed |= max(edits) > LIMITS["edit_ms"]
        store.close()

        if args.no_daemon:
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
            print(f"rss: this process grew {grown:.0f} MB (peak, import included)")
        else:
            (work / "without").mkdir()
            without = daemon_rss(work / "without")
            with_ = daemon_rss(work / "with")
            grown = with_ - without
            print(f"rss: daemon {without:.0f} MB without contacts, {with_:.0f} MB with {args.contacts}: "
                  f"+{grown:.0f} MB (limit {LIMITS['rss_mb']:.0f} MB)")
        failed |= grown > LIMITS["rss_mb"]

        if args.vcard_mb:
            card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {n}\r\nN:{n};Person;;;\r\nORG:Company {n}\r\n"
                    "TEL;TYPE=CELL:+7926{n:07d}\r\nTEL;TYPE=WORK:+7812{n:07d}\r\nEMAIL:p{n}@example.com\r\n"
                    "NOTE:" + "note " * 30 + "\r\nEND:VCARD\r\n")
            path = work / "big.vcf"
            with path.open("w") as out:
                n = 0
                while out.tell() < args.vcard_mb * 2**20:
                    out.write(card.format(n=n))
                    n += 1
            vstore = ContactStore(work / "vcard.sqlite")
            peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            t0 = time.perf_counter()
            with path.open("rb") as raw:
                report = import_file(vstore, raw)
            took = time.perf_counter() - t0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"vcard: {path.stat().st_size / 2**20:.0f} MB, {n} cards: "
                  f"{report.imported} imported in {took:.1f} s, "
                  f"peak RSS +{max(0.0, peak - peak_before):.0f} MB over the process's earlier peak")
            vstore.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("FAILED" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
