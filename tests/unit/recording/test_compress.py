"""The compressor with the real sox and opus-tools on WAVs made by sox: each format, the
two sides merged, WAVs pjsua2 never finished (sizes zero, as it leaves them until it closes
the file; or more than the disk took), a check that fails, and a power cut's leftovers."""
from __future__ import annotations

import stat
import struct
import subprocess
import time
from pathlib import Path

import pytest

from pbx.recording import compress
from pbx.recording.compress import Compressor, ToolFailed, repair_wav
from pbx.recording.store import Recording, RecordingStore
from pbx.store.journal import CallJournal, CallRecord

DAY = 1796256000.0  # 2026-12-03 00:00 UTC


@pytest.fixture
def store(tmp_path: Path):
    journal = CallJournal(tmp_path / "calls.sqlite")
    yield RecordingStore(journal, tmp_path)
    journal.close()


def tone(path: Path, seconds: float, freq: int = 440) -> Path:
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(path),
                    "synth", str(seconds), "sine", str(freq)], check=True)
    return path


def seconds_of(path: Path, kind: str) -> float:
    """Independent of the compressor's own check: sox's stat, or opusdec into a WAV."""
    if kind == "opus":
        out = path.with_name("decoded.wav")
        subprocess.run(["opusdec", "--quiet", "--rate", "8000", str(path), str(out)], check=True)
        path, kind = out, "wav"
    err = subprocess.run(["sox", "-t", kind, str(path), "-n", "stat"], capture_output=True, text=True,
                         check=True).stderr
    return float(next(line for line in err.splitlines() if line.startswith("Length")).split()[-1])


