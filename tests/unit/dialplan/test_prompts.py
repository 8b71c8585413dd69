"""PromptLibrary with the real sox and espeak-ng: uploads in other formats become 8 kHz
mono 16-bit WAV, what is not audio is refused and the old prompt stays, speech in both
languages is real audio of a plausible length, unchanged text is not spoken again."""
from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from pbx.dialplan.prompts import SYSTEM_PROMPTS, PromptLibrary
from pbx.errors import Conflict, NotFound, ValidationError

pytestmark = pytest.mark.skipif(not (shutil.which("sox") and shutil.which("espeak-ng")),
                                reason="sox and espeak-ng come with scripts/setup.sh")


def sox_formats() -> str:
    return subprocess.run(["sox", "-h"], capture_output=True, text=True).stdout


def make_tone(path: Path, seconds: float = 1.0, rate: int = 44100, channels: int = 2) -> bytes:
    """A file in whatever format path's suffix names, made by sox itself."""
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), str(path), "synth",
                    f"{seconds}", "sine", "440"], check=True)
    return path.read_bytes()


def samples(path: Path) -> tuple[np.ndarray, tuple[int, int, int]]:
    with wave.open(str(path), "rb") as wav:
        fmt = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data, fmt


def rms(data: np.ndarray) -> float:
    return float(np.sqrt(np.mean(data.astype(np.float64) ** 2))) if len(data) else 0.0


@pytest.fixture
def lib(tmp_path: Path) -> PromptLibrary:
    return PromptLibrary(tmp_path / "data")


@pytest.mark.parametrize("suffix", ["ogg", "flac", "aiff", "wav", "mp3"])
def test_uploads_in_other_formats_become_phone_wav(lib: PromptLibrary, tmp_path: Path, suffix: str) -> None:
    if suffix == "mp3" and " mp3 " not in sox_formats():
        pytest.skip("this sox has no MP3 support (libsox-fmt-mp3)")
    data = make_tone(tmp_path / f"tone.{suffix}", seconds=1.5)
    path = lib.from_upload("welcome", data, f"Welcome Message.{suffix.upper()}")
    assert path == lib.dir / "welcome.wav" == lib.path("welcome")
    audio, fmt = samples(path)
    assert fmt == (8000, 1, 2)
    assert 1.4 < lib.duration("welcome") < 1.7  # MP3 adds a little padding
    assert rms(audio) > 1000
    assert lib.source("welcome")["source"] == "upload"
    assert not list(lib.dir.glob(".work-*"))


def test_a_misnamed_upload_is_read_by_its_content(lib: PromptLibrary, tmp_path: Path) -> None:
    data = make_tone(tmp_path / "tone.ogg", seconds=0.5)
    lib.from_upload("menu", data, "menu.wav")  # an OGG called .wav
    assert 0.45 < lib.duration("menu") < 0.6


@pytest.mark.parametrize("data,name", [
    (b"PK\x03\x04 this is a zip, not audio", "prompt.wav"),
    (b"RIFF\x10\x00\x00\x00WAVEjunk", "prompt.wav"),
    (b"hello, I am a text file\n" * 50, "notes.txt"),
    (b"hello, I am a text file\n" * 50, "notes.mp3"),
    (b"", "empty.wav"),
    (b"\x7fELF\x02\x01\x01" + bytes(200), "program"),
])
def test_what_is_not_audio_is_refused_and_the_old_prompt_kept(
        lib: PromptLibrary, tmp_path: Path, data: bytes, name: str) -> None:
    lib.from_upload("welcome", make_tone(tmp_path / "old.wav", seconds=0.8), "old.wav")
    before = (lib.dir / "welcome.wav").read_bytes()
    with pytest.raises(ValidationError) as err:
        lib.from_upload("welcome", data, name)
    assert err.value.details == {"field": "file"}
    assert (lib.dir / "welcome.wav").read_bytes() == before
    assert lib.source("welcome")["source"] == "upload"
    assert not list(lib.dir.glob(".work-*"))


