"""The two outside programs prompts are made with: Debian's sox (any audio in, the
appliance's 8 kHz mono 16-bit WAV out) and espeak-ng (text to speech).

They run as subprocesses with a timeout, niced, so a long upload or a stuck converter
never takes CPU from the core thread's media clock on a 2-core box, and a crash in a
codec library cannot take the daemon down with it.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import wave
from pathlib import Path

from pbx.errors import PbxError

log = logging.getLogger(__name__)

RATE, CHANNELS, WIDTH = 8000, 1, 2  # what the conference bridge plays without resampling
SOX_TIMEOUT = 120.0
ESPEAK_TIMEOUT = 60.0
# espeak-ng's default is 175 words a minute; narrowband phone audio is easier to follow
# a little slower.
SPEECH_RATE = 150
VOICES = {"en": "en", "ru": "ru"}

# Types sox reads whose files carry a header, so bytes that are not audio fail to open.
# Headerless types (raw, ul, al, s16, gsm, vox...) are left out on purpose: sox would
# "convert" any file at all into noise with them.
SOX_TYPES = {
    "wav": "wav", "wave": "wav", "mp3": "mp3", "ogg": "ogg", "oga": "ogg", "flac": "flac",
    "aif": "aiff", "aiff": "aiff", "aifc": "aifc", "au": "au", "snd": "au", "caf": "caf",
    "w64": "w64", "voc": "voc", "amr": "amr-nb", "sph": "sph",
}
# The first bytes of each type, which win over a misleading file name.
MAGIC = ((b"RIFF", "wav"), (b"OggS", "ogg"), (b"fLaC", "flac"), (b"ID3", "mp3"),
         (b".snd", "au"), (b"caff", "caf"), (b"#!AMR\n", "amr-nb"), (b"riff", "w64"),
         (b"Creative Voice File", "voc"))


class ToolFailed(Exception):
    """The program ran and refused the input (not a missing program: that is PbxError)."""


def sox_type(data: bytes, filename: str) -> str | None:
    """The sox input type for an upload: by its first bytes, else by its name's suffix."""
    for magic, kind in MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "aiff" if data[8:12] == b"AIFF" else "aifc"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "mp3"  # an MPEG audio frame with no ID3 tag
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return SOX_TYPES.get(suffix)


def run_tool(argv: list[str], timeout: float, stdin: bytes | None = None) -> None:
    """Run sox, an encoder or espeak niced: ToolFailed when it refuses or takes too long,
    PbxError when it is not installed."""
    program = argv[0]
    if shutil.which(program) is None:
        raise PbxError(f"{program} is not installed (scripts/setup.sh installs it)")
    try:
        proc = subprocess.run(["nice", "-n", "10", *argv], input=stdin, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{program} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ToolFailed(f"{program}: {reason[-1][:200] if reason else f'exit {proc.returncode}'}")


def to_phone_wav(src: Path, dst: Path, src_type: str | None, *, limit_s: float,
                 effects: tuple[str, ...] = ()) -> None:
    """Convert src into dst as 8 kHz mono signed 16-bit WAV; at most limit_s seconds
    are written, so a caller can tell "too long" without converting an hour of audio."""
    typed = ["-t", src_type] if src_type else []
    run_tool(["sox", "-q", "-V1", *typed, str(src), "-r", str(RATE), "-c", str(CHANNELS),
          "-b", str(8 * WIDTH), "-e", "signed-integer", "-t", "wav", str(dst),
          *effects, "trim", "0", f"{limit_s:g}"], SOX_TIMEOUT)


def speak(text: str, language: str, dst: Path) -> None:
    """espeak-ng's own WAV (22 kHz) of text; the text goes in on stdin, never as an
    argument, so it cannot be read as an option."""
    run_tool(["espeak-ng", "-v", VOICES[language], "-s", str(SPEECH_RATE), "-b", "1",
          "--stdin", "-w", str(dst)], ESPEAK_TIMEOUT, stdin=text.encode("utf-8"))


def phone_wav_frames(path: Path) -> int:
    """Frames in a WAV that is in the appliance's format; ToolFailed if it is not."""
    try:
        with wave.open(str(path), "rb") as wav:
            fmt = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            frames = wav.getnframes()
    except (wave.Error, EOFError, OSError) as exc:
        raise ToolFailed(f"unreadable WAV: {exc}") from None
    if fmt != (RATE, CHANNELS, WIDTH):
        raise ToolFailed(f"WAV is {fmt}, not {(RATE, CHANNELS, WIDTH)}")
    return frames
