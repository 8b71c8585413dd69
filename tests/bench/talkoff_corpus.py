"""Synthesises ~30 minutes of Russian and English speech with Debian's espeak-ng, as 8 kHz
16-bit mono, for the DTMF talk-off test. Cached outside the repo (~/.cache/pbx/talkoff).

    python tests/bench/talkoff_corpus.py [--minutes 30]   prints the corpus path
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pbx" / "talkoff"

ENGLISH = [
    "Good morning, thank you for calling, how can I help you today?",
    "Could you please tell me your order number and the date of delivery?",
    "I am calling about the invoice we received last Tuesday, the amount looks wrong.",
    "Hold on a second, let me check that with the warehouse manager.",
    "We open at nine and close at six, Monday through Saturday.",
    "My number is seven nine one six, one two three, four five, six seven.",
    "Yes, yes, I understand, but the parcel still has not arrived.",
    "Please send the contract by email and we will sign it tomorrow.",
    "The price includes installation, two years of warranty and free shipping.",
    "Hello? Hello? Can you hear me? The line is very bad today.",
    "Oh really, that is wonderful news, congratulations to the whole team!",
    "Sixty five thousand four hundred and twenty one roubles, including tax.",
]
RUSSIAN = [
    "Добрый день, спасибо за звонок, чем могу помочь?",
    "Подскажите, пожалуйста, номер вашего заказа и дату доставки.",
    "Я звоню по поводу счёта, который мы получили во вторник.",
    "Минуточку, сейчас уточню у менеджера склада.",
    "Мы работаем с девяти до шести, с понедельника по субботу.",
    "Мой номер восемь девятьсот шестнадцать, сто двадцать три, сорок пять, шестьдесят семь.",
    "Да, да, я понимаю, но посылка до сих пор не пришла.",
    "Пришлите, пожалуйста, договор по почте, завтра подпишем.",
    "Цена включает установку, два года гарантии и бесплатную доставку.",
    "Алло? Алло? Вы меня слышите? Связь сегодня очень плохая.",
    "Ой, правда? Замечательная новость, поздравляю всю команду!",
    "Шестьдесят пять тысяч четыреста двадцать один рубль с учётом налога.",
]
VOICES = {"en": ["en", "en-us", "en+f3", "en+m3", "en-us+f4"], "ru": ["ru", "ru+f3", "ru+m2", "ru+f4"]}


def synthesise(text: str, voice: str, speed: int, pitch: int, workdir: Path) -> np.ndarray:
    path = workdir / "say.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                   check=True, capture_output=True)
    with wave.open(str(path)) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    # Resample to 8 kHz (linear interpolation after a crude low-pass by block averaging).
    positions = np.arange(0, len(data), rate / 8000)
    return np.interp(positions, np.arange(len(data)), data.astype(np.float64)).astype(np.int16)


def build(minutes: float) -> Path:
    key = hashlib.sha1(repr((ENGLISH, RUSSIAN, VOICES, minutes)).encode()).hexdigest()[:12]
    out = CACHE / f"speech-{key}.s16"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    target = int(minutes * 60 * 8000)
    pieces, total = [], 0
    combos = itertools.cycle(itertools.product([80, 130, 175, 220], [20, 50, 80], ["en", "ru"]))
    with tempfile.TemporaryDirectory() as tmp:
        for n, (speed, pitch, lang) in enumerate(combos):
            texts = ENGLISH if lang == "en" else RUSSIAN
            voice = VOICES[lang][n % len(VOICES[lang])]
            audio = synthesise(" ".join(texts[n % len(texts):] + texts[:n % len(texts)]), voice, speed,
                               pitch, Path(tmp))
            pieces.append(audio)
            total += len(audio)
            print(f"\rtalk-off corpus: {total / 8000 / 60:5.1f} of {minutes} min", end="", file=sys.stderr)
            if total >= target:
                break
    print(file=sys.stderr)
    tmp_out = out.with_suffix(".tmp")
    np.concatenate(pieces)[:target].astype("<i2").tofile(tmp_out)
    tmp_out.replace(out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    print(build(parser.parse_args().minutes))