def channels_of(path: Path, kind: str) -> int:
    if kind == "opus":
        info = subprocess.run(["opusinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return 2 if "Channels: 2" in info else 1
    return int(subprocess.run(["soxi", "-c", str(path)], capture_output=True, text=True, check=True).stdout)


def recording(store: RecordingStore, call_id: str, status: str = "processing") -> Recording:
    wav = store.wav_path(call_id, DAY + 60)
    rec = Recording(call_id, store.relative(wav), "wav", status, DAY + 60, caller="+79161234567", callee="101")
    store.add(rec)
    return rec


def compressor(store: RecordingStore, fmt: str = "ogg", done: list | None = None) -> Compressor:
    return Compressor(store, fmt=lambda: fmt, on_done=(done.append if done is not None else lambda r: None))


@pytest.mark.parametrize("fmt", ["ogg", "opus", "mp3"])
def test_each_format_mono(store: RecordingStore, fmt: str) -> None:
    rec = recording(store, "c1")
    wav = tone(store.absolute(rec), 3.0)
    out = compressor(store, fmt).process("c1")
    assert out is not None and (out.status, out.format, out.channels) == ("ready", fmt, 1)
    final = store.absolute(out)
    assert final.name == f"c1.{fmt}" and final.is_file() and not wav.exists()
    assert stat.S_IMODE(final.stat().st_mode) == 0o600
    assert out.duration == 3.0 and out.size == final.stat().st_size and out.size < 48044 / 3
    decoded = seconds_of(final, fmt)
    assert 3.0 - 0.1 <= decoded <= 3.0 + (0.25 if fmt == "mp3" else 0.1)
    assert store.journal.get("c1") is None  # no call record yet: nothing to link
    assert not list(final.parent.glob(".*.tmp"))


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_two_sides_merged(store: RecordingStore, fmt: str) -> None:
    recording(store, "c2")
    tone(store.wav_path("c2", DAY + 60, "a"), 3.0, 440)
    tone(store.wav_path("c2", DAY + 60, "b"), 2.5, 300)  # the shorter side is padded with silence
    out = compressor(store, fmt).process("c2")
    assert out is not None and (out.status, out.format, out.channels, out.duration) == ("ready", fmt, 2, 3.0)
    final = store.absolute(out)
    assert channels_of(final, fmt) == 2 and abs(seconds_of(final, fmt) - 3.0) <= 0.1
    assert not list(final.parent.glob("c2.*.wav"))


def unfinished(path: Path, seconds: float, *, cut: int | None = None, zero: bool = True) -> Path:
    """A WAV as pjsua2 leaves it when the power goes: header sizes 0 (it fills them at
    close) and the file cut at its last 4 KB write; or sizes claiming more than is there."""
    tone(path, seconds)
    data = bytearray(path.read_bytes())
    if zero:
        struct.pack_into("<I", data, 4, 0)
        struct.pack_into("<I", data, 40, 0)
    path.write_bytes(bytes(data[:cut]) if cut else bytes(data))
    return path


def test_unfinished_header_repaired_then_compressed(store: RecordingStore) -> None:
    rec = recording(store, "c3")
    wav = unfinished(store.absolute(rec), 3.0, cut=20480)  # 44 + 20436 bytes: 1.27725 s
    before = subprocess.run(["soxi", "-D", str(wav)], capture_output=True, text=True).stdout
    assert float(before) == 0.0  # what sox makes of it unrepaired: silence, no error
    out = compressor(store).process("c3")
    assert out is not None and (out.status, out.format) == ("ready", "ogg")
    assert out.duration == round(20436 / 16000, 3) and "header repaired" in out.note
    assert abs(seconds_of(store.absolute(out), "ogg") - 20436 / 16000) < 0.01


def test_full_disk_wav_claims_more_than_it_holds(tmp_path: Path) -> None:
    wav = unfinished(tmp_path / "x.wav", 3.0, cut=44 + 16001, zero=False)  # half a sample at the end
    info = repair_wav(wav)
    assert info.repaired and info.data_bytes == 16000 and info.duration == 1.0
    assert wav.stat().st_size == 44 + 16000
    assert struct.unpack("<I", wav.read_bytes()[4:8])[0] == 36 + 16000
    assert float(subprocess.run(["soxi", "-D", str(wav)], capture_output=True, text=True).stdout) == 1.0
    again = repair_wav(wav)
    assert not again.repaired and again.data_bytes == 16000  # a finished file is left alone


def test_unreadable_and_missing_wav_fail_with_a_note(store: RecordingStore) -> None:
    rec = recording(store, "bad")
    store.absolute(rec).write_bytes(b"\0" * 300)  # the header was never written
    out = compressor(store).process("bad")
    assert out is not None and out.status == "failed" and "no WAV header" in out.note
    assert store.absolute(rec).exists()
    recording(store, "gone")
    out = compressor(store).process("gone")
    assert out is not None and out.status == "failed" and out.note == "no audio file"
    rec = recording(store, "empty")
    unfinished(store.absolute(rec), 1.0, cut=44)
    out = compressor(store).process("empty")
    assert out is not None and out.status == "failed" and "no audio recorded" in out.note


def test_check_catches_a_short_file_and_the_wav_is_kept(store: RecordingStore, monkeypatch) -> None:
    rec = recording(store, "c4", status="processing")
    wav = tone(store.absolute(rec), 3.0)
    real = compress.encode

    def short(sources: list[Path], out: Path, fmt: str, *, timeout: float) -> None:
        cut = out.with_name("cut.wav")
        subprocess.run(["sox", str(sources[0]), str(cut), "trim", "0", "2.5"], check=True)
        real([cut], out, fmt, timeout=timeout)  # a real ogg, half a second short

    monkeypatch.setattr(compress, "encode", short)
    out = compressor(store).process("c4")
    assert out is not None and (out.status, out.format, out.path) == ("ready", "wav", rec.path)
    assert "plays 2.50 s, the WAV 3.00 s" in out.note and wav.exists() and out.size == wav.stat().st_size
    assert not (wav.parent / "c4.ogg").exists() and not list(wav.parent.glob(".*.tmp"))


def test_codec_failure_keeps_both_sides(store: RecordingStore, monkeypatch) -> None:
    recording(store, "c5")
    tone(store.wav_path("c5", DAY + 60, "a"), 1.0)
    tone(store.wav_path("c5", DAY + 60, "b"), 1.0)

    def broken(*args, **kwargs) -> None:
        raise ToolFailed("sox: out of memory")

    monkeypatch.setattr(compress, "encode", broken)
    out = compressor(store, "mp3").process("c5")
    assert out is not None and (out.status, out.format, out.channels) == ("ready", "wav", 2)
    assert out.path.endswith("c5.a.wav") and "the other side is c5.b.wav" in out.note
    assert "not compressed to mp3: sox: out of memory" in out.note


def test_start_finishes_a_power_cuts_leftovers(store: RecordingStore) -> None:
    store.journal.add(CallRecord(
        "c6", "+79161234567", "101", "inbound", "gsm1", DAY + 50, DAY + 60, DAY + 90, 30.0, "answered"))
    rec = recording(store, "c6", status="recording")  # the daemon died mid-call
    unfinished(store.absolute(rec), 2.0, cut=44 + 8192 * 2)
    # c7: checked and renamed into place, then the power went before the row said so
    rec7 = recording(store, "c7")
    wav7 = tone(store.absolute(rec7), 2.0)
    subprocess.run(["sox", str(wav7), "-C", "-1", str(wav7.with_suffix(".ogg"))], check=True)
    done: list[Recording] = []
    worker = compressor(store, "ogg", done)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while (len(done) < 2 or worker.pending()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(5)
    assert sorted(r.call_id for r in done) == ["c6", "c7"] and worker.pending() == 0
    c6, c7 = store.get("c6"), store.get("c7")
    assert (c6.status, c6.format, c6.duration) == ("ready", "ogg", 1.024)
    assert "recovered after a restart" in c6.note
    assert store.journal.get("c6").details["recording"]["format"] == "ogg"
    assert (c7.status, c7.format, c7.duration) == ("ready", "ogg", 2.0) and not wav7.exists()
    assert worker._thread is None


def test_deleted_meanwhile_and_unknown_format(store: RecordingStore) -> None:
    assert compressor(store).process("nothing") is None
    assert compressor(store, "flac").format() == "ogg"
    assert compressor(store, "OPUS").format() == "opus"
