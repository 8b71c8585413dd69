"""Prompts played into calls, one pjsua2 file player shared by every caller who starts
the same prompt at about the same moment.

Ten callers in the same IVR at 9:00 do not need ten decoders and ten conference ports
for one WAV: a listener that arrives within SHARE_WINDOW of a player's start joins it
(one more startTransmit from the same player); later arrivals get a player of their own,
so nobody hears a prompt from its middle.

Thread rules (docs/architecture.md, "pjsua2 rules"):
- play(), Listener.stop(), stop_all(), count() run on the core thread, which owns pjsua2;
  players are created and destroyed there only.
- A player's onEof2 arrives on pjmedia's event thread (not the core, not the bridge's
  clock). It only submits the player's serial to the core and touches nothing else.
- A player is never destroyed inside its own callback: a finished or abandoned player
  is retired (disconnected, no new listeners) and its last reference is dropped by a
  core timer REAP_AFTER later, when no callback of it can still be running. Dropping it
  while onEof2 was on the stack would run the destructor on the event thread.
- No reference cycle holds a player (listeners and the callback reach the owner through
  weak references), so the garbage collector never destroys one on a random thread.
- stop_all() must run before libDestroy and before the B2BUA's destroy (it disconnects
  players from sinks that are still in the bridge, and B2bua.destroy clears the core's
  timers): attach() puts it first in MediaEngine.on_stop.
"""
from __future__ import annotations

import logging
import os
import time
import traceback
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import pjsua2 as pj

from pbx.errors import NotFound, PbxError
from pbx.media.directors import DeleteWhileAlive

log = logging.getLogger(__name__)

SHARE_WINDOW = 0.3  # s: later than this, a listener would miss too much of the prompt
REAP_AFTER = 0.25  # s a retired player is kept: the bridge's clock ticks every 20 ms

Submit = Callable[..., Any]  # Core.submit: any thread, runs fn(*args) on the core
CallLater = Callable[[float, Callable[[], Any]], Any]  # Core.call_later: core thread


class _FilePlayer(DeleteWhileAlive, pj.AudioMediaPlayer):
    """One pjsua2 player of one file, played once (PJMEDIA_FILE_NO_LOOP)."""

    def __init__(self, serial: int, submit: Submit, owner: "weakref.ref[PromptPlayers]") -> None:
        super().__init__()
        self.serial = serial
        self._submit = submit
        self._owner = owner
        self.ended = False  # written by the event thread once; read on the core
        self.in_callback = 0  # written by the event thread only

    def onEof2(self) -> None:
        self.in_callback += 1
        try:
            if not self.ended:
                self.ended = True
                self._submit(_deliver_eof, self._owner, self.serial)
        except Exception:  # nothing may cross into pjsua2
            _log_failure(f"prompt player {self.serial}: end of file not delivered")
        finally:
            self.in_callback -= 1


def _log_failure(what: str) -> None:
    """Log the traceback as text: a record holding exc_info keeps the frames, and with
    them pjsua2 objects, alive for as long as a handler keeps the record (past
    libDestroy, where destroying them asserts)."""
    log.error("%s\n%s", what, traceback.format_exc().rstrip())


def _deliver_eof(owner: "weakref.ref[PromptPlayers]", serial: int) -> None:
    players = owner()
    if players is not None:
        players._finished(serial)


class Listener:
    """One sink hearing one prompt (core thread). on_done is called once, on the core,
    if the prompt plays to its end; stop() ends it early and then on_done is not called.
    Stop it before its sink leaves the bridge (the call's media ends, the line's port
    closes): the listener holds the sink until then, and a freed slot is reused."""

    __slots__ = ("sink", "on_done", "player", "active", "_owner")

    def __init__(self, owner: "PromptPlayers", player: int, sink: "pj.AudioMedia",
                 on_done: Callable[[], None]) -> None:
        self._owner = weakref.ref(owner)
        self.player = player  # serial of the shared player, equal for listeners sharing it
        self.sink: "pj.AudioMedia | None" = sink
        self.on_done: Callable[[], None] | None = on_done
        self.active = True

    def stop(self) -> None:
        owner = self._owner()
        if self.active and owner is not None:
            owner._stop(self)


@dataclass
class _Playing:
    player: _FilePlayer
    key: tuple
    started: float
    listeners: list[Listener] = field(default_factory=list)


