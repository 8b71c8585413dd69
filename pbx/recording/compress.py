"""After a call, its WAV becomes the owner's chosen format on one worker thread.

Each step leaves something playable if the power goes: the compressed file is written to
a temp name, decoded back and its length checked against the WAV's, fsynced and renamed
into place; only then does the row name it and the WAV go. A row still `recording` or
`processing` at start is such a cut: a WAV pjsua2 never finished (its header still says
zero bytes, or more than the disk took) gets its sizes from the file's length first, and
a compressed file already renamed into place is adopted. When the codec fails the WAV is
kept (status ready, format wav) and the note says why.

Formats: ogg (Vorbis by sox, the default: the compressed format Debian's sox writes and
reads back sample-exact), opus (opusenc from opus-tools, 16 kbit/s: half the size, but
two more programs), mp3 (sox with LAME; its decoders add up to ~0.15 s of padding, so the
length stored is always the WAV's). The codecs run niced with a timeout, like the prompt
tools: a long recording never takes the core's CPU, a codec crash never takes the daemon.
"""
from __future__ import annotations

import logging
import os
import queue
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pbx.dialplan.audiotools import ToolFailed, run_tool
from pbx.errors import PbxError
from pbx.recording.store import Recording, RecordingStore
from pbx.store.atomic import fsync_dir

log = logging.getLogger(__name__)

FORMATS = ("ogg", "opus", "mp3")
DEFAULT_FORMAT = "ogg"
TOLERANCE = 0.1  # seconds the decoded length may differ from the WAV's
MP3_PADDING = 0.25  # what an mp3 decoder may add on top (encoder delay and the last frame)
OPUS_KBITS = 16
RATE = 8000  # what the recorder writes (and what the checks decode to)


class BadWav(Exception):
    """A WAV that cannot be read even after a repair (no header, no audio chunk)."""


@dataclass(frozen=True)
class WavInfo:
    rate: int
    channels: int
    width: int  # bytes per sample
    data_bytes: int
    repaired: bool

    @property
    def duration(self) -> float:
        return self.data_bytes / (self.rate * self.channels * self.width) if self.rate else 0.0


