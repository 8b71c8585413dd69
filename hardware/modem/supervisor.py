"""The life of a modem's AT port under a line: open it, bring the modem up (its init,
hardware.modem.bringup), keep it alive and poll the network, and when the port vanishes,
the modem stops answering or resets, tear down and start again with backoff; meanwhile
the line is down. The calls on top are the line's (hardware.modem.line)."""
from __future__ import annotations

import logging
import termios
import threading
import time
from typing import Any, Callable, Self

import serial

from hardware.modem.atchannel import ESC, AtChannel, AtError
from hardware.modem.bringup import BASIC, InitLog, run_init
from hardware.modem.dialects import Dialect
from hardware.modem.dialects.base import SMS_INDICATIONS
from hardware.modem.events import CallEnded, ModemDown, ModemEvent, ModemUp, NetworkRegistration, SignalQuality
from hardware.modem.messages import LineMessages

log = logging.getLogger(__name__)
BOOT_GRACE = 30.0  # s after opening the port in which late boot banners are no reset
STREAM_SILENCE = 2.0  # s without a byte from a modem that should stream 8000 B/s: frozen


class Supervised:
    def __init__(self, name: str, port: str, dialect: Dialect, on_event: Callable[[ModemEvent], None],
                 backoff: tuple[float, float], keepalive: float, poll_every: float) -> None:
        self.name, self.port_url, self.dialect, self.on_event = name, port, dialect, on_event
        self.backoff, self.keepalive, self.poll_every = backoff, keepalive, poll_every
        self.state = "down"
        self.signal: SignalQuality | None = None
        self.operator = ""
        self.channel: AtChannel | None = None
        self.messages = LineMessages(name, self._command, self._emit)
        self._stop = threading.Event()
        self._reset_seen = threading.Event()
        self._opened_at = 0.0
        self._init_log = InitLog(name)
        self._missing: tuple[str, ...] = ()  # features an optional init step would have given
        self._down_reason = ""
        self._thread = threading.Thread(target=self._supervise, name=f"line-{name}", daemon=True)

    @property
    def degraded(self) -> tuple[str, ...]:
        """Features the line is up without (its modem refused their optional step)."""
        return () if self.state == "down" else self._missing

    @property
    def problem(self) -> str:
        """Why the line is down (empty while it is up)."""
        return self._down_reason if self.state == "down" else ""

    # ---- what the line on top provides ----------------------------------------------------
    def _urc(self, text: str) -> None:
        raise NotImplementedError

    def _stream_ended(self) -> None:
        """The modem left its audio stream by itself."""

    def _tick(self, now: float) -> None:
        """Call checks every 0.2 s on the supervisor thread."""

    def _close_audio(self) -> None:
        """The line goes down: its audio goes too."""

    # ---- life cycle -------------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._teardown("stopped", report=False)

    def _supervise(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            reason = "port closed"
            try:
                self._open()
                delay = self.backoff[0]
                reason = self._watch()
            except (AtError, OSError, serial.SerialException, termios.error) as exc:
                reason = str(exc)  # the modem went away mid-open (a pty gone: tcflush says EIO)
            except Exception as exc:  # a bug here must not kill the line for good
                log.exception("line %s: unexpected failure", self.name)
                reason = repr(exc)
            if self._stop.is_set():
                return
            self._down_reason = reason
            self._init_log.down(reason)
            self._teardown(reason)
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff[1])

    def _open(self) -> None:
        port = serial.serial_for_url(self.port_url, baudrate=115200, timeout=0.05)
        try:
            # A voice modem still in its audio stream (frozen mid-call, or we restarted) takes
            # commands for audio: DLE ! DLE ETX ends it. A GSM modem may be in an SMS text
            # entry a crash or a timeout left open: ESC ends it. Neither is a command (V.250:
            # what comes before "AT" is skipped). What the modem says to it is dropped, or it
            # would be read as the answer to AT and shift every result onto the next step.
            port.write(self.dialect.stream_end or ESC)
            self._stop.wait(0.2)
            port.reset_input_buffer()
        except Exception:
            port.close()  # a port failing at once is retried with backoff: do not leak it
            raise
        self._reset_seen.clear()
        self._opened_at = time.monotonic()
        self.channel = AtChannel(port, self._urc, is_urc=self.dialect.is_urc,
                                 on_closed=lambda reason: None, on_stream_end=self._stream_ended).start()
        self._missing = self._init_log.up(run_init(self.channel, (*BASIC, *self.dialect.init)))
        self.state = "idle"
        self._emit(ModemUp(self.name, self.dialect.name, self._missing))
        if self.dialect.network:
            self.messages.read_stored()
            self._poll_network()  # its NetworkRegistration is the last event of the start-up

    def _watch(self) -> str:
        """Until the port goes, the modem freezes or resets: keep-alives and polls."""
        last_alive = last_poll = time.monotonic()
        while not self._stop.wait(0.2):
            channel = self.channel
            if channel is None or channel.closed:
                return "port lost"
            if self._reset_seen.is_set():
                return "modem reset"
            now = time.monotonic()
            self._tick(now)
            if channel.streaming:  # no commands in the audio stream; the audio itself is the sign of life
                if now - channel.last_rx > STREAM_SILENCE:
                    return "modem stopped streaming"
                last_alive = now
            elif now - last_alive >= self.keepalive:
                try:
                    channel.command("AT", timeout=3)  # a frozen modem raises AtTimeout here
                except AtError:
                    if not channel.streaming:  # AT+VTR got in first: the stream check takes over
                        raise
                last_alive = now
            if self.dialect.network and now - last_poll >= self.poll_every:
                self._poll_network()
                if SMS_INDICATIONS in self._missing:  # no +CMTI: look for new messages instead
                    self.messages.read_stored()
                last_poll = now
        return "stopped"

    def _teardown(self, reason: str, report: bool = True) -> None:
        if self.state in ("ringing", "dialing", "active") and report:
            self._emit(CallEnded(self.name, f"line down: {reason}"))
        was_up = self.state != "down"
        self.state = "down"
        self._close_audio()
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if was_up and report:
            self._emit(ModemDown(self.name, reason))

    def _reset_banner(self, kind: str) -> None:
        """RDY (kind "now") or a late boot banner: the modem restarted and needs its init."""
        settled = time.monotonic() - self._opened_at > BOOT_GRACE
        if self.state != "down" and (kind == "now" or settled):
            self._reset_seen.set()

    # ---- talking to the modem ---------------------------------------------------------------
    def _command(self, command: str, timeout: float = 5.0, payload: bytes | None = None, **kw: Any) -> Any:
        channel = self.channel
        if channel is None or self.state == "down":
            raise AtError(command, f"line {self.name} is down")
        return channel.command(command, timeout=timeout, payload=payload, **kw)

    def _poll_network(self) -> None:
        csq = self._command("AT+CSQ").value("+CSQ:")
        if csq:
            rssi, _, ber = csq.partition(",")
            self.signal = SignalQuality(self.name, int(rssi), int(ber or 99))
            self._emit(self.signal)
        cops = self._command("AT+COPS?").value("+COPS:") or ""
        self.operator = cops.split('"')[1] if cops.count('"') >= 2 else ""
        # +CREG: <n>,<stat>[,<lac>,<ci>]: the lac and ci of AT+CREG=2 come after the state
        creg = (self._command("AT+CREG?").value("+CREG:") or "0,0").split(",")
        state = int(creg[1]) if len(creg) > 1 and creg[1].strip().isdigit() else 0
        self._emit(NetworkRegistration(self.name, state, self.operator))

    def _emit(self, event: ModemEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("line %s: event handler failed on %r", self.name, event)
