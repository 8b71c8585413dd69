"""One AT command channel per serial port: a writer that runs one command at a time
with a timeout, and a reader thread that tells final results from unsolicited codes.

Voice modems (V.253) switch the port into a data stream: a command given a stream
handler that answers CONNECT hands every later byte to a DleDecoder and the handler
(audio + DLE events) instead of the line parser, until the modem sends DLE ETX; then the
port is back in command mode. While streaming only write_stream() and end_stream() go out.

Garbage (bytes that are no text, endless lines) is dropped and counted, never fatal.
A port error ends the channel and is reported through on_closed, so the line above can
re-open it.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Protocol

from hardware.modem.dle import DleDecoder

log = logging.getLogger(__name__)

FINAL_OK = ("OK", "CONNECT", "VCON")  # VCON: V.253 ATD in voice mode
# Huawei firmware answers COMMAND NOT SUPPORT to a command it lacks, where others say ERROR.
REFUSALS = ("ERROR", "COMMAND NOT SUPPORT")
FINAL_ERROR = (*REFUSALS, "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE")
# V.250: these end only a command that makes or takes a call; at any other time they are a
# call ending unsolicited (SIM800 and EC25 have no other sign), not that command's result.
CALL_RESULTS = ("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE")
CALL_COMMANDS = ("ATD", "ATA", "AT+VLS", "AT+VTR")
ERROR_PREFIX = ("+CME ERROR:", "+CMS ERROR:")
MAX_LINE = 4096
CTRL_Z = b"\x1a"
ESC = b"\x1b"  # cancels text entry after AT+CMGS
StreamHandler = Callable[[bytes, list[str]], None]  # (audio bytes, DLE events) from the reader thread


class Port(Protocol):
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes) -> int | None: ...
    def close(self) -> None: ...


class AtError(Exception):
    def __init__(self, command: str, result: str) -> None:
        super().__init__(f"{command}: {result}")
        self.command, self.result = command, result


class AtTimeout(AtError):
    pass


@dataclass
class Response:
    command: str
    lines: list[str] = field(default_factory=list)
    final: str = ""

    @property
    def ok(self) -> bool:
        return self.final in FINAL_OK

    @property
    def refused(self) -> bool:
        """The modem answered and said no (not: it went away, or a call ended)."""
        return self.final in REFUSALS or self.final.startswith(ERROR_PREFIX)

    def value(self, prefix: str) -> str | None:
        """The text after `prefix` on the first info line that has it (e.g. "+CSQ:")."""
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        return None


@dataclass
class _Pending:
    command: str
    info_prefix: str
    response: Response
    done: threading.Event = field(default_factory=threading.Event)
    prompt: threading.Event = field(default_factory=threading.Event)
    stream: StreamHandler | None = None  # enter stream mode on CONNECT


def info_prefix(command: str) -> str:
    """AT+CSQ -> "+CSQ:", AT^SYSINFO -> "^SYSINFO:": the command's own info lines."""
    m = re.match(r"AT([+^$][A-Z0-9]+)", command.upper())
    return m.group(1) + ":" if m else ""