def repair_wav(path: Path) -> WavInfo:
    """Read a PCM WAV's format; when its data size is zero (the header pjsua2 writes until
    it closes the file) or more than the file holds (a crash or a full disk), rewrite the
    RIFF and data sizes from the file's length, dropping a half-written last frame."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise BadWav(f"{path.name}: no WAV header")
        pos, fmt, data_at, claimed = 12, None, 0, 0
        while pos + 8 <= size:
            f.seek(pos)
            chunk, length = struct.unpack("<4sI", f.read(8))
            if chunk == b"fmt ":
                raw = f.read(16)
                if len(raw) < 16:
                    break
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", raw)
                if tag not in (1, 0xFFFE) or not channels or bits % 8:
                    raise BadWav(f"{path.name}: not PCM audio")
                fmt = (rate, channels, bits // 8)
            elif chunk == b"data":
                data_at, claimed = pos + 8, length
                break
            pos += 8 + length + (length & 1)
        if fmt is None or not data_at:
            raise BadWav(f"{path.name}: no {'format' if fmt is None else 'audio'} chunk")
        rate, channels, width = fmt
        frame = channels * width
        held = max(0, size - data_at)
        held -= held % frame
        if claimed and claimed <= held:  # finished (chunks may follow the audio)
            return WavInfo(rate, channels, width, claimed, False)
        f.seek(4)
        f.write(struct.pack("<I", data_at - 8 + held))
        f.seek(data_at - 4)
        f.write(struct.pack("<I", held))
        f.truncate(data_at + held)
        f.flush()
        os.fsync(f.fileno())
    log.warning("recording %s: WAV header repaired (%d bytes of audio)", path.name, held)
    return WavInfo(rate, channels, width, held, True)


def _decoded_seconds(argv: list[str], channels: int, timeout: float) -> float:
    """Decode to raw 16-bit samples on stdout and count them (never held in memory)."""
    if shutil.which(argv[0]) is None:
        raise ToolFailed(f"{argv[0]} is not installed")
    proc = subprocess.Popen(["nice", "-n", "10", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        count = 0
        assert proc.stdout is not None
        while chunk := proc.stdout.read(65536):
            count += len(chunk)
        err = proc.stderr.read() if proc.stderr else b""
        code = proc.wait()
    finally:
        timer.cancel()
    if code != 0:
        reason = err.decode("utf-8", "replace").strip().splitlines()
        raise ToolFailed(f"{argv[0]} cannot decode it: {reason[-1][:200] if reason else f'exit {code}'}")
    return count / (RATE * 2 * channels)


def encode(sources: list[Path], out: Path, fmt: str, *, timeout: float) -> None:
    """sources: one WAV, or the two sides merged into two channels (sox -M)."""
    sox_in = ["-M", *map(str, sources)] if len(sources) > 1 else [str(sources[0])]
    if fmt == "ogg":
        run_tool(["sox", "-q", "-V1", *sox_in, "-C", "-1", "-t", "ogg", str(out)], timeout)
    elif fmt == "mp3":
        run_tool(["sox", "-q", "-V1", *sox_in, "-C", "16", "-t", "mp3", str(out)], timeout)
    elif fmt == "opus":
        wav, merged = sources[0], None
        if len(sources) > 1:  # opusenc takes one file: the two sides go in as one stereo WAV
            merged = out.with_name(out.name + ".wav.tmp")
            run_tool(["sox", "-q", "-V1", *sox_in, "-t", "wav", str(merged)], timeout)
            wav = merged
        try:
            run_tool(["opusenc", "--quiet", "--bitrate", str(OPUS_KBITS), str(wav), str(out)], timeout)
        finally:
            if merged is not None:
                merged.unlink(missing_ok=True)
    else:
        raise ToolFailed(f"unknown format {fmt}")


def check(path: Path, fmt: str, channels: int, expected: float, *, timeout: float) -> float:
    """The file decodes and its length matches the WAV's; the decoded length."""
    if fmt == "opus":
        run_tool(["opusinfo", str(path)], timeout)
        seconds = _decoded_seconds(["opusdec", "--quiet", "--rate", str(RATE), str(path), "-"], channels, timeout)
    else:
        seconds = _decoded_seconds(["sox", "-q", "-V1", "-t", fmt, str(path), "-t", "s16", "-r", str(RATE),
                                    "-c", str(channels), "-"], channels, timeout)
    extra = MP3_PADDING if fmt == "mp3" else 0.0
    if not expected - TOLERANCE <= seconds <= expected + TOLERANCE + extra:
        raise ToolFailed(f"the {fmt} file plays {seconds:.2f} s, the WAV {expected:.2f} s")
    return seconds


