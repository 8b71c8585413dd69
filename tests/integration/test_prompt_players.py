"""PromptPlayers on a real pjsua2 endpoint on its own core thread (null audio device,
as the appliance runs it): listeners who start a prompt within 0.3 s share one player,
a later one gets its own, each hears the audio, on_done comes once per listener on the
core thread, stop() ends one listener, and players and conference ports return to zero.

Light enough to run beside a load test: one endpoint, no SIP traffic, a few seconds."""
from __future__ import annotations

import array
import threading
import time
import wave
from pathlib import Path
from typing import Callable

import numpy as np
import pjsua2 as pj
import pytest

from pbx.calls.trunk import ModemAudioPort, pcm_format
from pbx.core import Core
from pbx.errors import NotFound, PbxError
from pbx.media.directors import DeleteWhileAlive
from pbx.media.engine import MediaEngine
from pbx.media.players import Listener, PromptPlayers

LOUD = 2000


class EnergySink(DeleteWhileAlive, pj.AudioMediaPort):
    """A conference port standing in for a call leg: counts loud 20 ms frames it is sent
    (on pjmedia's clock thread) and when the last one came."""

    def __init__(self) -> None:
        super().__init__()
        self.loud = 0
        self.last_loud = 0.0

    def open(self, name: str) -> None:
        self.createPort(name, pcm_format())

    def onFrameRequested(self, frame: "pj.MediaFrame") -> None:
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(bytes(320))
        frame.size = 320

    def onFrameReceived(self, frame: "pj.MediaFrame") -> None:
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            if max(map(abs, array.array("h", bytes(frame.buf)))) > LOUD:
                self.loud += 1
                self.last_loud = time.monotonic()


def write_tone(path: Path, seconds: float) -> Path:
    t = np.arange(int(8000 * seconds)) / 8000
    pcm = (12000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm.tobytes())
    return path


