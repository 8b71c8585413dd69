"""Recording bridged calls, on the core thread (pbx/recording/ keeps the files).

One recording per call, whatever its legs: pjsua2 recorders take both sides of the
bridge, mixed into one WAV (or one WAV per side for two channels), from the moment the
call is bridged (policy "always") or a phone presses *1 / the REST bridge asks. Stopping
on demand only disconnects the sides: a recorder with no source writes nothing, so a
second start carries on in the same file. The recorders go at hang-up, which is when
pjmedia writes the WAV's header; the worker thread then records the file in the store
and hands it to the compressor. Nothing here touches SQLite or waits for a disk.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pjsua2 as pj

from pbx.errors import Conflict, NotFound, PbxError
from pbx.recording.policy import ALWAYS, NEVER, ON_DEMAND, Decision, decide, rules_for

log = logging.getLogger(__name__)

BYTES_PER_SECOND = 16000  # 8 kHz 16-bit mono: the conference bridge's clock (pbx/media/engine.py)
SHORT_BY = 0.5  # s: a file this much shorter than its spans lost writes (a full disk)
RECORD_WAIT = 10.0  # s: the longest the worker waits for a call's record before it goes on


@dataclass
class Taping:
    """One call's recorders and when they were listening (seconds since the answer)."""

    recorders: list[Any]  # pj.AudioMediaRecorder: one mixed, or the caller's and the callee's side
    paths: list[Path]
    started: float  # wall clock of the first start
    spans: list[list[float]] = field(default_factory=list)
    connected: list[tuple[Any, Any]] = field(default_factory=list)  # (side's audio, recorder)
    by: list[str] = field(default_factory=list)  # who started and stopped it


