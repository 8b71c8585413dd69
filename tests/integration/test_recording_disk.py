"""The disk guard on the real daemon, its data directory on a small tmpfs of its own: with
free space under the threshold a call is answered and logged but not recorded, and its
record says why; with the disk filled to the last byte the journal's reserve is released
and the call record is still written; once space is back (threshold + 2 %) recording
resumes by itself, with no restart."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ALICE, BOB
from tests.integration.phone import AnsweringPhone
from tests.integration.test_recording import answered_line_call, line_idle, ready_recording
from tests.support.daemon import Daemon, wait_until


@pytest.fixture
def small_disk(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(data)], check=True)
    yield data
    subprocess.run(["umount", "-l", str(data)], check=True)


def fill_to(data: Path, name: str, free_pct: float) -> Path:
    """Write real blocks until `free_pct` of the filesystem stays free (0: until it is full)."""
    st = os.statvfs(data)
    keep = st.f_blocks * st.f_frsize * free_pct / 100
    size = max(0, int(st.f_bavail * st.f_frsize - keep))
    path = data / name
    block = b"\0" * 65536
    with open(path, "wb") as f:
        try:
            while size > 0:
                size -= f.write(block[:min(len(block), size)])
            f.flush()
        except OSError:  # ENOSPC: full, as asked for with 0
            pass
    return path


def one_call(pbx: Daemon, workdir: Path, count: int) -> dict:
    """A line call the phone answers (each call's phone registers from a new port, so the
    later calls also ring the earlier phones' stale bindings)."""
    assert wait_until(lambda: line_idle(pbx), timeout=20)
    with AnsweringPhone(pbx, workdir, tone_hz=440) as phone:
        answered_line_call(pbx, phone)
        time.sleep(2)
        pbx.pbx("sim", "hangup", "--trunk", "gsm1")
        assert phone.finish().successful == 1
    return pbx.last_call(count)


def test_a_nearly_full_disk_stops_recording_and_loses_no_call_record(small_disk: Path, tmp_path: Path) -> None:
    pbx = Daemon(small_disk, ring_timeout=4, env={"PBX_RECORDING_INTERVAL": "0.5"})
    for ext, password in (ALICE, BOB):
        pbx.pbx("ext", "add", ext, "--name", f"Phone {ext}", "--password", password)
    pbx.pbx("config", "set", "recording_default", "always")
    pbx.start()
    try:
        assert wait_until(lambda: (small_disk / "recordings/.reserve").exists(), timeout=10)
        filler = fill_to(small_disk, "filler", 5.0)  # under the default 10 % threshold
        assert wait_until(lambda: "recordings stop" in "".join(pbx.output), timeout=10), pbx.log()[-2000:]

        record = one_call(pbx, tmp_path, 1)
        assert record["disposition"] == "answered" and "recording" not in record["details"], record
        assert "the disk is nearly full" in record["details"]["recording_policy"]["note"], record["details"]

        rest = fill_to(small_disk, "rest", 0.0)  # to the last byte: the reserve goes, the journal writes into it
        assert wait_until(lambda: not (small_disk / "recordings/.reserve").exists(), timeout=10)
        record = one_call(pbx, tmp_path, 2)
        assert record["disposition"] == "answered" and "recording" not in record["details"], record

        rest.unlink()
        filler.unlink()
        assert wait_until(lambda: "recordings resume" in "".join(pbx.output), timeout=10), pbx.log()[-2000:]
        assert wait_until(lambda: (small_disk / "recordings/.reserve").exists(), timeout=10)
        one_call(pbx, tmp_path, 3)
        record, rec = ready_recording(pbx, 3)
        assert rec["status"] == "ready" and (small_disk / rec["path"]).stat().st_size == rec["size"], rec
    finally:
        assert pbx.stop() == 0, pbx.log()[-3000:]
