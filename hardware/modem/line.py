"""One phone line on a modem: turns URCs into events and gives every dialect the same
operations; hardware.modem.supervisor keeps its port open and its modem initialised,
and recovers by itself (meanwhile the line is down). No exception reaches the caller's
thread through events; operations raise AtError.

Every dialect looks the same from above: events, answer/dial/hangup/send_dtmf, and audio
as 320-byte frames (20 ms, 8 kHz s16le) both ways. GSM PCM modems carry it on an audio
port; a V.253 voice modem (FXO) carries it in the AT port itself (hardware.modem.voice),
and learns that the far end hung up from the busy tone. A line whose modem refused an
optional init step runs degraded, on the step's fallback (hardware.modem.bringup)."""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable

from hardware.dsp.dtmf import DtmfDetector
from hardware.modem.alsa import AlsaAudioPort, is_alsa
from hardware.modem.atchannel import AtError
from hardware.modem.audioport import FRAME_BYTES, AudioPort
from hardware.modem.callerid import V253Rings
from hardware.modem.callstate import ACTIVE, ALIVE, CALL_POLL, call_gone, call_states
from hardware.modem.dialects import Dialect, get_dialect
from hardware.modem.dialects.base import CALL_STATE_URC, DTMF_REPORTS
from hardware.modem.events import CallConnected, CallEnded, Dtmf, ModemEvent, Ring, Unsolicited
from hardware.modem.supervisor import Supervised
from hardware.modem.voice import VoiceStream

log = logging.getLogger(__name__)
__all__ = ["FRAME_BYTES", "AudioPort", "ModemLine"]
DIALABLE = re.compile(r"\+?[0-9*#]{1,40}")  # nothing a modem could read as a dial modifier or a next command
KEYS = set("0123456789*#ABCD")