def _noted(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


class Compressor:
    def __init__(self, store: RecordingStore, *, fmt: Callable[[], str],
                 on_done: Callable[[Recording], None]) -> None:
        self.store, self.fmt, self.on_done = store, fmt, on_done
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: dict[str, None] = {}  # queued or being compressed, in order
        self._thread: threading.Thread | None = None

    # -- the thread -------------------------------------------------------------------
    def start(self) -> None:
        """Start before any call records: every row still recording or processing is a
        power cut's leftover and is finished first."""
        for rec in self.store.with_status("recording", "processing"):
            self.submit(rec.call_id)
        self._thread = threading.Thread(target=self._run, name="recordings", daemon=True)
        self._thread.start()

    def submit(self, call_id: str) -> None:
        with self._lock:
            if call_id in self._pending:
                return
            self._pending[call_id] = None
        self._queue.put(call_id)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self, timeout: float = 10.0) -> None:
        """What is left stays `processing` and is done at the next start."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while (call_id := self._queue.get()) is not None:
            try:
                rec = self.process(call_id)
                if rec is not None:
                    self.on_done(rec)
            except Exception:  # one bad recording must not stop the others
                log.exception("recording %s: not processed", call_id)
            finally:
                with self._lock:
                    self._pending.pop(call_id, None)

    # -- one recording ----------------------------------------------------------------
    def format(self) -> str:
        try:
            fmt = str(self.fmt() or DEFAULT_FORMAT).lower()
        except Exception:
            fmt = DEFAULT_FORMAT
        if fmt not in FORMATS:
            log.warning("recording_format %r unknown: %s", fmt, DEFAULT_FORMAT)
            fmt = DEFAULT_FORMAT
        return fmt

    def process(self, call_id: str) -> Recording | None:
        """Compress one recording (on the worker; tests call it directly). The recording
        as it now stands, or None when it was deleted meanwhile or is already done."""
        rec = self.store.get(call_id)
        if rec is None or rec.status in ("ready", "failed"):
            return None
        resumed = rec.status == "recording"  # a call that never ended: the power went
        day = self.store.absolute(rec).parent
        parts = [day / f"{call_id}.a.wav", day / f"{call_id}.b.wav"]
        sources = [p for p in parts if p.exists()] or [p for p in [day / f"{call_id}.wav"] if p.exists()]
        done = [day / f"{call_id}.{fmt}" for fmt in FORMATS if (day / f"{call_id}.{fmt}").exists()]
        note = _noted(rec.note, "recovered after a restart") if resumed else rec.note
        if done:  # checked and renamed into place before a power cut; the row was not updated
            try:
                infos = [repair_wav(p) for p in sources]
            except (BadWav, OSError):
                infos = []
            duration = round(max(i.duration for i in infos), 3) if infos else rec.duration
            channels = (len(sources) if len(sources) > 1 else infos[0].channels) if infos else rec.channels
            return self._ready(rec, done[0], duration, channels, note, sources)
        if not sources:
            return self.store.update(call_id, status="failed", note=_noted(note, "no audio file"))
        self.store.update(call_id, status="processing")
        try:
            infos = [repair_wav(p) for p in sources]
        except (BadWav, OSError) as exc:
            return self.store.update(call_id, status="failed", note=_noted(note, f"unreadable: {exc}"))
        for path in sources:
            os.chmod(path, 0o600)
        duration = round(max(i.duration for i in infos), 3)
        channels = len(sources) if len(sources) > 1 else infos[0].channels
        if any(i.repaired for i in infos):
            note = _noted(note, "header repaired") if not resumed else note
        if duration <= 0:
            return self.store.update(call_id, status="failed", duration=0.0, note=_noted(note, "no audio recorded"),
                                     size=sum(p.stat().st_size for p in sources), format="wav",
                                     path=self.store.relative(sources[0]), channels=channels)
        fmt = self.format()
        final = day / f"{call_id}.{fmt}"
        temp = day / f".{call_id}.{fmt}.tmp"
        timeout = 60.0 + duration
        try:
            encode(sources, temp, fmt, timeout=timeout)
            check(temp, fmt, channels, duration, timeout=timeout)
            os.chmod(temp, 0o600)
            with open(temp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(temp, final)
            fsync_dir(day)
        except (ToolFailed, PbxError, OSError) as exc:  # PbxError: the encoder is not installed
            temp.unlink(missing_ok=True)
            log.warning("recording %s: kept as WAV (%s)", call_id, exc)
            more = f"not compressed to {fmt}: {exc}"
            if len(sources) > 1:
                more += f"; the other side is {sources[1].name}"
            return self.store.update(call_id, status="ready", format="wav", path=self.store.relative(sources[0]),
                                     duration=duration, size=sum(p.stat().st_size for p in sources),
                                     channels=channels, note=_noted(note, more))
        return self._ready(rec, final, duration, channels, note, sources)

    def _ready(self, rec: Recording, final: Path, duration: float, channels: int, note: str,
               wavs: list[Path]) -> Recording | None:
        updated = self.store.update(rec.call_id, status="ready", format=final.suffix[1:],
                                    path=self.store.relative(final), duration=duration,
                                    size=final.stat().st_size, channels=channels, note=note)
        for wav in wavs:  # only once the row names the compressed file
            wav.unlink(missing_ok=True)
        if wavs:
            fsync_dir(final.parent)
        return updated
