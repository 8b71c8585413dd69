"""Prompt audio under the data directory: `prompts/<id>.wav`, always 8 kHz mono signed
16-bit, the conference bridge's own format, so playing one costs no resampling.

A prompt comes from an upload (any format sox reads) or from text (espeak-ng). Every
file is made in a scratch folder next to the prompts and os.replace()d into place, so a
refused upload, a crash or a power cut leaves the previous prompt whole. A sidecar
`prompts/<id>.json` says where the audio came from; for speech it keeps a hash of the
text, language and recipe, so saving an unchanged prompt does not run espeak-ng again.

Conversions run in the caller's thread (a web or CLI thread, never the core) one at a
time per library: two cores are shared with the media clock.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from pbx.dialplan import audiotools
from pbx.dialplan.audiotools import RATE, ToolFailed
from pbx.errors import Conflict, NotFound, ValidationError
from pbx.store.atomic import fsync_dir

log = logging.getLogger(__name__)

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LANGUAGES = ("en", "ru")
MAX_SECONDS = 600  # ten minutes
MAX_TEXT = 2000
# Bumped when the speech recipe changes (voice, rate, effects), so prompts made the old
# way are spoken again the next time they are saved or ensured.
TTS_RECIPE = 1
TTS_EFFECTS = ("norm", "-3", "pad", "0.2", "0.3")  # even level; room for the first syllable
SCRATCH_PREFIX = ".work-"

SYSTEM_TEXTS = {
    "hold": ("Please hold.", "Пожалуйста, оставайтесь на линии."),
    "invalid": ("That is not a valid option.", "Такого варианта нет."),
    "closed": ("The office is closed now. Please call again during business hours.",
               "Офис сейчас закрыт. Пожалуйста, позвоните в рабочее время."),
    "goodbye": ("Goodbye.", "До свидания."),
    "blocked": ("Calls from this number are not accepted. Goodbye.",
                "Звонки с этого номера не принимаются. До свидания."),
    "recorded": ("This call may be recorded.", "Этот звонок может быть записан."),
}
SYSTEM_PROMPTS: dict[str, tuple[str, str]] = {
    f"system-{name}-{lang}": (lang, texts[i])
    for name, texts in SYSTEM_TEXTS.items() for i, lang in enumerate(LANGUAGES)
}


def _text_hash(text: str, language: str) -> str:
    return hashlib.sha256(f"{TTS_RECIPE}\0{language}\0{text}".encode()).hexdigest()


class PromptLibrary:
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.dir = Path(data_dir) / "prompts"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sweep_scratch()

    # ---- reading ----------------------------------------------------------------
    def path(self, prompt_id: str) -> Path:
        """The prompt's WAV; NotFound if it has no audio (yet)."""
        path = self._wav(prompt_id)
        if not path.is_file():
            raise NotFound(f"prompt {prompt_id} has no audio", details={"id": prompt_id})
        return path

    def exists(self, prompt_id: str) -> bool:
        return self._wav(prompt_id).is_file()

    def duration(self, prompt_id: str) -> float:
        """Seconds of audio, from the WAV header (no decoding)."""
        try:
            return audiotools.phone_wav_frames(self.path(prompt_id)) / RATE
        except ToolFailed as exc:
            raise NotFound(f"prompt {prompt_id}: {exc}", details={"id": prompt_id}) from None

    def source(self, prompt_id: str) -> dict:
        """What the sidecar says: {"source": "upload"|"text", ...}, {} if none."""
        try:
            return json.loads(self._sidecar(prompt_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    # ---- making -----------------------------------------------------------------
    def from_upload(self, prompt_id: str, data: bytes, filename: str) -> Path:
        """Convert an uploaded file (WAV, MP3, OGG, FLAC, AIFF, ...) into the prompt.
        ValidationError(field "file") if it is not audio, is empty or is longer than ten
        minutes; the prompt that was there before is kept then."""
        self._check_id(prompt_id)
        kind = audiotools.sox_type(data, filename)
        if not data or kind is None:
            raise ValidationError("the file is not audio in a format the appliance reads "
                                  "(WAV, MP3, OGG, FLAC, AIFF, ...)", details={"field": "file"})
        with self._lock, self._scratch() as work:
            src = work / "upload"
            src.write_bytes(data)
            out = work / "out.wav"
            try:
                audiotools.to_phone_wav(src, out, kind, limit_s=MAX_SECONDS + 1)
                frames = audiotools.phone_wav_frames(out)
            except ToolFailed as exc:
                log.info("prompt %s: upload %r refused: %s", prompt_id, filename[:80], exc)
                raise ValidationError("the file is not audio the appliance can read",
                                      details={"field": "file"}) from None
            self._check_length(frames, "file")
            return self._install(prompt_id, out, {"source": "upload", "filename": filename[-120:]})

    def from_text(self, prompt_id: str, text: str, language: str) -> Path:
        """Speak text into the prompt with espeak-ng; nothing is done when this text and
        language made the current audio. ValidationError(field "text"/"language")."""
        self._check_id(prompt_id)
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            raise ValidationError("text: say something", details={"field": "text"})
        if len(text) > MAX_TEXT:
            raise ValidationError(f"text: at most {MAX_TEXT} characters", details={"field": "text"})
        if language not in LANGUAGES:
            raise ValidationError(f"language: one of {', '.join(LANGUAGES)}", details={"field": "language"})
        digest = _text_hash(text, language)
        with self._lock:
            if self._wav(prompt_id).is_file() and self.source(prompt_id).get("sha256") == digest:
                return self._wav(prompt_id)
            with self._scratch() as work:
                spoken, out = work / "speech.wav", work / "out.wav"
                try:
                    audiotools.speak(text, language, spoken)
                    audiotools.to_phone_wav(spoken, out, "wav", limit_s=MAX_SECONDS + 1,
                                            effects=TTS_EFFECTS)
                    frames = audiotools.phone_wav_frames(out)
                except ToolFailed as exc:
                    raise ValidationError(f"text could not be spoken: {exc}", details={"field": "text"}) from None
                self._check_length(frames, "text")
                return self._install(prompt_id, out, {"source": "text", "language": language, "sha256": digest})

    def ensure_system_prompts(self) -> list[str]:
        """Speak the built-in prompts that have no audio; returns the ids made. One the
        owner replaced with an upload is left alone."""
        made = []
        for prompt_id, (language, text) in SYSTEM_PROMPTS.items():
            if not self.exists(prompt_id):
                self.from_text(prompt_id, text, language)
                made.append(prompt_id)
        return made

    def delete(self, prompt_id: str) -> None:
        """Remove the prompt's audio and sidecar (nothing to do if it has none). System
        prompts cannot be deleted (Conflict)."""
        self._check_id(prompt_id)
        if prompt_id in SYSTEM_PROMPTS:
            raise Conflict(f"{prompt_id} is a system prompt and cannot be deleted", details={"id": prompt_id})
        with self._lock:
            for path in (self._sidecar(prompt_id), self._wav(prompt_id)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            fsync_dir(self.dir)

    # ---- internals --------------------------------------------------------------
    def _wav(self, prompt_id: str) -> Path:
        self._check_id(prompt_id)
        return self.dir / f"{prompt_id}.wav"

    def _sidecar(self, prompt_id: str) -> Path:
        return self.dir / f"{prompt_id}.json"

    @staticmethod
    def _check_id(prompt_id: str) -> None:
        if not isinstance(prompt_id, str) or not ID_RE.match(prompt_id):
            raise ValidationError("id: lower-case letters, digits, - and _, at most 32",
                                  details={"field": "id"})

    @staticmethod
    def _check_length(frames: int, field: str) -> None:
        if frames <= 0:
            raise ValidationError("the audio is empty", details={"field": field})
        if frames > MAX_SECONDS * RATE:
            raise ValidationError(f"the audio is longer than {MAX_SECONDS // 60} minutes", details={"field": field})

    @contextlib.contextmanager
    def _scratch(self):
        """A private folder on the prompts' filesystem (os.replace cannot cross one)."""
        work = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.dir))
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _install(self, prompt_id: str, wav: Path, meta: dict) -> Path:
        """Put the new audio in place. The old sidecar goes first: a crash in between
        leaves audio without a hash (spoken again when next saved), never new audio
        under an old text's hash."""
        with open(wav, "rb+") as fh:
            os.fsync(fh.fileno())
        sidecar, target = self._sidecar(prompt_id), self._wav(prompt_id)
        with contextlib.suppress(FileNotFoundError):
            sidecar.unlink()
        os.replace(wav, target)
        tmp = wav.with_name("meta.json")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, sidecar)
        fsync_dir(self.dir)
        return target

    def _sweep_scratch(self) -> None:
        """Scratch folders left by a process that died mid-conversion (an hour old: a
        CLI in another process may be converting right now)."""
        for work in self.dir.glob(SCRATCH_PREFIX + "*"):
            with contextlib.suppress(OSError):
                if time.time() - work.stat().st_mtime > 3600:
                    shutil.rmtree(work, ignore_errors=True)