class AtChannel:
    def __init__(self, port: Port, on_urc: Callable[[str], None], *,
                 is_urc: Callable[[str], bool] = lambda line: False,
                 on_closed: Callable[[str], None] = lambda reason: None,
                 on_stream_end: Callable[[], None] = lambda: None) -> None:
        self.port = port
        self.on_urc = on_urc
        self.is_urc = is_urc
        self.on_closed = on_closed
        self.on_stream_end = on_stream_end  # the modem ended the stream without being asked
        self.stats: Counter[str] = Counter()
        self.last_rx = time.monotonic()
        self._lock = threading.Lock()  # one command at a time
        self._write_lock = threading.Lock()  # audio, DLE codes and commands never interleave
        self._pending: _Pending | None = None
        self._stream: StreamHandler | None = None
        self._decoder = DleDecoder()
        self._tx_open = False  # audio may go out (between CONNECT and our DLE ETX)
        self._ending = False  # end_stream() is waiting for the modem's DLE ETX
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="at-reader", daemon=True)

    def start(self) -> "AtChannel":
        self._reader.start()
        return self

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            try:
                self.port.close()
            except Exception:
                pass

    # ---- commands ---------------------------------------------------------------------
    def command(self, command: str, timeout: float = 5.0, payload: bytes | None = None,
                check: bool = True, stream: StreamHandler | None = None) -> Response:
        """Send one command and wait for its final result. With payload (SMS), wait for
        the "> " prompt, then send payload + Ctrl-Z. With stream (AT+VTR), a CONNECT puts
        the port into stream mode, feeding stream(audio, events) until DLE ETX."""
        if any(ord(c) < 32 for c in command):  # a CR inside would make a second command of the rest
            raise AtError(repr(command), "a command is one line without control characters")
        with self._lock:
            if self.closed:
                raise AtError(command, "port closed")
            if self._stream is not None:
                raise AtError(command, "port is streaming audio")
            pending = _Pending(command, info_prefix(command), Response(command), stream=stream)
            self._pending = pending
            try:
                self._write(command.encode("latin-1") + b"\r")
                if payload is not None:
                    if not pending.prompt.wait(timeout):
                        self._write(ESC)  # a late prompt would take every next command as text
                        raise AtTimeout(command, "no > prompt")
                    self._write(payload + CTRL_Z)
                if not pending.done.wait(timeout):
                    self.stats["timeouts"] += 1
                    raise AtTimeout(command, f"no answer in {timeout:.1f} s")
            finally:
                self._pending = None
        if check and not pending.response.ok:
            raise AtError(command, pending.response.final)
        return pending.response

    def write_stream(self, data: bytes) -> None:
        """Already-shielded audio or DLE codes, while the stream is open (dropped after)."""
        with self._write_lock:
            if self._tx_open:
                self._write_port(data)

    def end_stream(self, codes: bytes, timeout: float = 3.0) -> Response:
        """Send the host's end codes (DLE ! DLE ETX) and wait for the modem's DLE ETX + OK.
        If the modem does not answer, the channel falls back to command mode anyway."""
        with self._lock:
            if self._stream is None:
                return Response("<end stream>", final="OK")
            pending = _Pending("<end stream>", "", Response("<end stream>"))
            self._pending, self._ending = pending, True
            try:
                with self._write_lock:
                    self._tx_open = False
                    self._write_port(codes)
                if not pending.done.wait(timeout):
                    self._stream = None
                    raise AtTimeout("<end stream>", f"no DLE ETX / OK in {timeout:.1f} s")
            finally:
                self._pending, self._ending = None, False
        return pending.response

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            self._write_port(data)

    def _write_port(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except Exception as exc:
            self._lost(f"write failed: {exc}")
            raise AtError(data.decode("latin-1").strip(), "port lost") from exc

    # ---- reader -----------------------------------------------------------------------
    def _read_loop(self) -> None:
        buffer = b""
        while not self._closed.is_set():
            try:
                # Whatever is there now, or wait for one byte: a fixed-size read would sit
                # out the port timeout on every short URC (RING is 6 bytes).
                chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0)))
            except Exception as exc:  # unplugged: SerialException / OSError
                self._lost(f"read failed: {exc}")
                return
            if not chunk:
                continue
            self.last_rx = time.monotonic()
            buffer = self._consume(buffer + chunk)

    def _consume(self, buffer: bytes) -> bytes:
        """Lines and stream, switching as CONNECT and DLE ETX come; returns the unfinished line."""
        while True:
            if self._stream is not None:
                buffer = self._feed_stream(buffer)
                if self._stream is not None:
                    return b""
            else:
                buffer = self._take_lines(buffer)
                if self._stream is None:
                    return buffer

    def _feed_stream(self, data: bytes) -> bytes:
        handler = self._stream
        audio, events, rest = self._decoder.split(data)
        self.stats["stream_bytes"] += len(data) - len(rest or b"")
        if rest is not None:  # DLE ETX: command mode again; the rest is text (OK)
            events.remove("end")
            self._stream = None
            self._tx_open = False
        if handler is not None and (audio or events):
            try:
                handler(audio, events)
            except Exception:
                log.exception("stream handler failed")
        if rest is not None and not self._ending:
            try:
                self.on_stream_end()
            except Exception:
                log.exception("stream end handler failed")
        return rest or b""

    def _take_lines(self, buffer: bytes) -> bytes:
        while True:
            if self._stream is not None:
                return buffer  # CONNECT came: what follows is audio
            if buffer.lstrip(b"\r\n") == b"> " and self._pending is not None:
                self._pending.prompt.set()
                return b""
            m = re.search(rb"\r\n|\r|\n", buffer)
            if m is None:
                if len(buffer) > MAX_LINE:
                    self.stats["garbage_dropped"] += 1
                    return b""
                return buffer
            raw, buffer = buffer[:m.start()], buffer[m.end():]
            if raw:
                self._line(raw)

    def _line(self, raw: bytes) -> None:
        if len(raw) > MAX_LINE or sum(b < 32 and b not in (9,) for b in raw) > len(raw) // 4:
            self.stats["garbage_dropped"] += 1
            return
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return
        pending = self._pending
        if pending is not None and text == pending.command:
            return  # echo (before ATE0 took effect)
        if pending is not None and self._is_final(text) and (
                text not in CALL_RESULTS or pending.command.upper().startswith(CALL_COMMANDS)):
            pending.response.final = text
            if text == "CONNECT" and pending.stream is not None:
                self._decoder = DleDecoder()
                self._stream, self._tx_open = pending.stream, True
            self._pending = None  # answered: a later final (the OK after a stream) is not its
            pending.done.set()
        elif pending is not None and pending.info_prefix and text.startswith(pending.info_prefix):
            pending.response.lines.append(text)
        elif self.is_urc(text) or pending is None or text in CALL_RESULTS:
            self.stats["urcs"] += 1
            try:
                self.on_urc(text)
            except Exception:
                log.exception("URC handler failed on %r", text)
        else:
            pending.response.lines.append(text)

    @staticmethod
    def _is_final(text: str) -> bool:
        return text in FINAL_OK or text in FINAL_ERROR or text.startswith(ERROR_PREFIX)

    def _lost(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.close()
        pending = self._pending
        if pending is not None:
            pending.response.final = "port lost"
            pending.done.set()
        self.on_closed(reason)