def test_an_audio_file_with_no_samples_is_refused(lib: PromptLibrary, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
    with pytest.raises(ValidationError, match="empty") as err:
        lib.from_upload("welcome", path.read_bytes(), "silence.wav")
    assert err.value.details == {"field": "file"}
    assert not lib.exists("welcome")


def test_more_than_ten_minutes_is_refused(lib: PromptLibrary, tmp_path: Path) -> None:
    data = make_tone(tmp_path / "long.flac", seconds=601.5, rate=8000, channels=1)
    with pytest.raises(ValidationError, match="10 minutes") as err:
        lib.from_upload("welcome", data, "long.flac")
    assert err.value.details == {"field": "file"}
    assert not lib.exists("welcome")


@pytest.mark.parametrize("language,text,low,high", [
    ("en", "Thank you for calling. Press one for sales, two for support.", 2.5, 8.0),
    ("ru", "Спасибо за звонок. Нажмите один для отдела продаж, два для поддержки.", 2.5, 9.0),
])
def test_speech_is_real_phone_audio(lib: PromptLibrary, language: str, text: str, low: float, high: float) -> None:
    path = lib.from_text("menu", text, language)
    audio, fmt = samples(path)
    assert fmt == (8000, 1, 2)
    assert low < lib.duration("menu") < high
    assert rms(audio) > 800  # speech, not silence
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)  # 20 ms frames
    voiced = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) > 300
    assert 0.3 < voiced.mean() < 0.95  # words and the gaps between them
    assert lib.source("menu") == {"source": "text", "language": language, "sha256": lib.source("menu")["sha256"]}


def test_unchanged_text_is_not_spoken_again(lib: PromptLibrary) -> None:
    path = lib.from_text("menu", "Press one for sales.", "en")
    stamp = path.stat().st_mtime_ns, path.stat().st_ino
    assert lib.from_text("menu", "  Press one for sales.  ", "en") == path
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == stamp
    lib.from_text("menu", "Press one for sales.", "ru")  # another language: spoken again
    assert path.stat().st_ino != stamp[1]
    stamp = path.stat().st_mtime_ns, path.stat().st_ino
    lib.from_text("menu", "Press two for sales.", "ru")
    assert path.stat().st_ino != stamp[1]


def test_an_upload_over_speech_is_replaced_by_the_same_text_again(lib: PromptLibrary, tmp_path: Path) -> None:
    lib.from_text("menu", "Press one for sales.", "en")
    lib.from_upload("menu", make_tone(tmp_path / "t.wav", seconds=3.0), "t.wav")
    lib.from_text("menu", "Press one for sales.", "en")
    assert lib.source("menu")["source"] == "text"
    assert lib.duration("menu") < 2.9


@pytest.mark.parametrize("text", ["", "   \n", "x" * 2001])
def test_text_must_be_there_and_not_too_long(lib: PromptLibrary, text: str) -> None:
    with pytest.raises(ValidationError) as err:
        lib.from_text("menu", text, "en")
    assert err.value.details == {"field": "text"}
    assert not lib.exists("menu")


def test_language_and_id_are_checked(lib: PromptLibrary) -> None:
    with pytest.raises(ValidationError) as err:
        lib.from_text("menu", "Hello", "de")
    assert err.value.details == {"field": "language"}
    for bad in ("../etc/passwd", "Menu", "", "a" * 33, "-menu"):
        with pytest.raises(ValidationError) as err:
            lib.from_text(bad, "Hello", "en")
        assert err.value.details == {"field": "id"}
    assert list(lib.dir.iterdir()) == []


def test_system_prompts_are_made_once_and_kept(lib: PromptLibrary, tmp_path: Path) -> None:
    assert sorted(lib.ensure_system_prompts()) == sorted(SYSTEM_PROMPTS)
    assert {f"system-{n}-{lang}" for n in ("hold", "invalid", "closed", "goodbye", "blocked", "recorded")
            for lang in ("en", "ru")} == set(SYSTEM_PROMPTS)
    for prompt_id in SYSTEM_PROMPTS:
        assert 0.8 < lib.duration(prompt_id) < 8.0
    assert lib.duration("system-closed-en") > lib.duration("system-goodbye-en")
    lib.from_upload("system-hold-en", make_tone(tmp_path / "hold.wav", seconds=2.0), "hold.wav")
    assert lib.ensure_system_prompts() == []
    assert lib.source("system-hold-en")["source"] == "upload"
    with pytest.raises(Conflict):
        lib.delete("system-hold-en")
    assert lib.exists("system-hold-en")


def test_delete_and_missing_prompts(lib: PromptLibrary) -> None:
    lib.from_text("menu", "Hello", "en")
    lib.delete("menu")
    assert not lib.exists("menu") and lib.source("menu") == {}
    lib.delete("menu")  # nothing left: nothing to do
    with pytest.raises(NotFound):
        lib.path("menu")
    with pytest.raises(NotFound):
        lib.duration("menu")