def _file_key(path: str) -> tuple:
    """The file's identity: a prompt replaced by os.replace is a new inode, so callers
    who start after a new upload hear the new audio, not a player of the old."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return (real, st.st_ino, st.st_mtime_ns)


class PromptPlayers:
    def __init__(self, submit: Submit, call_later: CallLater, *, share_window: float = SHARE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._submit, self._call_later = submit, call_later
        self._share_window, self._clock = share_window, clock
        self._playing: dict[int, _Playing] = {}
        self._newest: dict[tuple, int] = {}  # file key -> serial of its latest player
        self._retired: list[tuple[float, _FilePlayer]] = []
        self._serial = 0
        self._closed = False
        self._reap_due: float | None = None  # one release timer at a time

    def attach(self, engine: Any) -> "PromptPlayers":
        """Run stop_all first when the media engine stops (before B2bua.destroy)."""
        engine.on_stop.insert(0, self.stop_all)
        return self

    # ---- core thread --------------------------------------------------------------
    def play(self, prompt_path: str | os.PathLike, sink: "pj.AudioMedia",
             on_done: Callable[[], None]) -> Listener:
        """Start the prompt for one sink (a call leg's AudioMedia, a line's
        ModemAudioPort), sharing a player of the same file started < SHARE_WINDOW ago.
        NotFound for a missing file, PbxError for one pjmedia cannot play."""
        result = self._play(os.fspath(prompt_path), sink, on_done)
        if isinstance(result, PbxError):
            # Raised from a frame that no longer holds the sink: a traceback kept by a
            # caller (a Future, a log record) must not keep pjsua2 objects alive.
            del sink, on_done
            raise result
        return result

    def _play(self, path: str, sink: "pj.AudioMedia", on_done: Callable[[], None]) -> Listener | PbxError:
        if self._closed:
            return PbxError("prompt players are stopped")
        try:
            key = _file_key(path)
        except OSError:
            return NotFound(f"prompt file {path} is missing")
        playing = self._playing.get(self._newest.get(key, -1))
        if (playing is None or playing.player.ended
                or self._clock() - playing.started >= self._share_window):
            started = self._start(key)
            if isinstance(started, PbxError):
                return started
            playing = started
        try:
            playing.player.startTransmit(sink)
        except pj.Error as exc:
            if not playing.listeners:
                self._retire(playing.player.serial)
            return PbxError(f"prompt cannot reach the call: {exc.info()}")
        listener = Listener(self, playing.player.serial, sink, on_done)
        playing.listeners.append(listener)
        return listener

    def count(self) -> int:
        """Live pjsua2 players (playing, or retired and not yet released), for /status:
        0 when nobody is listening to a prompt."""
        return len(self._playing) + len(self._retired)

    def listener_count(self) -> int:
        return sum(len(p.listeners) for p in self._playing.values())

    def stop_all(self) -> None:
        """At shutdown, before libDestroy: every player disconnected and destroyed here,
        no on_done called, no play() afterwards."""
        self._closed = True
        live = bool(self._playing)
        for serial in list(self._playing):
            self._retire(serial)
        if live:
            time.sleep(0.06)  # a few bridge ticks: an end of file in flight is delivered
        deadline = time.monotonic() + 1.0
        while any(p.in_callback for _, p in self._retired) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._retired.clear()

    # ---- internals (core thread) ----------------------------------------------------
    def _start(self, key: tuple) -> _Playing | PbxError:
        self._serial += 1
        player = _FilePlayer(self._serial, self._submit, weakref.ref(self))
        try:
            player.createPlayer(key[0], pj.PJMEDIA_FILE_NO_LOOP)
        except pj.Error as exc:
            del player  # released here, on the core, with no port yet
            return PbxError(f"prompt {key[0]} cannot be played: {exc.info()}")
        playing = _Playing(player, key, self._clock())
        self._playing[player.serial] = playing
        self._newest[key] = player.serial
        return playing

    def _stop(self, listener: Listener) -> None:
        playing = self._playing.get(listener.player)
        self._disconnect(playing, listener)
        if playing is not None:
            playing.listeners.remove(listener)
            if not playing.listeners:
                self._retire(listener.player)

    def _finished(self, serial: int) -> None:
        """The player reached the end of its file: everyone listening is done."""
        playing = self._playing.get(serial)
        if playing is None:
            return  # stopped by its listeners (or at shutdown) meanwhile
        callbacks = [listener.on_done for listener in playing.listeners]
        del playing  # no pjsua2 object in this frame while the callbacks run
        self._retire(serial)
        for done in callbacks:
            try:
                if done is not None:
                    done()
            except Exception:
                _log_failure("prompt listener's on_done failed")

    def _retire(self, serial: int) -> None:
        """No more listeners may join; the player is released by _reap, not now."""
        playing = self._playing.pop(serial)
        if self._newest.get(playing.key) == serial:
            del self._newest[playing.key]
        for listener in list(playing.listeners):
            self._disconnect(playing, listener)
        playing.listeners.clear()
        self._retired.append((self._clock(), playing.player))
        self._schedule_reap()

    def _disconnect(self, playing: _Playing | None, listener: Listener) -> None:
        sink, listener.sink, listener.on_done, listener.active = listener.sink, None, None, False
        if playing is None or sink is None:
            return
        port = sink.getPortId()
        if any(other is not listener and other.sink is not None and other.sink.getPortId() == port
               for other in playing.listeners):
            return  # the same sink listens twice: keep its one connection
        try:
            playing.player.stopTransmit(sink)
        except pj.Error as exc:  # the sink left the bridge first (call gone)
            log.debug("prompt player %d: stopTransmit: %s", playing.player.serial, exc.info())

    def _schedule_reap(self) -> None:
        now = self._clock()
        # A due time long past means the timer was dropped (Core.clear_timers): again.
        if self._reap_due is None or now > self._reap_due + 1.0:
            self._reap_due = now + REAP_AFTER
            self._call_later(REAP_AFTER, self._reap)

    def _reap(self) -> None:
        self._reap_due = None
        now = self._clock()
        keep = [(t, p) for t, p in self._retired if now - t < REAP_AFTER or p.in_callback]
        if len(keep) != len(self._retired):
            self._retired = keep  # the others' last references go here, on the core
        if keep:
            self._schedule_reap()