class Bench:
    """The endpoint, the players and named sinks. Sinks are created and dropped on the
    core thread and only ever referred to by name from the test, so none outlives
    libDestroy."""

    def __init__(self, share_window: float = 0.3) -> None:
        self.engine = MediaEngine("127.0.0.1", 0)
        self.core = Core(self.engine)
        self.sinks: dict[str, EnergySink] = {}
        self.done: dict[str, list[tuple[float, bool]]] = {}
        self.engine.on_stop.append(self.sinks.clear)
        self.core.start()
        self.players: PromptPlayers = self.core.call(
            lambda: PromptPlayers(self.core.submit, self.core.call_later,
                                  share_window=share_window).attach(self.engine))
        self.idle_ports = self.ports()

    def ports(self) -> int:
        return self.core.call(lambda: self.engine.ep.mediaActivePorts())

    def player_ports(self) -> int:
        """Conference ports of file players. (Sinks are not counted: pjsua closes the
        idle null sound device after a second, and the bridge applies a port's removal
        on its next tick, so a sink dropped while nothing plays stays counted until the
        next call wakes the bridge.)"""
        def on_core() -> int:
            ports = self.engine.ep.mediaEnumPorts2()  # kept: a SWIG temporary is freed
            return sum(1 for media in ports if media.getPortInfo().name.endswith(".wav"))
        return self.core.call(on_core)

    def play(self, name: str, path: Path) -> Listener:
        def on_core() -> Listener:  # no sink in a local: a traceback would keep it
            if name not in self.sinks:
                self.sinks[name] = EnergySink()
                self.sinks[name].open(name)
            self.done.setdefault(name, [])
            return self.players.play(path, self.sinks[name], self._on_done(name))
        return self.core.call(on_core)

    def _on_done(self, name: str) -> Callable[[], None]:
        return lambda: self.done[name].append((time.monotonic(), self.core.in_core()))

    def loud(self, name: str) -> int:
        return self.sinks[name].loud

    def count(self) -> tuple[int, int]:
        return self.core.call(lambda: (self.players.count(), self.players.listener_count()))

    def wait(self, what: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return True
            time.sleep(0.02)
        return what()

    def stop(self) -> None:
        assert self.core.stop(), "the media engine did not stop"


@pytest.fixture
def bench():
    b = Bench()
    yield b
    b.stop()


def test_listeners_within_the_window_share_a_player_and_a_later_one_gets_its_own(
        bench: Bench, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "menu.wav", 1.0)
    t0 = time.monotonic()
    a = bench.play("a", tone)
    time.sleep(0.1)
    b = bench.play("b", tone)
    assert b.player == a.player
    assert bench.count() == (1, 2)
    time.sleep(max(0.0, 0.45 - (time.monotonic() - t0)))
    c = bench.play("c", tone)
    assert c.player != a.player
    assert bench.count() == (2, 3)

    assert bench.wait(lambda: all(bench.done[n] for n in "abc"))
    time.sleep(0.3)
    assert {n: len(bench.done[n]) for n in "abc"} == {"a": 1, "b": 1, "c": 1}
    assert all(on_core for n in "abc" for _, on_core in bench.done[n])
    end = {n: bench.done[n][0][0] for n in "abc"}
    assert abs(end["a"] - end["b"]) < 0.1  # one player: one end
    assert 0.3 < end["c"] - end["a"] < 0.6
    assert 0.85 < end["a"] - t0 < 1.6

    # Each sink heard the tone for as long as it listened (50 frames a second).
    assert 42 <= bench.loud("a") <= 56
    assert 36 <= bench.loud("b") <= 51
    assert 42 <= bench.loud("c") <= 56
    heard = {n: bench.loud(n) for n in "abc"}
    time.sleep(0.2)
    assert {n: bench.loud(n) for n in "abc"} == heard  # silence after the end

    assert bench.wait(lambda: bench.count() == (0, 0), 2.0)
    assert bench.player_ports() == 0
    assert bench.ports() == bench.idle_ports + 3  # the three sinks


def test_stop_ends_one_listener_early_without_on_done(bench: Bench, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "menu.wav", 1.0)
    d = bench.play("d", tone)
    e = bench.play("e", tone)
    assert d.player == e.player
    time.sleep(0.3)
    bench.core.call(d.stop)
    bench.core.call(d.stop)  # twice is harmless
    stopped_at = time.monotonic()
    assert bench.count() == (1, 1)
    assert bench.wait(lambda: bool(bench.done["e"]))
    time.sleep(0.2)
    assert bench.done["d"] == [] and len(bench.done["e"]) == 1
    assert bench.sinks["d"].last_loud < stopped_at + 0.1
    assert bench.loud("d") < 25 < bench.loud("e")

    # The only listener stops: its player goes, no on_done ever.
    f = bench.play("f", tone)
    time.sleep(0.2)
    bench.core.call(f.stop)
    assert bench.wait(lambda: bench.count() == (0, 0), 2.0)
    time.sleep(1.0)
    assert bench.done["f"] == []
    assert bench.player_ports() == 0


def test_a_player_that_reached_its_end_is_not_joined(tmp_path: Path) -> None:
    bench = Bench(share_window=2.0)
    try:
        short = write_tone(tmp_path / "beep.wav", 0.2)
        g = bench.play("g", short)
        assert bench.wait(lambda: bool(bench.done["g"]))
        h = bench.play("h", short)  # within the window, but that player is over
        assert h.player != g.player
        assert bench.wait(lambda: bool(bench.done["h"]))
        assert bench.loud("h") >= 7
        assert bench.wait(lambda: bench.count() == (0, 0), 2.0)
    finally:
        bench.stop()


def test_a_line_port_hears_the_prompt(bench: Bench, tmp_path: Path) -> None:
    """A line call's sink is its ModemAudioPort: the prompt reaches the modem's writer."""
    tone = write_tone(tmp_path / "menu.wav", 0.5)
    written: list[bytes] = []

    def on_core() -> Listener:
        bench.sinks["line"] = ModemAudioPort(written.append)  # type: ignore[assignment]
        bench.sinks["line"].open("line-gsm1")
        bench.done["line"] = []
        return bench.players.play(tone, bench.sinks["line"], bench._on_done("line"))
    bench.core.call(on_core)
    assert bench.wait(lambda: bool(bench.done["line"]))
    loud = [f for f in written if len(f) == 320 and max(map(abs, array.array("h", f))) > LOUD]
    assert 20 <= len(loud) <= 27
    assert bench.wait(lambda: bench.count() == (0, 0), 2.0)


def test_a_missing_or_broken_file_is_refused(bench: Bench, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        bench.play("x", tmp_path / "nothing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a wave file" * 10)
    with pytest.raises(PbxError):
        bench.play("x", junk)
    assert bench.count() == (0, 0)


def test_on_done_that_fails_does_not_stop_the_others(bench: Bench, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "menu.wav", 0.4)
    called: list[str] = []

    def failing() -> None:
        called.append("bad")
        raise RuntimeError("dial plan bug")

    def on_core() -> None:
        for name in ("p", "q"):
            bench.sinks[name] = EnergySink()
            bench.sinks[name].open(name)
        bench.players.play(tone, bench.sinks["p"], failing)
        bench.players.play(tone, bench.sinks["q"], lambda: called.append("good"))
    bench.core.call(on_core)
    assert bench.wait(lambda: len(called) == 2)
    assert sorted(called) == ["bad", "good"]


def test_shutdown_with_prompts_playing_stops_them_before_libdestroy(tmp_path: Path) -> None:
    bench = Bench()
    tone = write_tone(tmp_path / "long.wav", 5.0)
    listeners = [bench.play(name, tone) for name in ("s1", "s2")]
    listeners.append(bench.play("s3", write_tone(tmp_path / "other.wav", 5.0)))
    time.sleep(0.2)
    assert bench.count() == (2, 3)
    bench.stop()  # pjsua asserts (and aborts the process) if a player outlives it
    assert not any(listener.active for listener in listeners)
    assert all(names == [] for names in bench.done.values())
    with pytest.raises(PbxError):
        bench.players.play(tone, None, lambda: None)  # type: ignore[arg-type]
    assert threading.active_count() >= 1