class ModemLine(Supervised):
    def __init__(self, name: str, port: str, dialect: str | Dialect, *, on_event: Callable[[ModemEvent], None],
                 audio_port: str | None = None, on_audio: Callable[[bytes], None] | None = None,
                 backoff: tuple[float, float] = (0.5, 30.0), keepalive: float = 15.0,
                 poll_every: float = 60.0, country: str = "RU") -> None:
        super().__init__(name, port, get_dialect(dialect) if isinstance(dialect, str) else dialect, on_event,
                         backoff, keepalive, poll_every)
        self.audio_url = audio_port
        self.on_audio = on_audio or (lambda frame: None)
        self.country = country  # call-progress tone plan of an analog line
        self.audio: AudioPort | AlsaAudioPort | None = None
        self.voice: VoiceStream | None = None
        self._ops = threading.RLock()  # answer, dial, hang-up: one at a time
        self._rings = V253Rings(name) if self.dialect.cid_block else None
        self._last_ring = 0.0
        self._declined = False  # analog: we hung up on a ringing call that still rings
        self._dtmf_rx: DtmfDetector | None = None
        self._last_call_poll = 0.0

    # ---- operations (any thread) ------------------------------------------------------
    def answer(self) -> None:
        with self._ops:
            for command in self.dialect.answer:
                self._command(command, timeout=10)
            self._connected()

    def dial(self, number: str) -> None:
        if not DIALABLE.fullmatch(number):
            raise AtError("ATD", f"{number!r} is not a number to dial")
        command = self.dialect.dial.format(number=number)
        if not self.dialect.stream_command:
            with self._ops:  # a hang-up meanwhile waits for ATD, then finds "dialing" and hangs up
                self.state = "dialing"
                try:
                    self._command(command, timeout=20)
                except AtError:
                    self.state = "idle"
                    raise
            return
        with self._ops:  # V.253: ATD ends in VCON (dialled) or BUSY / NO CARRIER / NO DIALTONE
            self.state = "dialing"
            try:
                for setup in self.dialect.dial_setup:
                    self._command(setup)
                response = self._command(command, timeout=60, check=False)
            except AtError:
                self.state = "idle"
                raise
            if self.state != "dialing":
                return  # hung up meanwhile
            if response.final == "VCON":
                self._connected()
                return
            self.state = "idle"
            ended = self.dialect.parse(self.name, response.final)
            self._emit(ended if isinstance(ended, CallEnded) else CallEnded(self.name, response.final.lower()))
            self._release()

    def hangup(self) -> None:
        with self._ops:
            was = self.state
            if was in ("idle", "down") and self.voice is None:
                return
            self._declined = was == "ringing" and self._rings is not None
            self.state = "idle"
            self._close_audio()
            if self.dialect.stream_command:
                self._release()
                return
            try:
                self._command(self.dialect.hangup)
            except AtError as exc:
                log.warning("line %s: hang-up: %s", self.name, exc)
            self._audio_off()

    def send_dtmf(self, digits: str) -> None:
        if not digits or set(digits) - KEYS:
            raise AtError("DTMF", f"{digits!r}: keys are 0-9, *, #, A-D")
        voice = self.voice
        if self.dialect.stream_command:  # analog: tones in the outgoing audio
            if voice is None:
                raise AtError("DTMF", f"line {self.name}: no call")
            voice.send_dtmf(digits)
            return
        for digit in digits:
            self._command(self.dialect.dtmf.format(digit=digit))

    def send_sms(self, number: str, text: str) -> int:
        """Send in PDU mode (UCS2 for Cyrillic, split when long); returns the parts sent."""
        return self.messages.send(number, text)

    def ussd(self, code: str) -> None:
        """Ask the network (balance: *100#); the answer comes as a UssdResponse event."""
        for text in self.messages.ussd(code):
            self._handle(self.dialect.parse(self.name, text), text)

    def ussd_cancel(self) -> None:
        self.messages.ussd_cancel()

    def write_audio(self, frame: bytes) -> None:
        if self.voice is not None:
            self.voice.write_audio(frame)
        elif self.audio is not None:
            self.audio.write(frame)

    # ---- internals --------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        if self.state == "dialing" and not self.dialect.stream_command:
            self._check_dialing()
        if CALL_STATE_URC in self._missing and now - self._last_call_poll >= CALL_POLL:
            self._check_call()
            self._last_call_poll = now
        if self.state == "ringing" and self.dialect.ring_timeout and \
                now - self._last_ring > self.dialect.ring_timeout:
            self.state = "idle"  # analog: the caller gave up, the rings just stop
            self._emit(CallEnded(self.name, "caller gave up"))

    def _connected(self) -> None:
        if self.state == "active":
            return
        self.state = "active"
        for command in self.dialect.audio_on:
            self._command(command)
        # SIM800 refusing AT+DDET reports no keys: heard in the audio if a sound card carries it
        inband = self.dialect.inband_dtmf or (DTMF_REPORTS in self._missing and is_alsa(self.audio_url))
        self._dtmf_rx = DtmfDetector() if inband else None
        if self.dialect.stream_command:
            self._open_voice()
        if is_alsa(self.audio_url) and self.audio is None:  # analog voice on a USB sound card
            self.audio = AlsaAudioPort(str(self.audio_url), self._rx_audio)
        elif self.dialect.pcm and self.audio_url and self.audio is None:
            self.audio = AudioPort(self.audio_url, self._rx_audio)
        self._emit(CallConnected(self.name))

    def _open_voice(self) -> None:
        channel = self.channel
        if channel is None:
            raise AtError(self.dialect.stream_command, f"line {self.name} is down")
        voice = VoiceStream(self.name, channel.write_stream, self.on_audio, self._emit,
                            self._far_end_gone, self.country)
        self.voice = voice
        try:
            self._command(self.dialect.stream_command, timeout=5, stream=voice.on_stream)
        except AtError:
            self.hangup()
            raise
        voice.start()

    def _rx_audio(self, frame: bytes) -> None:
        """PCM from the audio port; digits detected in it when the modem reports none."""
        detector = self._dtmf_rx
        if detector is not None and self.state == "active":
            for press in detector.feed(frame):
                self._emit(Dtmf(self.name, press.digit))
        self.on_audio(frame)

    def _far_end_gone(self, reason: str) -> None:
        """Analog: busy/congestion tone, DLE b/d or the end of the stream, once per call
        (VoiceStream.end guards it; on the reader thread)."""
        voice = self.voice
        if self.state != "active":
            return
        self._emit(CallEnded(self.name, reason))
        threading.Thread(target=self._hang_up_after, args=(voice,), name=f"onhook-{self.name}",
                         daemon=True).start()

    def _hang_up_after(self, voice: VoiceStream | None) -> None:
        with self._ops:
            if self.voice is voice and self.state == "active":
                self.state = "idle"
                self._close_audio()
                self._release()

    def _stream_ended(self) -> None:
        """The modem left the audio stream by itself: the call is over for it."""
        voice = self.voice
        if voice is not None:
            voice.end("stream ended")  # once per call, whatever else ended it too

    def _release(self) -> None:
        """V.253: leave the audio stream (DLE ! DLE ETX -> DLE ETX, OK), then on-hook."""
        channel = self.channel
        try:
            if channel is not None and channel.streaming:
                channel.end_stream(self.dialect.stream_end, timeout=3)
            self._command(self.dialect.hangup)
        except AtError as exc:
            log.warning("line %s: hang-up: %s", self.name, exc)

    def _check_dialing(self) -> None:
        """Answer supervision by polling (SIM800/EC25 say nothing when the far end picks up)."""
        with self._ops:  # a hang-up meanwhile wins: never connect a call already given up
            if self.state != "dialing":
                return
            if ACTIVE in call_states(self._command("AT+CLCC")):
                self._connected()

    def _check_call(self) -> None:
        """No call-state URC: the call list tells that the far end hung up or turned the
        call down (or the caller gave up). A refused poll says nothing; a modem that does
        not answer is down."""
        with self._ops:  # never between our own answer or hang-up and its state
            state = self.state
            if state in ALIVE and call_gone(state, self._command("AT+CLCC", check=False)):
                self._handle(CallEnded(self.name, "caller gave up" if state == "ringing" else "remote hangup"))

    def _connected_if_dialing(self) -> None:
        with self._ops:
            if self.state == "dialing":
                self._connected()

    def _close_audio(self) -> None:
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        if self.voice is not None:
            self.voice.stop()
            self.voice = None
        self._dtmf_rx = None

    def _urc(self, text: str) -> None:
        if self._rings is not None:  # V.253: RING / caller-ID block lines
            if text.strip() == "RING" and self.state == "idle":
                now = time.monotonic()
                if self._declined and now - self._last_ring < (self.dialect.ring_timeout or 0):
                    # a call we hung up on while it rang: on-hook does not stop an analog
                    # line ringing, so these rings are still that caller, not a new call
                    self._last_ring = now
                    return
                self._declined = False
                self._rings.reset()
            events, used = self._rings.feed(text)
            for event in events:
                self._handle(event)
            if used:
                return
        self._handle(self.dialect.parse(self.name, text), text)

    def _handle(self, event: ModemEvent, text: str = "") -> None:
        reset = event.extra.get("reset") if isinstance(event, Unsolicited) else None
        if reset:
            self._reset_banner(reset)
            return
        if isinstance(event, Unsolicited) and text.startswith("+CMTI:"):
            index = int(text.rsplit(",", 1)[1])  # read it off the reader thread
            threading.Thread(target=self.messages.read, args=(index,), daemon=True).start()
            return
        if isinstance(event, Ring):
            self._last_ring = time.monotonic()
            if self.state == "idle":
                self.state = "ringing"
        elif isinstance(event, CallConnected):
            if self.state == "dialing":
                threading.Thread(target=self._connected_if_dialing, daemon=True).start()  # not on the reader
            return
        elif isinstance(event, CallEnded):
            if self.state not in ("ringing", "dialing", "active"):
                return  # e.g. the NO CARRIER after VOICE CALL: END, or after our own hang-up
            if event.reason == "caller gave up" and self.state != "ringing":
                return  # MISSED_CALL of a second caller, not the end of this call
            was_active = self.state == "active"
            self.state = "idle"
            self._close_audio()
            if was_active and self.dialect.audio_off:  # e.g. AT+CPCMREG=0, off the reader thread
                threading.Thread(target=self._audio_off, name=f"audio-off-{self.name}", daemon=True).start()
        self._emit(event)

    def _audio_off(self) -> None:
        try:
            for command in self.dialect.audio_off:
                self._command(command)
        except AtError as exc:
            log.warning("line %s: %s", self.name, exc)