class CallRecorders:
    def __init__(self, b2bua: Any, store: Any, compressor: Any, *, setting: Callable[[str, Any], Any],
                 snapshot: Callable[[], Any], allowed: Callable[[], bool] = lambda: True,
                 record_written: Callable[[str], bool] = lambda call_id: True) -> None:
        self.b2bua = b2bua
        self.store = store
        self.record_written = record_written  # whether the call's record is in the journal yet
        self.compressor = compressor
        self.setting = setting  # the owner's settings (recording_default, recording_channels)
        self.snapshot = snapshot  # the dial plan as it is now
        self.allowed = allowed  # the disk guard's word: False while free space is short
        self.files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-files")

    # ---- what the B2BUA calls (core thread) --------------------------------------
    def decision(self, call: Any) -> Decision:
        if call.recording_policy is None:
            exts = {"inbound": [call.callee], "outbound": [call.caller]}.get(call.direction,
                                                                           [call.callee, call.caller])
            try:
                snap = self.snapshot()
            except Exception:
                log.exception("call %s: no dial plan for its recording policy", call.id)
                snap = None
            call.recording_policy = decide(rules_for(call, snap, exts),
                                           str(self.setting("recording_default", ON_DEMAND)))
        return call.recording_policy

    def bridged(self, call: Any) -> None:
        taping = call.taping
        if taping is not None and taping.connected:  # a transfer's new party joins the recording
            return self._join(call, taping)
        if self.decision(call).mode == ALWAYS:
            problem = self.start(call, "policy")
            if problem:
                log.warning("call %s: not recorded: %s", call.id, problem)

    def resync(self, call: Any) -> None:
        """A leg's stream may have a new conference slot (a re-INVITE): a running recording
        takes it again."""
        taping = call.taping
        if taping is None or not taping.connected:
            return
        self._join(call, taping)

    def side_leaving(self, call: Any, stays: Any) -> None:
        """A phone transfers the call: only the party who stays (its audio) feeds the
        recording until the next party is bridged (one file per call, however many legs)."""
        taping = call.taping
        if taping is None:
            return
        port = stays.getPortId() if stays is not None else None
        keep = [(side, rec) for side, rec in taping.connected if side.getPortId() == port]
        self._disconnect([pair for pair in taping.connected if pair not in keep])
        if taping.connected:
            # While it records, a channel left without a source gets the null sound device's
            # silence: a recorder with no source writes nothing, and the two channels' files
            # must stay as long as the call to line up.
            fed = {id(rec) for _, rec in keep}
            silence = pj.Endpoint.instance().audDevManager().getCaptureDevMedia()
            for recorder in taping.recorders:
                if id(recorder) not in fed:
                    silence.startTransmit(recorder)
                    keep.append((silence, recorder))
        taping.connected = keep

    def _join(self, call: Any, taping: Taping) -> None:
        """A transfer's new party is bridged: each side to its recorder (the party who
        stayed may have moved from the callee's channel to the caller's)."""
        sides = self.b2bua.sides(call)
        if sides is None:
            return
        recorders = taping.recorders
        wanted = [(sides[0], recorders[0]), (sides[1], recorders[-1])]

        def key(pair: tuple[Any, Any]) -> tuple[int, int]:
            return pair[0].getPortId(), id(pair[1])

        want = {key(pair) for pair in wanted}
        self._disconnect([pair for pair in taping.connected if key(pair) not in want])
        for side, recorder in wanted:  # all of them: connecting twice is nothing to pjmedia, and a
            side.startTransmit(recorder)  # new stream may have been given the old slot's number
        taping.connected = wanted

    @staticmethod
    def _disconnect(pairs: list[tuple[Any, Any]]) -> None:
        for side, recorder in pairs:
            try:
                side.stopTransmit(recorder)
            except pj.Error:
                pass  # the leg's media is gone already

    def announce(self, call: Any, sink: Any, then: Callable[[], None]) -> bool:
        """"This call may be recorded" to the caller before the bridge, once per call, when
        the owner turned it on and the call may be recorded; True while it plays (then()
        bridges the call at its end). A missing prompt is logged and the call goes on."""
        language = str(self.setting("recording_announcement", "off"))
        plan = self.b2bua.plan
        first, call.announced = not call.announced, True  # a later bridge (a transfer) never announces
        if not first or language not in ("en", "ru") or call.taping is not None or plan is None \
                or self.decision(call).mode == NEVER:
            return False
        path = plan.prompt_path(f"system-recorded-{language}")
        try:
            if path is None:
                raise PbxError(f"no prompt system-recorded-{language}")
            call.announcing = plan.players.play(str(path), sink, then)
        except PbxError as exc:
            log.warning("call %s: no recording announcement: %s", call.id, exc)
            return False
        call.path.append({"step": "recording_notice", "language": language,
                          "at": round(self.b2bua.clock() - call.start, 3)})
        return True

    def on_demand(self, call: Any) -> bool:
        """Whether *1 is the phones' to press on this call (else it goes on as digits)."""
        return self.decision(call).mode == ON_DEMAND

    def toggle(self, call: Any, by: str) -> str:
        taping = call.taping
        if taping is not None and taping.connected:
            self.stop(call, by)
            return "stopped"
        problem = self.start(call, by)
        if problem:
            log.info("call %s: *1 by %s: %s", call.id, by, problem)
        return problem or "started"

    def control(self, call_id: str, action: str, by: str = "api") -> dict:
        """The REST bridge's start/stop of a live call's recording."""
        call = self.b2bua.calls.get(call_id)
        if call is None:
            raise NotFound(f"no live call {call_id}")
        if action == "start":
            problem = self.start(call, by)
            if problem and problem != "already recording":
                raise Conflict(problem)
        else:
            self.stop(call, by)
        return self.state(call)

    def state(self, call: Any) -> dict:
        taping = call.taping
        return {"id": call.id, "recording": bool(taping and taping.connected),
                "policy": self.decision(call).public() if call.answer else None,
                "recorded_seconds": round(self._recorded(taping, call), 3) if taping else 0.0}

    def start(self, call: Any, by: str) -> str:
        """"" once recording; else why not (the call goes on regardless)."""
        if call.answer is None or not call.bridged:
            return "the call is not answered yet"
        decision = self.decision(call)
        if decision.mode == NEVER:
            return f"recording is off for this call ({decision.source})"
        taping = call.taping
        if taping is not None and taping.connected:
            return "already recording"
        if not self.allowed():
            call.recording_notes.append("not recorded: the disk is nearly full")
            return "recording is paused: the disk is nearly full"
        sides = self.b2bua.sides(call)
        if sides is None:
            return "the call's audio is not up"
        if taping is None:
            try:
                taping = call.taping = self._open(call)
            except (pj.Error, OSError, PbxError) as exc:
                reason = getattr(exc, "reason", None) or str(exc)
                call.recording_notes.append(f"could not record: {reason}")
                log.error("call %s: cannot start a recorder: %s", call.id, reason)
                return f"cannot record: {reason}"
        recorders = taping.recorders
        pairs = [(sides[0], recorders[0]), (sides[1], recorders[-1])]
        for side, recorder in pairs:
            side.startTransmit(recorder)
        taping.connected = pairs
        taping.spans.append([self._now(call), -1.0])
        taping.by.append(f"start:{by}")
        self.b2bua.bus.publish("recording_started", id=call.id, by=by)
        return ""

    def stop(self, call: Any, by: str) -> None:
        taping = call.taping
        if taping is None or not taping.connected:
            return
        for side, recorder in taping.connected:
            try:
                side.stopTransmit(recorder)
            except pj.Error:
                pass  # the leg's media is gone already
        taping.connected = []
        taping.spans[-1][1] = self._now(call)
        taping.by.append(f"stop:{by}")
        self.b2bua.bus.publish("recording_stopped", id=call.id, by=by)

    def finish(self, call: Any) -> dict:
        """Hang-up: the recorders go (pjmedia writes the WAV header now); the file is the
        worker's from here. Returns what the call record says: the policy and when it
        recorded (`recording_policy`), and the recording as it stands (`recording`, which
        the store keeps current in the record from then on)."""
        if call.recording_policy is None and call.taping is None:
            return {}  # never answered: nothing was decided
        taping = call.taping
        policy: dict[str, Any] = {**self.decision(call).public(), "note": "; ".join(call.recording_notes)}
        if taping is None:
            return {"recording_policy": policy}
        self.stop(call, "hangup")
        call.taping = None
        taping.recorders.clear()  # destroyed here, on the core, before anything reads the file
        expected = self._recorded(taping, call)
        policy["spans"] = [[round(a, 3), round(b, 3)] for a, b in taping.spans]
        link = {"path": self._relative(taping.paths[0]), "format": "wav", "status": "processing",
                "duration": round(expected, 3), "size": 0, "note": policy["note"]}
        self._to_worker(self._safely, "hand the recording over", self._hand_over, call.id, list(taping.paths),
                        expected, policy["note"])
        return {"recording_policy": policy, "recording": link}

    def close(self) -> None:
        self.files.shutdown(wait=True)

    def _to_worker(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self.files.submit(fn, *args)
        except RuntimeError:  # shut down: the compressor finishes what is left at the next start
            log.warning("recording work after shutdown dropped: %s", args[0])

    # ---- helpers ---------------------------------------------------------------------
    def _open(self, call: Any) -> Taping:
        two = str(self.setting("recording_channels", 1)) == "2"
        when = time.time()
        paths = [self.store.wav_path(call.id, when, part) for part in (("a", "b") if two else ("",))]
        recorders = []
        for path in paths:
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(path))
            recorders.append(recorder)
        rec = self._row(call, paths, when)
        self._to_worker(self._safely, "record the recording's row", self.store.add, rec)
        return Taping(recorders, paths, when)

    def _row(self, call: Any, paths: list[Path], when: float) -> Any:
        from pbx.recording.store import Recording

        return Recording(call_id=call.id, path=self._relative(paths[0]), format="wav", status="recording",
                         started=when, caller=call.caller, callee=call.callee, channels=len(paths))

    def _relative(self, path: Path) -> str:
        return str(self.store.relative(path))

    def _now(self, call: Any) -> float:
        return self.b2bua.clock() - call.answer

    def _recorded(self, taping: Taping | None, call: Any) -> float:
        if taping is None:
            return 0.0
        end = (call.end or self.b2bua.clock()) - call.answer
        return sum((b if b >= 0 else end) - a for a, b in taping.spans)

    # ---- the worker thread -------------------------------------------------------------
    @staticmethod
    def _safely(what: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("could not %s", what)

    def _hand_over(self, call_id: str, paths: list[Path], expected: float, note: str) -> None:
        """The WAV is closed: say what it holds (a disk that filled mid-call cut it short)
        and queue it for compression. The call record lands ~0.5 s after the hang-up; the
        store updates it from then on, so wait for it (a short call compresses quicker)."""
        deadline = time.monotonic() + RECORD_WAIT
        while not self.record_written(call_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        notes = [note] if note else []
        try:
            written = min(max(p.stat().st_size - 44, 0) for p in paths) / BYTES_PER_SECOND
        except OSError as exc:
            written = 0.0
            notes.append(f"the file is missing: {exc.strerror}")
        if written < expected - SHORT_BY:
            notes.append(f"recording stopped early: {written:.1f} of {expected:.1f} s written (disk full?)")
        self._safely("mark the recording processing", lambda: self.store.update(
            call_id, status="processing", duration=round(min(written, expected), 3), note="; ".join(notes)))
        self._safely("queue the recording for compression", self.compressor.submit, call_id)
